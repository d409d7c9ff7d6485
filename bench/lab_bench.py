#!/usr/bin/env python3
"""Benchmark of the network lab and the onboarding of its gateways (prints figures; asserts nothing).

    .venv/bin/python bench/lab_bench.py [--fleet N] [--no-rebuild] [--no-onboard]

1. lab: cold ``lab.py up`` (after ``down``), idempotent ``up``, ``status``, ``down``, and ``up --fleet N``;
2. the hand-written reference configuration (lab/stowlab/reference.py) pushed over SSH: seconds
   from push to both tunnels ESTABLISHED, both BGP sessions Established and the DX session;
3. ``playbooks/onboard-site.yml`` for the VPN gateway (cgw) and the DX router (cgwdx), each from an
   empty device: first-run and no-change-rerun wall time, tasks run, tasks changed, and (watched on
   the device while the playbook runs) seconds from the push to tunnels up / BGP Established.
Targets: first onboarding < 30 s, rerun < 15 s on this 2-core machine.
Leaves the lab up with empty gateways.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "collections")]

from ansible_collections.stowpath.core.plugins.module_utils.platforms import linux_strongswan as ls  # noqa: E402

from lab.stowlab import reference as ref  # noqa: E402
from lab.stowlab.control import lab, lab_exec, require_root  # noqa: E402

PLAYBOOK = REPO / "playbooks" / "onboard-site.yml"


def timed(fn: Any, *args: Any) -> tuple[float, Any]:
    t0 = time.monotonic()
    out = fn(*args)
    return round(time.monotonic() - t0, 2), out


class Watcher(threading.Thread):
    """Poll a gateway's own state (via its namespaces, not SSH) and timestamp the milestones."""

    def __init__(self, device: str, tunnels: int, neighbors: int) -> None:
        super().__init__(daemon=True)
        self.device, self.tunnels, self.neighbors = device, tunnels, neighbors
        self.t: dict[str, float] = {}
        self.stop = threading.Event()

    def mark(self, name: str) -> None:
        self.t.setdefault(name, time.monotonic())

    def run(self) -> None:
        while not self.stop.is_set():
            if self.tunnels:
                if ls.parse_list_conns(lab_exec(self.device, "swanctl", "--list-conns", "--raw").stdout):
                    self.mark("pushed")
                sas = ls.parse_list_sas(lab_exec(self.device, "swanctl", "--list-sas", "--raw").stdout)
                up = [s for s in sas if s["ike_state"] == "ESTABLISHED"
                      and any(c["state"] == "INSTALLED" for c in s["children"])]
                if len(up) >= self.tunnels:
                    self.mark("tunnels_up")
            try:
                summary = ls.parse_bgp_summary(lab_exec(self.device, "vtysh", "-c",
                                                        "show bgp ipv4 unicast summary json").stdout)
            except ls.ParseError:
                summary = {"neighbors": {}}
            if summary["neighbors"]:
                self.mark("pushed")
            est = [n for n in summary["neighbors"].values() if n["state"] == "Established"]
            if len(est) >= self.neighbors:
                self.mark("bgp_established")
            time.sleep(0.1)

    def delay(self, a: str, b: str) -> float | None:
        """Seconds from milestone ``a`` to ``b`` (None when either was not seen)."""
        return round(self.t[b] - self.t[a], 2) if a in self.t and b in self.t else None

    def since_push(self, name: str) -> float | None:
        return self.delay("pushed", name)


def playbook(host: str) -> dict[str, Any]:
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    t0 = time.monotonic()
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(REPO / "inventories" / "lab"),
                           str(PLAYBOOK), "-l", host], capture_output=True, text=True, env=env, cwd=REPO)
    wall = round(time.monotonic() - t0, 2)
    try:
        data = json.loads(proc.stdout)
        stats = data["stats"].get(host, {})
        tasks = sum(1 for play in data["plays"] for task in play["tasks"]
                    if host in task["hosts"] and not task["hosts"][host].get("skipped"))
    except (ValueError, KeyError):
        stats, tasks = {}, None
    return {"rc": proc.returncode, "wall_s": wall, "tasks": tasks, "changed": stats.get("changed"),
            "failed": stats.get("failures"), "tail": (proc.stdout[-600:] + proc.stderr[-600:]) if proc.returncode else ""}


def bench_lab(rebuild: bool, fleet: int) -> None:
    print("== lab (lab/lab.py)")
    if rebuild:
        t, _ = timed(lab, "down")
        print(f"  down (lab running)          {t:6.2f} s")
        t, _ = timed(lab, "up")
        print(f"  up, cold                    {t:6.2f} s  (lab's own measure: "
              f"{json.loads(lab('status', '--json', check=False).stdout)['up_seconds']} s)")
    t, _ = timed(lab, "up")
    print(f"  up, already healthy         {t:6.2f} s")
    t, _ = timed(lab, "status", "--json")
    print(f"  status                      {t:6.2f} s")
    if fleet:
        t, _ = timed(lab, "up", "--fleet", str(fleet))
        print(f"  up --fleet {fleet:<3} (rebuild)    {t:6.2f} s")
        t, _ = timed(lab, "down")
        print(f"  down (fleet {fleet})             {t:6.2f} s")
        lab("up")


def bench_reference() -> None:
    print("== reference configuration pushed over SSH (lab/stowlab/reference.py)")
    ref.reset("cgw")
    ref.reset("cgwdx")
    time.sleep(1)
    vpn, dx = Watcher("cgw", 2, 2), Watcher("cgwdx", 0, 1)
    vpn.start()
    dx.start()
    t_vpn, _ = timed(ref.onboard_vpn)
    t_dx, _ = timed(ref.onboard_dx)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not ("bgp_established" in vpn.t and "bgp_established" in dx.t):
        time.sleep(0.1)
    vpn.stop.set()
    dx.stop.set()
    print(f"  VPN push (3 files + loads)  {t_vpn:6.2f} s; from push: tunnels up {vpn.since_push('tunnels_up')} s, "
          f"BGP x2 Established {vpn.since_push('bgp_established')} s")
    print(f"  DX push                     {t_dx:6.2f} s; from push: BGP (MD5) Established {dx.since_push('bgp_established')} s")
    ref.reset("cgw")
    ref.reset("cgwdx")


def bench_onboarding() -> None:
    print("== playbooks/onboard-site.yml")
    if not PLAYBOOK.exists():
        print("  skipped: playbooks/onboard-site.yml is not there yet")
        return
    for host, tunnels, neighbors in (("cgw", 2, 2), ("cgwdx", 0, 1)):
        ref.reset(host)
        time.sleep(1)
        w = Watcher(host, tunnels, neighbors)
        w.start()
        first = playbook(host)
        w.stop.set()
        rerun = playbook(host)
        print(f"  {host:<6} first run  {first['wall_s']:6.2f} s  tasks {first['tasks']}, changed {first['changed']}, "
              f"rc {first['rc']}; from push: tunnels up {w.since_push('tunnels_up')} s, "
              f"BGP Established {w.since_push('bgp_established')} s")
        print(f"  {host:<6} rerun      {rerun['wall_s']:6.2f} s  tasks {rerun['tasks']}, changed {rerun['changed']}, "
              f"rc {rerun['rc']}")
        for r in (first, rerun):
            if r["rc"]:
                print("    " + r["tail"].replace("\n", "\n    "))
        ref.reset(host)
    print("  targets: first onboarding < 30 s, rerun < 15 s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fleet", type=int, default=0, help="also time up/down with N fleet gateways")
    ap.add_argument("--no-rebuild", action="store_true", help="keep the running lab (no cold up/down timing)")
    ap.add_argument("--no-onboard", action="store_true", help="skip the onboarding playbook")
    args = ap.parse_args()
    if not require_root("lab_bench"):
        return 1
    bench_lab(not args.no_rebuild, args.fleet)
    bench_reference()
    if not args.no_onboard:
        bench_onboarding()
    return 0


if __name__ == "__main__":
    sys.exit(main())
