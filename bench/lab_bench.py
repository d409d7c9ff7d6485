#!/usr/bin/env python3
"""Benchmark of the network lab and of the hand-written reference configuration (prints figures; asserts nothing).

    .venv/bin/python bench/lab_bench.py [--fleet N] [--no-rebuild]

1. lab: ``lab.py down`` of the running lab and a cold ``up`` (not with ``--no-rebuild``), idempotent ``up``,
   ``status``, and with ``--fleet N`` ``up --fleet N`` and its ``down``;
2. the hand-written reference configuration (lab/stowlab/reference.py) pushed over SSH to both gateways:
   seconds of each push, and (watched on the device while it loads) seconds from the push to both tunnels
   ESTABLISHED, both BGP sessions Established and the DX session Established: the floor that stowpath's
   own onboarding is compared with.
The onboarding playbook's figures are bench/onboard_bench.py's (it imports ``Watcher`` from here).
Needs root and the lab; run it inside the lab lock. Leaves the lab up with empty gateways.
"""

from __future__ import annotations

import argparse
import json
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

REFERENCE_WAIT_S = 90  # how long the reference configuration's milestones are waited for


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


def seen(seconds: float | None) -> str:
    """A milestone delay as printed (None: not seen while the benchmark waited)."""
    return f"{seconds} s" if seconds is not None else f"not seen within {REFERENCE_WAIT_S} s"


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
    deadline = time.monotonic() + REFERENCE_WAIT_S
    while time.monotonic() < deadline and not ("bgp_established" in vpn.t and "bgp_established" in dx.t):
        time.sleep(0.1)
    vpn.stop.set()
    dx.stop.set()
    print(f"  VPN push (3 files + loads)  {t_vpn:6.2f} s; from push: tunnels up {seen(vpn.since_push('tunnels_up'))}, "
          f"BGP x2 Established {seen(vpn.since_push('bgp_established'))}")
    print(f"  DX push (2 files + loads)   {t_dx:6.2f} s; from push: BGP (MD5) Established "
          f"{seen(dx.since_push('bgp_established'))}")
    ref.reset("cgw")
    ref.reset("cgwdx")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fleet", type=int, default=0, help="also time up/down with N fleet gateways")
    ap.add_argument("--no-rebuild", action="store_true", help="keep the running lab (no cold up/down timing)")
    args = ap.parse_args()
    if not require_root("lab_bench"):
        return 1
    bench_lab(not args.no_rebuild, args.fleet)
    bench_reference()
    return 0


if __name__ == "__main__":
    sys.exit(main())
