#!/usr/bin/env python3
"""Drift check of the lab fleet vs a minimal plain-Python baseline (prints figures; asserts nothing).

    .venv/bin/python bench/drift_bench.py [--fleet 30] [--forks 30] [--rounds 3] [--keep-lab] [--no-onboard]
    .venv/bin/python bench/drift_bench.py --fleet 99 --rounds 1     # the largest fleet the lab can build

The lab builds at most 99 fleet gateways (``lab.py up --fleet N``, N <= 99): a larger ``--fleet`` (100)
is measured with 99 and the output says so. A fleet that the free memory cannot hold (estimated from
``--mem-per-gateway``) is skipped with a line that says why.

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
   * the same-reads baseline: the same thread pool running the drift check's own one-round-trip script
     (``drift.linux.collect_script``: also the runtime state it checks - ``swanctl --raw`` listings, FRR's
     BGP JSON - and the intended nft table listed in a scratch netns), i.e. every read of the check;
3. prints median / min of both, the ratio next to the target (<= 1.5x the baseline measured in the same
   run), the cost per gateway of each, and the memory the fleet took.

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


def fleet_hosts() -> dict[str, str]:
    """inventory_hostname -> address of every fleet gateway."""
    inv = json.loads("".join(ln for ln in FLEET_INV.read_text().splitlines(keepends=True) if not ln.startswith("#")))
    return {name: h["ansible_host"] for name, h in inv["all"]["children"]["lab_fleet"]["hosts"].items()}


def same_reads(names: dict[str, str]) -> dict[str, tuple[str, str]]:
    """address -> (command, stdin): the exact one-round-trip script the drift check runs on each gateway
    (from its rendered site in build/<host>/), for the second baseline."""
    sys.path.insert(0, str(REPO / "collections"))
    from ansible_collections.stowpath.core.plugins.module_utils import linux_gateway as lg
    from ansible_collections.stowpath.core.plugins.module_utils.drift import linux

    out = {}
    for name, addr in names.items():
        build = REPO / "build" / name
        site = json.loads((build / "site.json").read_text())
        plan = linux.sections(lg.DEFAULT_PATHS, "/var/lib/stowpath", linux.bgp_neighbors(site))
        out[addr] = (linux.remote_command("@@bench", plan), (build / "nftables.conf").read_text())
    return out


def baseline(hosts: list[str], workers: int, control_dir: str,
             scripts: dict[str, tuple[str, str]] | None = None) -> tuple[float, int]:
    """Fetch the state over the same transport in a thread pool; returns (seconds, bytes). Without
    ``scripts``: the backup texts only (FETCH); with them: every read of the drift check (its own script)."""
    ssh = ["ssh", "-i", KEY, "-o", "ControlMaster=auto", "-o", "ControlPersist=60s", "-o",
           f"ControlPath={control_dir}/%C", "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
           "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]

    def one(host: str) -> int:
        cmd, stdin = scripts[host] if scripts else (FETCH, "")
        res = run([*ssh, f"root@{host}", cmd], timeout=60, input=stdin)
        if res.returncode != 0:
            raise RuntimeError(f"{host}: {res.stderr.strip()[:200]}")
        return len(res.stdout)

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        total = sum(pool.map(one, hosts))
    return time.monotonic() - t0, total


LAB_MAX_FLEET = 99


def mem_available_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fleet", type=int, default=30)
    ap.add_argument("--mem-per-gateway", type=int, default=80,
                    help="MB one fleet gateway needs with its cloud side (measured ~50-60 MB); used to skip a fleet "
                         "the free memory cannot hold")
    ap.add_argument("--forks", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keep-lab", action="store_true", help="leave the fleet up (default: restore the fleet size)")
    ap.add_argument("--no-onboard", action="store_true", help="the fleet is already onboarded")
    args = ap.parse_args()
    if not require_root("drift_bench"):
        return 2
    before = current_fleet()
    wanted = args.fleet
    if args.fleet > LAB_MAX_FLEET:
        print(f"drift_bench: {args.fleet} gateways cannot be built (the lab hosts at most {LAB_MAX_FLEET}: "
              f"lab.py up --fleet N, N <= {LAB_MAX_FLEET}); measuring {LAB_MAX_FLEET} instead")
        args.fleet = LAB_MAX_FLEET
    free = mem_available_mb()
    need = (args.fleet - (before or 0)) * args.mem_per_gateway
    if need > 0.8 * free:
        print(f"drift_bench: SKIPPED {args.fleet} gateways: they need ~{need} MB "
              f"({args.mem_per_gateway} MB each), {free} MB available")
        return 0
    print(f"drift_bench: {os.cpu_count()} CPUs, fleet {args.fleet}, forks {args.forks}, rounds {args.rounds}, "
          f"{free} MB available")
    try:
        if before != args.fleet:
            t0 = time.monotonic()
            res = lab("up", "--fleet", str(args.fleet), check=False, timeout=900)
            if res.returncode != 0:
                print(res.stdout + res.stderr)
                return 1
            took = free - mem_available_mb()
            print(f"  lab up --fleet {args.fleet}: {time.monotonic() - t0:.1f} s, {took} MB "
                  f"(~{took / max(1, args.fleet - (before or 0)):.0f} MB per gateway)")
        names = fleet_hosts()
        hosts = list(names.values())
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
            scripts = same_reads(names)  # build/<host>/ is rendered by the warm-up run
            drift_t, base_t, same_t = [], [], []
            summary: dict[str, Any] = {}
            for i in range(args.rounds):
                secs, res = playbook("drift-check.yml", args.forks, *out)
                summary = json.loads(Path(tmp, "reports", "drift.json").read_text())["summary"]
                drift_t.append(secs)
                b, nbytes = baseline(hosts, args.forks, control)
                base_t.append(b)
                sr, sbytes = baseline(hosts, args.forks, control, scripts)
                same_t.append(sr)
                print(f"  round {i + 1}: drift-check {secs:.2f} s (rc {res.returncode}, {summary}), "
                      f"baseline {b:.2f} s ({nbytes // 1024} KiB fetched), same-reads baseline {sr:.2f} s "
                      f"({sbytes // 1024} KiB)")
            for host in hosts:  # stop the baseline's SSH masters (ansible's expire after ControlPersist)
                run(["ssh", "-o", f"ControlPath={control}/%C", "-O", "exit", f"root@{host}"], timeout=10)
        d, b, n = statistics.median(drift_t), statistics.median(base_t), len(hosts)
        label = f"{n} gateways" + (f" (the lab's maximum; {wanted} cannot be built)" if wanted != n else "")
        print(f"drift-check of {label}: median {d:.2f} s (min {min(drift_t):.2f} s), {d / n * 1000:.0f} ms per gateway")
        print(f"plain-Python thread-pool baseline (same SSH fetch): median {b:.2f} s (min {min(base_t):.2f} s), "
              f"{b / n * 1000:.0f} ms per gateway")
        print(f"ratio drift-check / baseline: {d / b:.2f}x median, {min(drift_t) / min(base_t):.2f}x min "
              f"(target <= 1.5x: {'met' if d <= 1.5 * b else 'NOT met'})")
        sr = statistics.median(same_t)
        print(f"same-reads baseline (the drift check's own one-round-trip script, runtime state included, over plain "
              f"ssh in a thread pool): median {sr:.2f} s (min {min(same_t):.2f} s), {sr / n * 1000:.0f} ms per gateway; "
              f"ratio {d / sr:.2f}x (target <= 1.5x: {'met' if d <= 1.5 * sr else 'NOT met'})")
        return 0
    finally:
        if not args.keep_lab and before is not None and before != args.fleet:
            lab("up", "--fleet", str(before), check=False, timeout=900)
            print(f"  lab restored to fleet={before}")


if __name__ == "__main__":
    sys.exit(main())
