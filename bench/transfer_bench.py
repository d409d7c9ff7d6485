#!/usr/bin/env python3
"""Automatic transfers in the lab: delay from C-STORE (modality -> on-prem PACS, dcmtk storescu) until the
study is visible by QIDO-RS on the cloud, for 1 and for 50 studies (prints figures, asserts nothing).

    .venv/bin/python bench/transfer_bench.py [--counts 1,50] [--instances 1]

Needs the lab up, the lab facility onboarded and the PACS's auto-routing on (`pacs_autoroute: true`).
The QIDO-RS side runs on the lab's monitoring host ``mon`` (facility LAN, through the VPN, with the facility's
client certificate), like the cloud check of a real site. Studies are synthetic (STOWPATH^TEST^SYNTHETIC).
"""

from __future__ import annotations

import argparse
import json
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
        out, _ = proc.communicate(timeout=timeout + 30)
    seen = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    delays = sorted(r["seen"] - t0 for r in seen if "seen" in r)
    return {"studies": count, "instances_per_study": instances, "arrived": len(delays),
            "cstore_s": round(t_stored - t0, 2),
            "first_s": round(delays[0], 2) if delays else None, "median_s": round(statistics.median(delays), 2) if delays else None,
            "last_s": round(delays[-1], 2) if delays else None,
            "exactly_once": all(r.get("matches") == 1 and r.get("instances") in (instances, str(instances)) for r in seen)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--counts", default="1,50")
    p.add_argument("--instances", type=int, default=1)
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--watch", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.watch:
        return watcher(a.watch.split(","), a.timeout)
    print("C-STORE (modality -> PACS) until QIDO-RS lists the study on the cloud (auto-routing; StableAge 2 s)")
    for n in (int(x) for x in a.counts.split(",")):
        r = run(n, a.instances, a.timeout)
        print(f"  {n:>3} stud{'y' if n == 1 else 'ies'} x {a.instances} instance(s): C-STORE {r['cstore_s']} s; on the "
              f"cloud: first {r['first_s']} s, median {r['median_s']} s, last {r['last_s']} s "
              f"({r['arrived']}/{n} arrived, exactly once: {r['exactly_once']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
