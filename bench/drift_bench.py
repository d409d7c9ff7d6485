#!/usr/bin/env python3
"""Drift check of the lab fleet vs a minimal plain-Python baseline (prints figures; asserts nothing).

    .venv/bin/python bench/drift_bench.py [--fleet 30] [--forks 30] [--rounds 3] [--keep-lab] [--no-onboard]

1. ``lab/lab.py up --fleet N`` (N facility gateways ``fgw-NN``, each its own namespaces with sshd, charon,
   FRR, nftables; inventory ``inventories/lab/files/fleet.yml``), then ``onboard-site.yml`` for the fleet
   (verification off: the fleet has no LAN host) so every gateway is in sync;
2. per round, alternately:
   * ``playbooks/drift-check.yml`` for the fleet (render, back up + compare on each gateway, runtime
     checks, backups, fleet report), wall time of the whole ansible-playbook run;
   * the baseline: a ``ThreadPoolExecutor`` (same width as ``--forks``) that opens the same transport
     (OpenSSH, same options as ansible.cfg: ControlMaster/ControlPersist) to every gateway and fetches
     the same state the drift check reads (``swanctl --list-conns`` / ``--list-sas``, ``vtysh show
     running-config``, ``nft list ruleset``, the owned files), nothing else;
3. prints median / min of both, the ratio, and the targets (30 gateways < 30 s, <= 1.5x baseline).

The lab's previous fleet size is restored at the end (``--keep-lab`` leaves the fleet up).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from lab.stowlab.control import lab, require_root  # noqa: E402
from lab.stowlab.state import load_state  # noqa: E402
from lab.stowlab.topology import FILES, SSH_KEY  # noqa: E402

PLAYBOOK_BIN = str(REPO / ".venv" / "bin" / "ansible-playbook")
FLEET_INV = FILES / "fleet.yml"
KEY = str(SSH_KEY)
FETCH = ("swanctl --list-conns; swanctl --list-sas; vtysh -c 'show running-config'; nft list ruleset; "
         "cat /etc/swanctl/conf.d/stowpath.conf /etc/frr/frr.conf /etc/nftables.d/stowpath.nft /etc/nftables.conf")


def run(cmd: list[str], timeout: float = 900, **kw: Any) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def current_fleet() -> int | None:
    state = load_state()
    return None if state is None else int(state.get("fleet", 0))


def playbook(name: str, forks: int, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    t0 = time.monotonic()
    res = run([PLAYBOOK_BIN, str(REPO / "playbooks" / name), "-i", str(FLEET_INV), "-f", str(forks), *args],
              cwd=REPO, env=env)
    return time.monotonic() - t0, res


def fleet_hosts() -> list[str]:
    inv = json.loads("".join(ln for ln in FLEET_INV.read_text().splitlines(keepends=True) if not ln.startswith("#")))
    return [h["ansible_host"] for h in inv["all"]["children"]["lab_fleet"]["hosts"].values()]


def baseline(hosts: list[str], workers: int, control_dir: str) -> tuple[float, int]:
    """Fetch the same state over the same transport in a thread pool; returns (seconds, bytes)."""
    ssh = ["ssh", "-i", KEY, "-o", "ControlMaster=auto", "-o", "ControlPersist=60s", "-o",
           f"ControlPath={control_dir}/%C", "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
           "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]

    def one(host: str) -> int:
        res = run([*ssh, f"root@{host}", FETCH], timeout=60)
        if res.returncode != 0:
            raise RuntimeError(f"{host}: {res.stderr.strip()[:200]}")
        return len(res.stdout)

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        total = sum(pool.map(one, hosts))
    return time.monotonic() - t0, total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fleet", type=int, default=30)
    ap.add_argument("--forks", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keep-lab", action="store_true", help="leave the fleet up (default: restore the fleet size)")
    ap.add_argument("--no-onboard", action="store_true", help="the fleet is already onboarded")
    args = ap.parse_args()
    if not require_root("drift_bench"):
        return 2
    before = current_fleet()
    print(f"drift_bench: {os.cpu_count()} CPUs, fleet {args.fleet}, forks {args.forks}, rounds {args.rounds}")
    try:
        if before != args.fleet:
            t0 = time.monotonic()
            res = lab("up", "--fleet", str(args.fleet), check=False, timeout=900)
            if res.returncode != 0:
                print(res.stdout + res.stderr)
                return 1
            print(f"  lab up --fleet {args.fleet}: {time.monotonic() - t0:.1f} s")
        hosts = fleet_hosts()
        if not args.no_onboard:
            secs, res = playbook("onboard-site.yml", args.forks, "-e", "verify_network_enabled=false")
            print(f"  onboard {len(hosts)} gateways (verification off): {secs:.1f} s, rc {res.returncode}")
            if res.returncode != 0:
                print(res.stdout[-3000:])
                return 1
        with tempfile.TemporaryDirectory(prefix="drift-bench-") as tmp:
            out = ["-e", f"drift_check_backup_root={tmp}/backups", "-e", f"drift_check_report_dir={tmp}/reports"]
            control = os.path.join(tmp, "cp")
            os.makedirs(control)
            baseline(hosts, args.forks, control)  # warm-up: both sides start with persistent SSH masters
            playbook("drift-check.yml", args.forks, *out)
            drift_t, base_t = [], []
            summary: dict[str, Any] = {}
            for i in range(args.rounds):
                secs, res = playbook("drift-check.yml", args.forks, *out)
                summary = json.loads(Path(tmp, "reports", "drift.json").read_text())["summary"]
                drift_t.append(secs)
                b, nbytes = baseline(hosts, args.forks, control)
                base_t.append(b)
                print(f"  round {i + 1}: drift-check {secs:.2f} s (rc {res.returncode}, {summary}), "
                      f"baseline {b:.2f} s ({nbytes // 1024} KiB fetched)")
            for host in hosts:  # stop the baseline's SSH masters (ansible's expire after ControlPersist)
                run(["ssh", "-o", f"ControlPath={control}/%C", "-O", "exit", f"root@{host}"], timeout=10)
        d, b = statistics.median(drift_t), statistics.median(base_t)
        print(f"drift-check of {len(hosts)} gateways: median {d:.2f} s (min {min(drift_t):.2f} s)")
        print(f"plain-Python thread-pool baseline (same SSH fetch): median {b:.2f} s (min {min(base_t):.2f} s)")
        print(f"ratio drift-check / baseline: {d / b:.1f}x  (targets: < 30 s -> {'met' if d < 30 else 'NOT met'}; "
              f"<= 1.5x baseline -> {'met' if d <= 1.5 * b else 'NOT met'})")
        return 0
    finally:
        if not args.keep_lab and before is not None and before != args.fleet:
            lab("up", "--fleet", str(before), check=False, timeout=900)
            print(f"  lab restored to fleet={before}")


if __name__ == "__main__":
    sys.exit(main())
