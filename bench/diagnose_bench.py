#!/usr/bin/env python3
"""How long diagnose-site.yml takes on one healthy lab site (figures printed, nothing asserted).

    .venv/bin/python bench/diagnose_bench.py [--host cgw] [--runs 3]

Needs the lab up with the facility onboarded (make demo). Prints wall time per run and the time each
diagnose module reported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SITES = {"cgw": "lab-facility", "cgwdx": "lab-facility-dx"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="cgw", choices=sorted(SITES))
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    walls = []
    for i in range(args.runs):
        t0 = time.monotonic()
        res = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), str(REPO / "playbooks" / "diagnose-site.yml"),
                              "-i", str(REPO / "inventories" / "lab"), "-l", args.host],
                             capture_output=True, text=True, env=env, cwd=REPO, check=False)
        wall = time.monotonic() - t0
        walls.append(wall)
        doc = json.loads((REPO / "reports" / SITES[args.host] / "diagnosis.json").read_text())
        print(f"run {i + 1}: {wall:.1f} s wall (rc {res.returncode}), status {doc['status']}, "
              f"module time {doc['seconds']} s")
    print(f"diagnose-site.yml -l {args.host}: median {statistics.median(walls):.1f} s, "
          f"min {min(walls):.1f} s, max {max(walls):.1f} s (target < 20 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
