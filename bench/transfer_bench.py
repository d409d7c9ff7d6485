#!/usr/bin/env python3
"""Automatic transfers in the lab: delay from C-STORE (modality -> on-prem PACS, dcmtk storescu) until the
study is visible by QIDO-RS on the cloud, for 1 and for 50 studies (prints figures, asserts nothing).

    .venv/bin/python bench/transfer_bench.py [--counts 1,50] [--instances 1] [--no-setup]

Needs root and the lab up (`make lab-up`); run it inside the lab lock. What the measurement runs through is
set up first when it is missing (a freshly built lab), and the output says what was run before the figures:

* the lab facility onboarded (cgw's tunnels and BGP sessions Established as the lab's cloud sees them, the
  PACS's auto-router running, `pacs_autoroute: true`): otherwise ``playbooks/onboard-site.yml -i inventories/lab
  -l cgw``;
* the monitoring running on ``mon`` (its stowpath exporter and Prometheus, and the facility's client certificate
  the exporter uses): otherwise ``playbooks/monitor-site.yml -i inventories/lab -l cgw,mon`` (cgw is the
  monitored gateway that makes ``mon`` its monitoring host; cgwdx is left out).

``--no-setup`` stops with the command to run instead. The QIDO-RS side runs on the lab's monitoring host
``mon`` (facility LAN, through the VPN, with the facility's client certificate that monitor-site.yml installs
there), like the cloud check of a real site. Studies are synthetic (STOWPATH^TEST^SYNTHETIC).
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
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "collections"))
sys.path.insert(0, str(REPO / "lab"))

PACS_AE, PACS_IP, PACS_PORT = "STOWPATHPACS", "203.0.113.10", 4242
MON_TLS = "/etc/stowpath-monitor/tls/lab-facility"
URL = "https://dicom.lab.example/dicomweb/studies"
# where the lab's stowpath services keep their PID files (monitor_service / pacs_service, manager "process")
RUN_DIR = "/run/stowpath-monitor"
GATEWAY, PACS_HOST, MON_HOST = "cgw", "pacs", "mon"
MON_SERVICES = ("stowpath-exporter", "stowpath-prometheus")
ONBOARD = ("playbooks/onboard-site.yml", GATEWAY)
MONITOR = ("playbooks/monitor-site.yml", f"{GATEWAY},{MON_HOST}")


def in_device(device: str, *cmd: str) -> subprocess.CompletedProcess[str]:
    """``cmd`` inside a lab device (its network and mount namespaces), output captured, never raising."""
    from stowlab.netns import exec_prefix

    return subprocess.run([*exec_prefix(device), *cmd], capture_output=True, text=True, check=False, timeout=30)


def service_running(device: str, name: str) -> bool:
    """A stowpath service run by start-stop-daemon (the lab's devices have no systemd) is alive."""
    return in_device(device, "start-stop-daemon", "--status", "--pidfile", f"{RUN_DIR}/{name}.pid").returncode == 0


def facility_missing() -> list[str]:
    """What the onboarding of the lab facility would provide and is not there (empty: onboarded).

    The gateway is judged as the lab's cloud sees it (``lab.py status --json``): its tunnels and every BGP
    session of it Established."""
    from stowlab.control import lab_status

    try:
        status = lab_status()
    except ValueError:
        status = {}
    if not status.get("healthy"):
        raise SystemExit("the lab is not healthy (lab/lab.py status): run make lab-up (inside the lab lock)")
    cloud = status.get("cloud") or {}
    tunnels = {name: state for name, state in (cloud.get("ike") or {}).items() if name.startswith(f"{GATEWAY}-")}
    sessions = [n for n in (cloud.get("bgp") or {}).values() if str(n.get("desc", "")).startswith(f"{GATEWAY}-")]
    up = [name for name, state in tunnels.items() if "ESTABLISHED" in state and "+child" in state]
    est = [n for n in sessions if n.get("state") == "Established"]
    missing = []
    if not up:
        missing.append(f"{GATEWAY}: no tunnel up")
    if not est or len(est) < len(sessions):
        missing.append(f"{GATEWAY}: {len(est)}/{len(sessions)} BGP sessions Established")
    if not service_running(PACS_HOST, "stowpath-autoroute"):
        missing.append(f"{PACS_HOST}: the auto-router is not running")
    return missing


def monitoring_missing() -> list[str]:
    """What monitor-site.yml would provide on ``mon`` for this bench and is not there (empty: running)."""
    missing = [f"{MON_HOST}: {name} is not running" for name in MON_SERVICES if not service_running(MON_HOST, name)]
    files = [f"{MON_TLS}/{f}" for f in ("ca-bundle.pem", "client.crt", "client.key")]
    if in_device(MON_HOST, "test", "-s", files[0], "-a", "-s", files[1], "-a", "-s", files[2]).returncode:
        missing.append(f"{MON_HOST}: no client certificate of the facility in {MON_TLS}")
    return missing


def playbook(path: str, limit: str) -> tuple[int, float, str]:
    """``ansible-playbook PATH -i inventories/lab -l LIMIT``: rc, seconds, the output's tail."""
    t0 = time.monotonic()
    proc = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), path, "-i", "inventories/lab", "-l", limit],
                          cwd=REPO, capture_output=True, text=True, check=False,
                          env=dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg")))
    return proc.returncode, time.monotonic() - t0, (proc.stdout[-3000:] + proc.stderr[-1000:])


def set_up(allowed: bool) -> list[str]:
    """Onboard the lab facility and start its monitoring when missing; returns what was done (printed).

    Exits (SystemExit) when something is missing and ``allowed`` is false, or a playbook did not provide it."""
    done = []
    for (path, limit), check in ((ONBOARD, facility_missing), (MONITOR, monitoring_missing)):
        missing = check()
        if not missing:
            continue
        command = f"ansible-playbook {path} -i inventories/lab -l {limit}"
        if not allowed:
            raise SystemExit(f"{'; '.join(missing)}: run {command} (inside the lab lock) or drop --no-setup")
        rc, seconds, tail = playbook(path, limit)
        still = check()
        if rc or still:
            raise SystemExit(f"{command} -> rc {rc}; still missing: {'; '.join(still) or 'nothing'}\n{tail}")
        done.append(f"ran {command} ({seconds:.0f} s): {'; '.join(missing)}")
    return done or ["reused the lab as it was (facility onboarded, monitoring running)"]


def make_studies(directory: Path, count: int, instances: int) -> list[dict[str, Any]]:
    from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.synth import make_study

    out = []
    for i in range(count):
        s = make_study(instances=instances, rows=32, columns=32)
        files = []
        for j, data in enumerate(s.instances):
            f = directory / f"s{i:03d}-{j:03d}.dcm"
            f.write_bytes(data)
            files.append(str(f))
        out.append({"study_uid": s.study_uid, "files": files, "instances": instances})
    return out


def cstore(files: list[str]) -> None:
    """One association from the lab modality (its own namespace on the facility LAN) to the PACS."""
    subprocess.run(["ip", "netns", "exec", "sp-modality", "storescu", "-aet", "MODALITY", "-aec", PACS_AE,
                    PACS_IP, str(PACS_PORT), *files], check=True, capture_output=True, timeout=600)


def watch(uids: list[str], timeout: float) -> subprocess.Popen[str]:
    """Start the QIDO-RS watcher inside ``mon``: it prints ``{"uid", "seen", "instances"}`` per study found."""
    from stowlab.netns import exec_prefix

    return subprocess.Popen([*exec_prefix("mon"), str(REPO / ".venv" / "bin" / "python"), __file__, "--watch",
                             ",".join(uids), "--timeout", str(timeout)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def watcher(uids: list[str], timeout: float) -> int:
    from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.client import Client, ProbeError
    from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.qido import TAG_NUM_INSTANCES, parse_qido
    from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.target import Target, tls_context

    target = Target(url=URL, ca_bundle=f"{MON_TLS}/ca-bundle.pem", client_cert=f"{MON_TLS}/client.crt",
                    client_key=f"{MON_TLS}/client.key", timeout=10)
    ctx, fail = tls_context(target)
    if fail is not None:
        print(json.dumps({"error": fail.cause}), flush=True)
        return 1
    pending = set(uids)
    deadline = time.time() + timeout
    with Client(target.endpoint, ctx, timeout=10) as client:
        while pending and time.time() < deadline:
            for uid in sorted(pending):
                try:
                    resp = client.request("GET", client.endpoint.target({"StudyInstanceUID": uid,
                                                                           "includefield": TAG_NUM_INSTANCES}),
                                          {"Accept": "application/dicom+json"})
                    items = parse_qido(resp.body) if resp.status == 200 else []
                except (ProbeError, ValueError):
                    items = []
                if items:
                    n = ((items[0].get(TAG_NUM_INSTANCES) or {}).get("Value") or [None])[0]
                    print(json.dumps({"uid": uid, "seen": time.time(), "matches": len(items), "instances": n}), flush=True)
                    pending.discard(uid)
            time.sleep(0.2)
    return 0


def run(count: int, instances: int, timeout: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="stowpath-bench-") as tmp:
        studies = make_studies(Path(tmp), count, instances)
        proc = watch([s["study_uid"] for s in studies], timeout)
        time.sleep(1.0)  # the watcher's TLS session is up
        t0 = time.time()
        cstore([f for s in studies for f in s["files"]])
        t_stored = time.time()
        out, err = proc.communicate(timeout=timeout + 30)
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    seen = [r for r in lines if "seen" in r]
    errors = [r["error"] for r in lines if "error" in r] + ([err.strip()[-500:]] if proc.returncode and err.strip() else [])
    delays = sorted(r["seen"] - t0 for r in seen)
    return {"studies": count, "instances_per_study": instances, "arrived": len(delays),
            "cstore_s": round(t_stored - t0, 2),
            "first_s": round(delays[0], 2) if delays else None, "median_s": round(statistics.median(delays), 2) if delays else None,
            "last_s": round(delays[-1], 2) if delays else None,
            # judged on the studies that arrived (None: none did)
            "exactly_once": all(r.get("matches") == 1 and r.get("instances") in (instances, str(instances)) for r in seen)
            if seen else None,
            "watcher_error": "; ".join(errors)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--counts", default="1,50")
    p.add_argument("--instances", type=int, default=1)
    p.add_argument("--timeout", type=float, default=300, help="seconds to wait for the studies on the cloud")
    p.add_argument("--no-setup", action="store_true",
                   help="fail instead of onboarding the lab facility / deploying its monitoring when missing")
    p.add_argument("--watch", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.watch:
        return watcher(a.watch.split(","), a.timeout)
    from stowlab.control import require_root

    if not require_root("transfer_bench"):
        return 1
    for line in set_up(not a.no_setup):
        print(f"setup: {line}", flush=True)
    print("C-STORE (modality -> PACS) until QIDO-RS lists the study on the cloud (auto-routing; StableAge 2 s)")
    for n in (int(x) for x in a.counts.split(",")):
        r = run(n, a.instances, a.timeout)
        print(f"  {n:>3} stud{'y' if n == 1 else 'ies'} x {a.instances} instance(s): C-STORE {r['cstore_s']} s; on the "
              f"cloud: first {r['first_s']} s, median {r['median_s']} s, last {r['last_s']} s "
              f"({r['arrived']}/{n} arrived within {a.timeout:g} s, exactly once: {r['exactly_once']})")
        if r["watcher_error"]:
            print(f"    the QIDO-RS watcher on {MON_HOST} failed: {r['watcher_error']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
