#!/usr/bin/env python3
"""Onboarding speed: prints figures next to their targets and the earlier figures; asserts nothing.

    .venv/bin/python bench/onboard_bench.py [--cold] [--hosts cgw,cgwdx] [--runs 1]

For each gateway (``cgw``: two IPsec tunnels + BGP and the imaging half; ``cgwdx``: Direct Connect + BGP
with MD5): reset it to the empty device the lab built (``--cold``: ``lab.py down`` + ``up`` once first),
run ``playbooks/onboard-site.yml -l HOST`` (first run), then again (no-change rerun), and print

* wall time, tasks run (not skipped), changed;
* where the time goes: seconds per role (task durations from the ``ansible.posix.json`` callback, grouped by
  the role the task file belongs to; ``playbook`` is the play's own tasks and include overhead);
* watched on the device itself (its namespaces, polled every ~50 ms): tunnels up and BGP Established after
  the push, and the delay tunnel-up -> BGP Established (cgwdx: VIF has no tunnel, push -> Established).

Needs root and the lab; run inside the lab lock. Leaves both gateways onboarded (a healthy lab).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "collections")]

from lab_bench import Watcher  # noqa: E402  (bench/ is the script's directory)

from lab.stowlab import reference as ref  # noqa: E402
from lab.stowlab.control import lab, require_root  # noqa: E402

PLAYBOOK = REPO / "playbooks" / "onboard-site.yml"
# the targets, and the figures measured before the onboarding was folded into fewer tasks (lab just built)
TARGETS = {"cgw": {"first": 10.0, "rerun": 6.0}, "cgwdx": {"first": 8.0, "rerun": 4.0}}
BEFORE = {"cgw": {"first": 22.4, "rerun": 15.9, "tasks_first": 52}, "cgwdx": {}}
BGP_TARGET_S, BGP_BEFORE_S = 1.5, 4.0


def role_of(path: str) -> str:
    m = re.search(r"/roles/([^/]+)/", path or "")
    return m.group(1) if m else "playbook"


def summarise(data: dict[str, Any], host: str) -> dict[str, Any]:
    """Tasks run, changed, and seconds per role from the ansible.posix.json callback's output."""
    roles: dict[str, float] = defaultdict(float)
    tasks = 0
    for play in data.get("plays", []):
        for task in play.get("tasks", []):
            res = task.get("hosts", {}).get(host)
            if res is None or res.get("skipped"):
                continue
            tasks += 1
            dur = task["task"].get("duration", {})
            if dur.get("start") and dur.get("end"):
                roles[role_of(task["task"].get("path", ""))] += _seconds(dur["end"]) - _seconds(dur["start"])
    stats = data.get("stats", {}).get(host, {})
    return {"tasks": tasks, "changed": stats.get("changed"), "failed": stats.get("failures"),
            "roles": dict(sorted(roles.items(), key=lambda kv: -kv[1]))}


def _seconds(stamp: str) -> float:
    # "2026-11-28T12:00:00.123456Z"
    from datetime import datetime
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def playbook(host: str) -> dict[str, Any]:
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    t0 = time.monotonic()
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(REPO / "inventories" / "lab"),
                           str(PLAYBOOK), "-l", host], capture_output=True, text=True, env=env, cwd=REPO)
    out: dict[str, Any] = {"rc": proc.returncode, "wall_s": round(time.monotonic() - t0, 2)}
    try:
        out.update(summarise(json.loads(proc.stdout), host))
    except ValueError:
        out.update({"tasks": None, "changed": None, "roles": {}})
    out["tail"] = (proc.stdout[-800:] + proc.stderr[-800:]) if proc.returncode else ""
    return out


def fmt(value: float | None, target: float | None, before: float | None) -> str:
    v = "n/a" if value is None else f"{value:6.2f} s"
    parts = [v]
    if target is not None:
        parts.append(f"target <= {target:g} s{'' if value is None else (' OK' if value <= target else ' MISSED')}")
    if before is not None:
        parts.append(f"before {before:g} s")
    return "  (".join(parts[:1] + ["; ".join(parts[1:])]) + (")" if len(parts) > 1 else "")


def bench_host(host: str, tunnels: int, neighbors: int) -> None:
    ref.reset(host)
    time.sleep(1)
    w = Watcher(host, tunnels, neighbors)
    w.start()
    first = playbook(host)
    w.stop.set()
    rerun = playbook(host)
    tgt, bef = TARGETS[host], BEFORE[host]
    for label, r in (("first run", first), ("rerun", rerun)):
        key = "first" if label == "first run" else "rerun"
        print(f"  {host:<6} {label:<10} {fmt(r['wall_s'], tgt[key], bef.get(key))}  tasks {r['tasks']}, "
              f"changed {r['changed']}, rc {r['rc']}")
        roles = ", ".join(f"{k} {v:.2f}" for k, v in r["roles"].items() if v >= 0.05)
        print(f"         per role (s): {roles}")
        if r["rc"]:
            print("    " + r["tail"].replace("\n", "\n    "))
    start = "tunnels_up" if tunnels else "pushed"
    print(f"  {host:<6} push -> tunnels up {w.delay('pushed', 'tunnels_up') if tunnels else 'n/a (no tunnel)'} s; "
          f"{'tunnels up' if tunnels else 'push'} -> BGP Established "
          f"{fmt(w.delay(start, 'bgp_established'), BGP_TARGET_S, BGP_BEFORE_S if host == 'cgw' else None)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cold", action="store_true", help="lab.py down + up before the first host (a freshly built lab)")
    ap.add_argument("--hosts", default="cgw,cgwdx", help="comma-separated: cgw, cgwdx")
    ap.add_argument("--runs", type=int, default=1, help="repeat the whole measurement")
    args = ap.parse_args()
    if not require_root("onboard_bench"):
        return 1
    if args.cold:
        lab("down")
        lab("up")
    print("== onboarding speed (playbooks/onboard-site.yml, bench/onboard_bench.py)")
    shape = {"cgw": (2, 2), "cgwdx": (0, 1)}
    for _ in range(args.runs):
        for host in [h for h in args.hosts.split(",") if h]:
            bench_host(host, *shape[host])
    return 0


if __name__ == "__main__":
    sys.exit(main())
