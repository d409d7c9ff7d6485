#!/usr/bin/env python3
"""STOW-RS throughput and peak RSS: stowpath's streaming upload next to curl, same files, same run.

Single upload (default): starts the lab cloud service (nginx mTLS + Orthanc + DICOMweb) on loopback with a
fresh PKI, generates a synthetic study of each size (default 20 and 200 MB), then alternates uploads of the
same files by

- ``probe``: stowpath's STOW-RS upload (``dicomweb.stow.stow``: one multipart/related body
  streamed from disk in fixed-size chunks) in a fresh Python process;
- ``curl``: ``curl -F file=@...`` for every instance with ``Content-Type: multipart/related;
  type="application/dicom"``, mTLS, the same CA bundle;
- ``module``: the whole ``run_stow_probe`` path the Ansible module takes (generate the study with
  pydicom, upload, QIDO-RS), for its peak RSS (its throughput counts the upload only).

Targets (printed, never asserted): probe >= 0.95x curl and < 40 MB peak RSS at any study size.

Parallel uploads (``--parallel 1,4,8``, needs the lab, run it inside the lab lock): N concurrent uploads,
each its own synthetic study of ``--parallel-size-mb`` and its own process, from the PACS's network
namespace (facility LAN) through cgw's IPsec tunnel to the lab cloud's DICOMweb service (mTLS, the lab
PKI), our client against N concurrent curl processes: aggregate and per-upload MB/s, peak RSS per process
and summed, and the bytes cgw sent into its tunnel (proof of the path). When the PACS does not reach the
cloud, cgw is onboarded first (``onboard-site.yml -l cgw``; ``--no-onboard`` fails instead); the output says
which.

Studies are deleted from Orthanc before every upload so each one really stores. Peak RSS is the
uploading process's ``ru_maxrss`` from ``wait4``. Prints figures; asserts nothing.

    .venv/bin/python bench/stow_bench.py [--size-mb 20,200] [--rounds 3] [--chunk-kb 1024]
    .venv/bin/python bench/stow_bench.py --parallel 1,4,8 [--parallel-size-mb 20] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
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
w0 = time.time()
with Client(Endpoint.parse(a["url"], a.get("connect", "127.0.0.1")), ctx, timeout=300) as client:
    res = stow(client, a["files"], a["uids"], "multipart", chunk_size=a["chunk"])[-1]
elapsed = time.monotonic() - t0
print(json.dumps({"ok": res.ok, "status": res.status, "elapsed": elapsed, "t0": w0, "t1": w0 + elapsed,
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
    "import os,sys,time\n"
    "t0=time.time()\n"
    "pid=os.fork()\n"
    "if pid==0:\n"
    "    os.execvp(sys.argv[1],sys.argv[1:])\n"
    "_,st,ru=os.wait4(pid,0)\n"
    "sys.stderr.write('STOWPATH_MAXRSS_KB=%d STOWPATH_T0=%.6f STOWPATH_T1=%.6f\\n'%(ru.ru_maxrss,t0,time.time()))\n"
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


TARGET_RATIO, TARGET_RSS_MB = 0.95, 40.0  # >= 0.95x curl, < 40 MB RSS at any study size


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


def one_size(h: CloudHandle, pki: dict[str, str], tmp: Path, curl: str, size_mb: float,
             args: argparse.Namespace) -> None:
    """Probe vs curl on one study size (``args.rounds`` alternating rounds), then the module path."""
    t0 = time.monotonic()
    study = generate_study(tmp / f"study-{size_mb:g}", size_mb, args.instance_mb)
    gen_s = time.monotonic() - t0
    payload = study.total_bytes
    print(f"study {size_mb:g} MB: {len(study.instances)} instances, {payload / 1e6:.1f} MB payload, "
          f"generated in {gen_s:.1f} s")
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
    _, _, baseline_rss = run_measured([sys.executable, "-c", UPLOADER.replace(
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
            print(f"  round {rnd} {tool:6s} {mbs:7.1f} MB/s  {elapsed:6.2f} s  peak RSS {rss:6.1f} MB  "
                  f"referenced {refs}/{len(study.instances)}  {'ok' if ok else 'FAILED'}")
    probe_mbs = statistics.median(r[0] for r in rows["probe"])
    curl_mbs = statistics.median(r[0] for r in rows["curl"])
    probe_rss = max(r[1] for r in rows["probe"])
    curl_rss = max(r[1] for r in rows["curl"])
    ratio = probe_mbs / curl_mbs
    print(f"  median throughput: probe {probe_mbs:.1f} MB/s, curl {curl_mbs:.1f} MB/s -> {ratio:.2f}x curl "
          f"(target >= {TARGET_RATIO:.2f}x: {'meets' if ratio >= TARGET_RATIO else 'MISSES'})")
    print(f"  peak RSS: probe {probe_rss:.1f} MB (interpreter + imports alone: {baseline_rss:.1f} MB), "
          f"curl {curl_rss:.1f} MB (target probe < {TARGET_RSS_MB:.0f} MB: "
          f"{'meets' if probe_rss < TARGET_RSS_MB else 'MISSES'}; measurement floor {floor_rss:.1f} MB)")
    delete_study(h, study.study_instance_uid)
    shutil.rmtree(study.directory, ignore_errors=True)
    if args.no_module:
        return
    mspec = {**spec, "size_mb": size_mb, "instance_mb": args.instance_mb, "work": str(tmp)}
    mspec.pop("files")
    mspec.pop("uids")
    out, wall, rss = run_measured([sys.executable, "-c", MODULE_PATH, str(REPO / "collections"), json.dumps(mspec)])
    res = json.loads(out)
    print(f"  module path (generate {size_mb:g} MB with pydicom + upload + QIDO-RS in one process): "
          f"upload {payload / 1e6 / res['elapsed']:.1f} MB/s, wall {wall:.1f} s, peak RSS {rss:.1f} MB, "
          f"{'ok' if res['ok'] else 'FAILED'}")
    delete_study(h, res["study_uid"])


def loopback(args: argparse.Namespace, curl: str) -> None:
    """The single-upload comparison against a private loopback service (no lab needed)."""
    tmp = Path(tempfile.mkdtemp(prefix="stowpath-bench-"))
    h = None
    try:
        pki = generate_lab_pki(tmp / "pki", test_material=False)
        h = start_cloud_dicomweb(tmp / "svc", server_cert=pki["server_cert"], server_key=pki["server_key"],
                                 client_ca=pki["ca"])
        print(f"service: {h.url} on loopback (nginx TLS1.3 mTLS -> Orthanc), chunk {args.chunk_kb} KiB, "
              f"{os.cpu_count()} CPUs")
        for size_mb in args.size_mb:
            one_size(h, pki, tmp, curl, size_mb, args)
    finally:
        if h is not None:
            stop_cloud_dicomweb(h)
        shutil.rmtree(tmp, ignore_errors=True)


# ---- N concurrent uploads from the PACS through the cgw tunnel to the lab cloud (--parallel) ----------------

LAB_STATE = Path(os.environ.get("STOWPATH_LAB_STATE", "/run/stowpath-lab"))
LAB_HOST, LAB_IP = "dicom.lab.example", "203.0.113.140"
LAB_URL = f"https://{LAB_HOST}/dicomweb/studies"
PACS_NS, CLOUD_NS, CGW_NS = "sp-pacs", "sp-cloud", "sp-cgw"
CLOUD_DELETE = r"""
import json, sys, urllib.request
op = urllib.request.build_opener(urllib.request.ProxyHandler({}))
def call(method, path, body=None):
    req = urllib.request.Request("http://127.0.0.1:%s%s" % (sys.argv[1], path), data=body, method=method)
    with op.open(req, timeout=60) as r:
        d = r.read()
    return json.loads(d) if d.strip() else None
for uid in sys.argv[2:]:
    for hit in call("POST", "/tools/lookup", uid.encode()) or []:
        if hit.get("Type") == "Study":
            call("DELETE", "/studies/" + hit["ID"])
"""


def in_ns(ns: str, cmd: list[str]) -> list[str]:
    """``cmd`` in the network namespace ``ns`` only (the files, the venv and the lab PKI stay visible)."""
    return ["ip", "netns", "exec", ns, *cmd]


def lab_service() -> tuple[dict[str, str], int]:
    """The lab cloud's client material and its Orthanc port (in sp-cloud)."""
    try:
        svc = json.loads((LAB_STATE / "state.json").read_text()).get("cloud_service") or {}
        handle = json.loads((LAB_STATE / "dev" / "cloud" / "dicomweb" / "cloud_dicomweb.json").read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"--parallel needs the lab ({exc}): run make lab-up (inside the lab lock)") from exc
    if svc.get("kind") != "dicomweb":
        raise SystemExit(f"the lab cloud service is {svc.get('kind')!r}, not the DICOMweb service: make lab-up")
    return {"ca": svc["ca"], "cert": svc["client_cert"], "key": svc["client_key"]}, int(handle["orthanc_port"])


def curl_base(curl: str, pki: dict[str, str]) -> list[str]:
    return [curl, "-sS", "--resolve", f"{LAB_HOST}:443:{LAB_IP}", "--cacert", pki["ca"], "--cert", pki["cert"],
            "--key", pki["key"]]


def path_answers(curl: str, pki: dict[str, str]) -> bool:
    """QIDO-RS from the PACS's LAN address answers 200 (mTLS, through the facility gateway)."""
    proc = subprocess.run(in_ns(PACS_NS, [*curl_base(curl, pki), "--max-time", "8", "-o", "/dev/null",
                                          "-w", "%{http_code}", f"{LAB_URL}?limit=1"]),
                          capture_output=True, text=True, check=False)
    return proc.stdout.strip() == "200"


def ensure_path(curl: str, pki: dict[str, str], onboard: bool) -> str:
    """Reuse an onboarded lab, or onboard cgw first; returns which (printed)."""
    if path_answers(curl, pki):
        return "reused the onboarded lab (the PACS already reaches the cloud through cgw)"
    if not onboard:
        raise SystemExit("the PACS does not reach the lab cloud: onboard it first (ansible-playbook "
                         "playbooks/onboard-site.yml -i inventories/lab -l cgw) or drop --no-onboard")
    t0 = time.monotonic()
    proc = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), "playbooks/onboard-site.yml", "-i",
                           "inventories/lab", "-l", "cgw"], cwd=REPO, capture_output=True, text=True, check=False,
                          env=dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg")))
    if proc.returncode or not path_answers(curl, pki):
        raise SystemExit(f"onboarding cgw did not open the path (rc {proc.returncode}):\n{proc.stdout[-3000:]}")
    return f"onboarded cgw first (onboard-site.yml -l cgw, {time.monotonic() - t0:.0f} s)"


def tunnel_tx_bytes() -> int:
    """Bytes cgw has sent into its tunnel interface (kernel-libipsec's ipsec0)."""
    out = subprocess.run(in_ns(CGW_NS, ["cat", "/sys/class/net/ipsec0/statistics/tx_bytes"]), capture_output=True,
                         text=True, check=False).stdout.strip()
    return int(out) if out.isdigit() else 0


def run_concurrently(cmds: list[list[str]]) -> list[tuple[str, float, float, float]]:
    """Start every command at once; ``(stdout, start, end, peak RSS MB)`` of each (wall clock times)."""
    procs = [subprocess.Popen([sys.executable, "-S", "-I", "-c", LAUNCHER, *c], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for c in cmds]
    out = []
    for cmd, proc in zip(cmds, procs, strict=True):
        so, se = proc.communicate(timeout=900)
        if proc.returncode:
            raise RuntimeError(f"{cmd[4]} failed ({proc.returncode}): {se[-2000:]}")
        m = dict(re.findall(r"STOWPATH_(\w+)=([\d.]+)", se))
        out.append((so, float(m["T0"]), float(m["T1"]), int(m["MAXRSS_KB"]) / 1024.0))
    return out


def parallel_round(tool: str, studies: list[Any], pki: dict[str, str], orthanc_port: int, curl: str, tmp: Path,
                   chunk: int) -> dict[str, Any]:
    """One round: N uploads (N = len(studies)) at the same time, each its own study and process."""
    subprocess.run(in_ns(CLOUD_NS, [sys.executable, "-c", CLOUD_DELETE, str(orthanc_port),
                                    *(s.study_instance_uid for s in studies)]), check=True, timeout=120)
    cmds = []
    for i, s in enumerate(studies):
        if tool == "probe":
            spec = {"url": LAB_URL, "connect": LAB_IP, "ca": pki["ca"], "cert": pki["cert"], "key": pki["key"],
                    "files": s.files, "uids": s.sop_instance_uids, "chunk": chunk}
            cmds.append(in_ns(PACS_NS, [sys.executable, "-c", UPLOADER, str(REPO / "collections"), json.dumps(spec)]))
        else:
            parts = [a for f in s.files for a in ("-F", f"file=@{f};type=application/dicom")]
            cmds.append(in_ns(PACS_NS, [*curl_base(curl, pki), "-o", str(tmp / f"resp-{i}.json"),
                                        "-w", "%{http_code} %{time_total}",
                                        "-H", 'Content-Type: multipart/related; type="application/dicom"',
                                        "-H", "Accept: application/dicom+json", *parts, LAB_URL]))
    tx0 = tunnel_tx_bytes()
    results = run_concurrently(cmds)
    tunnel_mb = (tunnel_tx_bytes() - tx0) / 1e6
    spans, rss, ok = [], [], 0
    for i, ((out, start, end, peak), s) in enumerate(zip(results, studies, strict=True)):
        if tool == "probe":
            res = json.loads(out)
            start, end = res["t0"], res["t1"]
            good = res["ok"] and res["referenced"] == len(s.instances)
        else:
            code, total = out.split()
            start = end - float(total)
            ref, failed, _ = parse_stow_response((tmp / f"resp-{i}.json").read_bytes(), "application/dicom+json")
            good = code == "200" and len(set(ref) & set(s.sop_instance_uids)) == len(s.instances) and not failed
        spans.append((start, end, s.total_bytes))
        rss.append(peak)
        ok += bool(good)
    window = max(e for _, e, _ in spans) - min(b for b, _, _ in spans)
    return {"aggregate": sum(n for *_, n in spans) / 1e6 / window,
            "per_upload": statistics.median(n / 1e6 / (e - b) for b, e, n in spans),
            "rss_max": max(rss), "rss_sum": sum(rss), "ok": ok, "tunnel_mb": tunnel_mb, "window": window}


def lab_parallel(args: argparse.Namespace, curl: str) -> int:
    pki, orthanc_port = lab_service()
    how = ensure_path(curl, pki, not args.no_onboard)
    tmp = Path(tempfile.mkdtemp(prefix="stowpath-bench-par-"))
    try:
        top = max(args.parallel)
        studies = [generate_study(tmp / f"s{i}", args.parallel_size_mb, args.instance_mb) for i in range(top)]
        print(f"N concurrent STOW-RS uploads, PACS (sp-pacs, 203.0.113.10) -> cgw IPsec tunnel -> {LAB_URL} "
              f"(mTLS, lab PKI); each upload its own {args.parallel_size_mb:g} MB study "
              f"({len(studies[0].instances)} instances) and process; {how}")
        summary: dict[tuple[int, str], list[dict[str, Any]]] = {}
        for n in args.parallel:
            for rnd in range(1, args.rounds + 1):
                for tool in ("probe", "curl"):
                    r = parallel_round(tool, studies[:n], pki, orthanc_port, curl, tmp, args.chunk_kb * 1024)
                    summary.setdefault((n, tool), []).append(r)
                    print(f"  N={n} round {rnd} {tool:5s} aggregate {r['aggregate']:6.1f} MB/s  per upload "
                          f"{r['per_upload']:6.1f} MB/s  {r['window']:6.2f} s  peak RSS {r['rss_max']:5.1f} MB each, "
                          f"{r['rss_sum']:6.1f} MB all  {r['ok']}/{n} stored  through cgw ipsec0 "
                          f"{r['tunnel_mb']:.0f} MB")
        print("\n  N  probe MB/s (aggr / per upload)  curl MB/s (aggr / per upload)  probe/curl  probe RSS each (sum)")
        for n in args.parallel:
            p, c = summary[(n, "probe")], summary[(n, "curl")]
            pa, ca = statistics.median(r["aggregate"] for r in p), statistics.median(r["aggregate"] for r in c)
            pu, cu = statistics.median(r["per_upload"] for r in p), statistics.median(r["per_upload"] for r in c)
            print(f"  {n:<2} {pa:10.1f} / {pu:5.1f}            {ca:10.1f} / {cu:5.1f}           {pa / ca:5.2f}x"
                  f"      {max(r['rss_max'] for r in p):5.1f} MB ({max(r['rss_sum'] for r in p):.0f} MB)")
        subprocess.run(in_ns(CLOUD_NS, [sys.executable, "-c", CLOUD_DELETE, str(orthanc_port),
                                        *(s.study_instance_uid for s in studies)]), check=False, timeout=120)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=lambda v: [float(x) for x in v.split(",")], default=[20.0, 200.0],
                    help="study sizes of the single-upload comparison (comma list, default 20,200)")
    ap.add_argument("--instance-mb", type=float, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--chunk-kb", type=int, default=1024)
    ap.add_argument("--no-module", action="store_true", help="skip the full module-path run")
    ap.add_argument("--parallel", type=lambda v: [int(x) for x in v.split(",")], default=None,
                    help="instead: N concurrent uploads through the lab tunnel, e.g. 1,4,8 (needs the lab)")
    ap.add_argument("--parallel-size-mb", type=float, default=20, help="size of each parallel upload's study")
    ap.add_argument("--no-onboard", action="store_true",
                    help="with --parallel: fail instead of onboarding cgw when the tunnel path does not answer")
    args = ap.parse_args()
    curl = shutil.which("curl")
    if not curl:
        sys.exit("curl is needed")
    if args.parallel:
        return lab_parallel(args, curl)
    loopback(args, curl)
    return 0


if __name__ == "__main__":
    sys.exit(main())
