#!/usr/bin/env python3
"""STOW-RS throughput and peak RSS: stowpath's streaming upload next to curl, same files, same run.

Starts the lab cloud service (nginx mTLS + Orthanc + DICOMweb) on loopback with a fresh PKI,
generates a synthetic study (default 200 MB), then alternates uploads of the same files by

- ``probe``: stowpath's STOW-RS upload (``dicomweb.stow.stow``: one multipart/related body
  streamed from disk in fixed-size chunks) in a fresh Python process;
- ``curl``: ``curl -F file=@...`` for every instance with ``Content-Type: multipart/related;
  type="application/dicom"``, mTLS, the same CA bundle;
- ``module``: the whole ``run_stow_probe`` path the Ansible module takes (generate the study with
  pydicom, upload, QIDO-RS), for its peak RSS (its throughput counts the upload only).

The study is deleted from Orthanc before every upload so each one really stores. Peak RSS is the
uploading process's ``ru_maxrss`` from ``wait4``. Prints figures; asserts nothing.

    .venv/bin/python bench/stow_bench.py [--size-mb 200] [--rounds 2] [--chunk-kb 1024]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "collections"))

from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.stow import (  # noqa: E402
    parse_stow_response,
)
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.synth import generate_study  # noqa: E402

from lab.services.cloud_dicomweb import CloudHandle, start_cloud_dicomweb, stop_cloud_dicomweb  # noqa: E402
from lab.services.pki import generate_lab_pki  # noqa: E402

UPLOADER = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.client import Client, Endpoint
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.stow import stow
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.tls import make_context
a = json.loads(sys.argv[2])
ctx = make_context(a["ca"], a["cert"], a["key"])
t0 = time.monotonic()
with Client(Endpoint.parse(a["url"], "127.0.0.1"), ctx, timeout=300) as client:
    res = stow(client, a["files"], a["uids"], "multipart", chunk_size=a["chunk"])[-1]
elapsed = time.monotonic() - t0
print(json.dumps({"ok": res.ok, "status": res.status, "elapsed": elapsed,
                  "referenced": len(set(res.referenced) & set(a["uids"]))}))
"""

MODULE_PATH = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.probes import Target, run_stow_probe
a = json.loads(sys.argv[2])
t = Target(url=a["url"], ca_bundle=a["ca"], client_cert=a["cert"], client_key=a["key"],
           connect_address="127.0.0.1", timeout=300)
r = run_stow_probe(t, study_size_mb=a["size_mb"], instance_mb=a["instance_mb"], work_dir=a["work"],
                   chunk_size=a["chunk"])
large = next(c for c in r["checks"] if c["id"] == "dicomweb.stow_large")
print(json.dumps({"ok": r["failure"] is None, "status": large["detail"].get("http_status"),
                  "elapsed": large["detail"]["timings"].get("total_s", 0),
                  "referenced": large["detail"]["instances_referenced"],
                  "study_uid": r["large_study"]["study_instance_uid"]}))
"""


# A tiny launcher (python -S: ~7 MB) forks and execs the measured command and reports its
# ru_maxrss. Measuring with wait4 from this (big) process would be wrong: Linux carries the
# parent's RSS high-water mark at fork into the child's maxrss across exec.
LAUNCHER = (
    "import os,sys\n"
    "pid=os.fork()\n"
    "if pid==0:\n"
    "    os.execvp(sys.argv[1],sys.argv[1:])\n"
    "_,st,ru=os.wait4(pid,0)\n"
    "sys.stderr.write('STOWPATH_MAXRSS_KB=%d\\n'%ru.ru_maxrss)\n"
    "sys.exit(os.waitstatus_to_exitcode(st))\n"
)


def run_measured(cmd: list[str]) -> tuple[str, float, float]:
    """Run ``cmd``; return (stdout, wall seconds, peak RSS MB of that process)."""
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-S", "-I", "-c", LAUNCHER, *cmd], capture_output=True, text=True,
                          check=False)
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    kb = int(proc.stderr.rsplit("STOWPATH_MAXRSS_KB=", 1)[1].split()[0])
    return proc.stdout, wall, kb / 1024.0


def orthanc(h: CloudHandle, method: str, path: str, body: bytes | None = None) -> Any:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    req = urllib.request.Request(f"http://127.0.0.1:{h.orthanc_port}{path}", data=body, method=method)
    with opener.open(req, timeout=60) as resp:
        data = resp.read()
    return json.loads(data) if data.strip() else None


def delete_study(h: CloudHandle, study_uid: str) -> None:
    for hit in orthanc(h, "POST", "/tools/lookup", study_uid.encode()) or []:
        if hit.get("Type") == "Study":
            orthanc(h, "DELETE", f"/studies/{hit['ID']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=float, default=200)
    ap.add_argument("--instance-mb", type=float, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--chunk-kb", type=int, default=1024)
    ap.add_argument("--no-module", action="store_true", help="skip the full module-path run")
    args = ap.parse_args()
    curl = shutil.which("curl")
    if not curl:
        sys.exit("curl is needed")

    tmp = Path(tempfile.mkdtemp(prefix="stowpath-bench-"))
    h = None
    try:
        pki = generate_lab_pki(tmp / "pki", test_material=False)
        h = start_cloud_dicomweb(tmp / "svc", server_cert=pki["server_cert"], server_key=pki["server_key"],
                                 client_ca=pki["ca"])
        t0 = time.monotonic()
        study = generate_study(tmp / "study", args.size_mb, args.instance_mb)
        gen_s = time.monotonic() - t0
        payload = study.total_bytes
        print(f"study: {len(study.instances)} instances, {payload / 1e6:.1f} MB payload, generated in {gen_s:.1f} s")
        print(f"service: {h.url} (nginx TLS1.3 mTLS -> Orthanc), chunk {args.chunk_kb} KiB, "
              f"{os.cpu_count()} CPUs\n")
        spec = {"url": h.url, "ca": pki["ca"], "cert": pki["client_cert"], "key": pki["client_key"],
                "files": study.files, "uids": study.sop_instance_uids, "chunk": args.chunk_kb * 1024}
        host, port = h.server_name, h.https_port
        curl_cmd = [curl, "-sS", "-o", str(tmp / "curl-resp.json"), "-w", "%{http_code} %{time_total}",
                    "--resolve", f"{host}:{port}:127.0.0.1", "--cacert", pki["ca"], "--cert", pki["client_cert"],
                    "--key", pki["client_key"], "-H", 'Content-Type: multipart/related; type="application/dicom"',
                    "-H", "Accept: application/dicom+json"]
        for f in study.files:
            curl_cmd += ["-F", f"file=@{f};type=application/dicom"]
        curl_cmd.append(h.url)

        _, _, floor_rss = run_measured(["true"])
        baseline_out, _, baseline_rss = run_measured([sys.executable, "-c", UPLOADER.replace(
            "ctx = make_context", "print(json.dumps({}))\nraise SystemExit(0)\nctx = make_context"), str(REPO /
            "collections"), json.dumps(spec)])
        rows: dict[str, list[tuple[float, float]]] = {"probe": [], "curl": []}
        for rnd in range(1, args.rounds + 1):
            for tool in ("probe", "curl"):
                delete_study(h, study.study_instance_uid)
                if tool == "probe":
                    out, _, rss = run_measured([sys.executable, "-c", UPLOADER, str(REPO / "collections"),
                                                json.dumps(spec)])
                    res = json.loads(out)
                    elapsed, ok = res["elapsed"], res["ok"]
                    refs = res["referenced"]
                else:
                    out, _, rss = run_measured(curl_cmd)
                    code, elapsed_s = out.split()
                    elapsed = float(elapsed_s)
                    ref, failed, _ = parse_stow_response((tmp / "curl-resp.json").read_bytes(), "application/dicom+json")
                    refs = len(set(ref) & set(study.sop_instance_uids))
                    ok = code == "200" and refs == len(study.instances) and not failed
                mbs = payload / 1e6 / elapsed
                rows[tool].append((mbs, rss))
                print(f"round {rnd} {tool:6s} {mbs:7.1f} MB/s  {elapsed:6.2f} s  peak RSS {rss:6.1f} MB  "
                      f"referenced {refs}/{len(study.instances)}  {'ok' if ok else 'FAILED'}")
        print()
        probe_mbs = statistics.median(r[0] for r in rows["probe"])
        curl_mbs = statistics.median(r[0] for r in rows["curl"])
        probe_rss = max(r[1] for r in rows["probe"])
        curl_rss = max(r[1] for r in rows["curl"])
        print(f"median throughput: probe {probe_mbs:.1f} MB/s, curl {curl_mbs:.1f} MB/s "
              f"-> {probe_mbs / curl_mbs:.2f}x curl (target >= 0.90x)")
        print(f"peak RSS: probe {probe_rss:.1f} MB (interpreter + imports alone: {baseline_rss:.1f} MB), "
              f"curl {curl_rss:.1f} MB (target probe < 64 MB; measurement floor {floor_rss:.1f} MB)")
        _ = baseline_out

        if not args.no_module:
            delete_study(h, study.study_instance_uid)
            mspec = {**spec, "size_mb": args.size_mb, "instance_mb": args.instance_mb, "work": str(tmp)}
            mspec.pop("files")
            mspec.pop("uids")
            out, wall, rss = run_measured([sys.executable, "-c", MODULE_PATH, str(REPO / "collections"),
                                           json.dumps(mspec)])
            res = json.loads(out)
            print(f"module path (generate {args.size_mb:g} MB with pydicom + upload + QIDO-RS in one process): "
                  f"upload {payload / 1e6 / res['elapsed']:.1f} MB/s, wall {wall:.1f} s, peak RSS {rss:.1f} MB, "
                  f"{'ok' if res['ok'] else 'FAILED'}")
            delete_study(h, res["study_uid"])
    finally:
        if h is not None:
            stop_cloud_dicomweb(h)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
