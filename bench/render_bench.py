#!/usr/bin/env python3
"""Render throughput: 1,000 generated facilities per platform through playbooks/render-site.yml.

    .venv/bin/python bench/render_bench.py [--sites 1000] [--platforms linux_strongswan,cisco_iosxe,junos] [--mixed]

Generates an inventory of N sites per platform (each its own site name and LAN, the example AWS VPN file) and
runs ``render-site.yml`` over it, one run per platform (N sites each), into a fresh build directory; with
``--mixed`` also one run over the whole mixed fleet (N x platforms sites). For every run it prints wall time,
sites per second, the time a 1,000-site fleet takes at that rate next to the target (under 60 s), and the
split between the playbook's two tasks (the one controller task that validates and renders every site, and
the per-host outcome task), from ``ansible.posix.profile_tasks``. The total adds up the per-platform runs.
The machine's load average is printed too: other work on the 2 cores shows up in these figures.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
PLATFORM_IFACES = {"linux_strongswan": ("eth0", "eth1"), "cisco_iosxe": ("GigabitEthernet1", "GigabitEthernet2"),
                   "junos": ("ge-0/0/0.0", "ge-0/0/1.0")}
TARGET_S = 60.0  # a 1,000-site fleet renders in under a minute on this 2-core machine
TASK_LINE = re.compile(r"^(?P<task>.+?) -+ (?P<secs>\d+\.\d+)s$", re.M)


@dataclass
class Run:
    label: str
    sites: int
    wall: float
    rendered: int
    rc: int
    tasks: dict[str, float] = field(default_factory=dict)
    load: tuple[float, float] | None = None
    tail: str = ""

    @property
    def rate(self) -> float:
        return self.sites / self.wall if self.wall else 0.0


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


def run_render(label: str, sites: int, platforms: list[str], forks: int | None) -> Run:
    """One ``render-site.yml`` run over ``sites`` per platform into a fresh build directory."""
    tmp = Path(tempfile.mkdtemp(prefix="stowpath-render-bench-"))
    try:
        params = tmp / "aws-vpn.xml"
        shutil.copy(REPO / "inventories" / "example" / "params" / "aws-vpn-bgp.xml", params)
        params.chmod(0o600)
        (tmp / "inv").mkdir()
        (tmp / "inv" / "hosts.yml").write_text(yaml.safe_dump(inventory(sites, platforms, params)))
        cmd = [str(REPO / ".venv" / "bin" / "ansible-playbook"), str(REPO / "playbooks" / "render-site.yml"),
               "-i", str(tmp / "inv"), "-e", f"stowpath_build_dir={tmp / 'build'}"]
        if forks:
            cmd += ["--forks", str(forks)]
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
                   ANSIBLE_STDOUT_CALLBACK=os.environ.get("BENCH_CALLBACK", "ansible.builtin.null"),
                   ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks", PROFILE_TASKS_SORT_ORDER="none")
        load0 = os.getloadavg()[0]
        t0 = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, check=False)
        wall = time.monotonic() - t0
        rendered = sum(1 for _ in (tmp / "build").glob("*/site.json")) if (tmp / "build").exists() else 0
        tasks = {m["task"].strip(): float(m["secs"]) for m in TASK_LINE.finditer(proc.stdout)}
        tail = (proc.stdout[-2000:] + proc.stderr[-2000:]) if proc.returncode else ""
        return Run(label, sites * len(platforms), wall, rendered, proc.returncode, tasks,
                   (load0, os.getloadavg()[0]), tail)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def show(run: Run) -> None:
    per_1000 = 1000 / run.rate if run.rate else float("inf")
    verdict = "meets" if per_1000 < TARGET_S and run.rc == 0 and run.rendered == run.sites else "MISSES"
    print(f"{run.label:<18} {run.sites:>5} sites  {run.rendered:>5} rendered  rc {run.rc}  wall {run.wall:6.1f} s  "
          f"{run.rate:5.1f} sites/s  1,000 sites: {per_1000:5.1f} s (target < {TARGET_S:.0f} s: {verdict})"
          + (f"  load {run.load[0]:.1f}->{run.load[1]:.1f}" if run.load else ""))
    rest = run.wall - sum(run.tasks.values())
    for task, secs in [*run.tasks.items(), ("start-up, inventory, recap (the rest of the wall time)", rest)]:
        print(f"{'':<20}{secs:6.1f} s  {secs / run.sites * 1000:5.1f} ms/site  {task}")
    if run.tail:
        sys.stdout.write(run.tail)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sites", type=int, default=1000, help="sites per platform")
    ap.add_argument("--platforms", default="linux_strongswan,cisco_iosxe,junos")
    ap.add_argument("--mixed", action="store_true", help="also one run over the mixed fleet of every platform")
    ap.add_argument("--forks", type=int, default=None)
    args = ap.parse_args()
    platforms = args.platforms.split(",")
    unknown = sorted(set(platforms) - set(PLATFORM_IFACES))
    if unknown:
        ap.error(f"--platforms: unknown {', '.join(unknown)} (choose from {', '.join(PLATFORM_IFACES)})")
    print(f"render-site.yml, {args.sites} generated sites per platform, fresh build directory each run, "
          f"{os.cpu_count()} CPUs; baseline (previous session): 19-25 sites/s, 40-50 s per 1,000 sites")
    runs = []
    for platform in platforms:
        runs.append(run_render(platform, args.sites, [platform], args.forks))
        show(runs[-1])
    wall = sum(r.wall for r in runs)
    total = Run("total", sum(r.sites for r in runs), wall, sum(r.rendered for r in runs), max(r.rc for r in runs))
    for r in runs:
        for task, secs in r.tasks.items():
            total.tasks[task] = total.tasks.get(task, 0.0) + secs
    show(total)
    if args.mixed:
        show(run_render("mixed fleet", args.sites, platforms, args.forks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
