#!/usr/bin/env python3
"""Record the verification fixtures from the live lab (run as root with the lab up):

    .venv/bin/python tests/verify/record_fixtures.py

Pushes the hand-written reference configuration (lab/stowlab/reference.py) in several states
(up, empty, cloud refusing the PSK, wrong DX MD5 key) and stores exactly what the devices print into
tests/verify/fixtures/, with the masked site model each state must be compared with. No secret is
recorded (swanctl/FRR state output carries none; the site is masked; the script asserts it).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path[:0] = [str(REPO / "collections"), str(REPO)]

import yaml  # noqa: E402
from ansible_collections.stowpath.core.plugins.module_utils.site import load_site, masked, site_secrets  # noqa: E402

from lab.stowlab import reference as ref  # noqa: E402

FIX = HERE / "fixtures"
LAB = [sys.executable, str(REPO / "lab" / "lab.py")]


def lab(*args: str) -> str:
    return subprocess.run([*LAB, *args], check=True, capture_output=True, text=True).stdout


def dev(device: str, *cmd: str) -> str:
    """stdout then stderr, as the modules read them (ping prints local errors on stderr)."""
    proc = subprocess.run([*LAB, "exec", device, "--", *cmd], capture_output=True, text=True)
    return proc.stdout + proc.stderr


def site(host: str) -> dict:
    hv = yaml.safe_load((REPO / "inventories" / "lab" / "host_vars" / f"{host}.yml").read_text())
    return load_site(hv, host, str(REPO / "inventories" / "lab"))


SECRETS: list[str] = []


def save(name: str, text: str) -> None:
    for s in SECRETS:
        assert s not in text, f"secret in fixture {name}"
    (FIX / name).write_text(text)
    print(f"  {name} ({len(text)} bytes)")


def bgp_bundle(device: str, neighbors: list[str]) -> dict:
    out = {"summary": dev(device, "vtysh", "-c", "show bgp ipv4 unicast summary json"), "routes": {}, "advertised": {},
           "ip_route": dev(device, "vtysh", "-c", "show ip route json")}
    for n in neighbors:
        out["routes"][n] = dev(device, "vtysh", "-c", f"show bgp ipv4 unicast neighbors {n} routes json")
        out["advertised"][n] = dev(device, "vtysh", "-c", f"show bgp ipv4 unicast neighbors {n} advertised-routes json")
    return out


def main() -> int:
    FIX.mkdir(parents=True, exist_ok=True)
    vpn, dx = site("cgw"), site("cgwdx")
    SECRETS.extend(site_secrets(vpn) + site_secrets(dx))
    save("site_vpn.json", json.dumps(masked(vpn), indent=1))
    save("site_dx.json", json.dumps(masked(dx), indent=1))
    vpn_nbrs = [t["remote_inside"] for t in vpn["tunnels"]]
    dx_nbr = dx["dx"]["remote_address"]

    print("state: empty gateways")
    ref.reset("cgw")
    ref.reset("cgwdx")
    time.sleep(1)
    save("vpn_empty_list_sas.txt", dev("cgw", "swanctl", "--list-sas", "--raw"))
    save("vpn_empty_list_conns.txt", dev("cgw", "swanctl", "--list-conns", "--raw"))
    save("vpn_empty_bgp.json", json.dumps(bgp_bundle("cgw", vpn_nbrs), indent=1))
    save("ping_no_route.txt", dev("pacs", "ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", "203.0.113.140"))
    save("traceroute_no_route.txt", dev("pacs", "traceroute", "-I", "-n", "-q", "1", "-w", "1", "-m", "6",
                                        "203.0.113.140"))

    print("state: both tunnels, BGP and DX up")
    ref.onboard_vpn()
    ref.onboard_dx()
    for _ in range(60):
        status = json.loads(lab("status", "--json"))
        if sum(1 for b in status["cloud"]["bgp"].values() if b["state"] == "Established") >= 3:
            break
        time.sleep(0.5)
    save("vpn_up_list_sas.txt", dev("cgw", "swanctl", "--list-sas", "--raw"))
    save("vpn_up_list_conns.txt", dev("cgw", "swanctl", "--list-conns", "--raw"))
    save("vpn_up_bgp.json", json.dumps(bgp_bundle("cgw", vpn_nbrs), indent=1))
    save("dx_up_bgp.json", json.dumps(bgp_bundle("cgwdx", [dx_nbr]), indent=1))
    save("ping_up.txt", dev("pacs", "ping", "-n", "-c", "3", "-i", "0.2", "-W", "1", "203.0.113.140"))
    save("traceroute_up.txt", dev("pacs", "traceroute", "-I", "-n", "-q", "1", "-w", "1", "-m", "15", "203.0.113.140"))
    save("traceroute_dx_up.txt", dev("cgwdx", "traceroute", "-I", "-n", "-q", "1", "-w", "1", "-m", "15", "-s",
                                     "203.0.113.2", "203.0.113.140"))
    dev("pacs", "ip", "route", "flush", "cache")
    save("ping_frag_needed.txt", dev("pacs", "ping", "-n", "-c", "1", "-W", "1", "-M", "do", "-s", "1472",
                                     "203.0.113.140"))
    save("ping_message_too_long.txt", dev("pacs", "ping", "-n", "-c", "1", "-W", "1", "-M", "do", "-s", "1472",
                                          "203.0.113.140"))

    print("state: the cloud refuses the PSKs; the DX router has another MD5 key")
    lab("cloud-break", "vpn")
    lab("cloud-break", "dx")
    dev("cgw", "swanctl", "--terminate", "--ike", "tun1", "--force")
    dev("cgw", "swanctl", "--terminate", "--ike", "tun2", "--force")
    dev("cgwdx", "vtysh", "-c", f"clear bgp {dx_nbr}")
    dev("cgw", "vtysh", "-c", "clear bgp *")
    time.sleep(3)
    save("vpn_badpsk_list_sas.txt", dev("cgw", "swanctl", "--list-sas", "--raw"))
    save("vpn_badpsk_bgp.json", json.dumps(bgp_bundle("cgw", vpn_nbrs), indent=1))
    save("dx_badkey_bgp.json", json.dumps(bgp_bundle("cgwdx", [dx_nbr]), indent=1))
    save("ping_tunnel_down.txt", dev("pacs", "ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", "203.0.113.140"))
    lab("cloud-repair")
    for t in ("tun1", "tun2"):  # after AUTHENTICATION_FAILED charon does not retry by itself
        dev("cgw", "swanctl", "--initiate", "--child", t, "--timeout", "10")
    print("restored the cloud side; gateways left onboarded with the reference configuration")
    return 0


if __name__ == "__main__":
    sys.exit(main())
