#!/usr/bin/env python3
"""Render throughput: N generated facilities per platform through playbooks/render-site.yml.

    .venv/bin/python bench/render_bench.py [--sites 1000] [--platforms linux_strongswan,cisco_iosxe,junos]

Generates an inventory of N sites per platform (each its own site name and LAN, the example AWS VPN file),
runs ``render-site.yml`` once over all of them and prints wall time, sites per second and the time a
1,000-site fleet takes at that rate. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
PLATFORM_IFACES = {"linux_strongswan": ("eth0", "eth1"), "cisco_iosxe": ("GigabitEthernet1", "GigabitEthernet2"),
                   "junos": ("ge-0/0/0.0", "ge-0/0/1.0")}


def inventory(sites: int, platforms: list[str], params: Path) -> dict:
    hosts = {}
    lans = ipaddress.ip_network("10.0.0.0/9").subnets(new_prefix=24)
    for platform in platforms:
        wan, lan = PLATFORM_IFACES[platform]
        for i in range(sites):
            hosts[f"{platform.split('_')[0]}-{i:04d}"] = {
                "site_name": f"bench-{platform.replace('_', '-')}-{i:04d}"[:40], "gateway_platform": platform,
                "cloud_provider": "aws_vpn", "cloud_params_file": str(params), "wan_interface": wan,
                "wan_address": "198.51.100.24", "lan_interface": lan, "lan_cidrs": [str(next(lans))],
                "dicomweb_url": "https://dicom.vendor.example/dicomweb/studies", "dicomweb_cidrs": ["10.200.0.0/24"]}
    return {"all": {"hosts": hosts}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sites", type=int, default=1000, help="sites per platform")
    ap.add_argument("--platforms", default="linux_strongswan,cisco_iosxe,junos")
    ap.add_argument("--forks", type=int, default=None)
    args = ap.parse_args()
    platforms = args.platforms.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="stowpath-render-bench-"))
    try:
        params = tmp / "aws-vpn.xml"
        shutil.copy(REPO / "inventories" / "example" / "params" / "aws-vpn-bgp.xml", params)
        params.chmod(0o600)
        (tmp / "inv").mkdir()
        (tmp / "inv" / "hosts.yml").write_text(yaml.safe_dump(inventory(args.sites, platforms, params)))
        cmd = [str(REPO / ".venv" / "bin" / "ansible-playbook"), str(REPO / "playbooks" / "render-site.yml"),
               "-i", str(tmp / "inv"), "-e", f"stowpath_build_dir={tmp / 'build'}"]
        if args.forks:
            cmd += ["--forks", str(args.forks)]
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK=os.environ.get("BENCH_CALLBACK", "ansible.builtin.null"))
        t0 = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
        wall = time.monotonic() - t0
        total = args.sites * len(platforms)
        rendered = sum(1 for _ in (tmp / "build").glob("*/site.json")) if (tmp / "build").exists() else 0
        print(f"render-site.yml: {total} sites ({args.sites} x {len(platforms)} platforms), {rendered} rendered, "
              f"rc {proc.returncode}")
        print(f"  wall {wall:.1f} s, {total / wall:.1f} sites/s, a 1,000-site fleet at this rate: {1000 / (total / wall):.1f} s"
              "  (target: under 60 s)")
        if os.environ.get("BENCH_CALLBACK"):
            sys.stdout.write(proc.stdout[-3000:])
        if proc.returncode:
            sys.stdout.write(proc.stdout[-2000:] + proc.stderr[-2000:])
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
