#!/usr/bin/env python3
"""STOW-RS reply injection for the lab cloud DICOMweb service: every PS3.18 answer class on request.

A STOW-RS POST carrying the header ``X-Stowpath-Reply`` is routed by nginx (a marked ``rewrite``
written by :func:`enable`, see ``cloud_token.overlay``) to this small service instead of Orthanc;
every other request is untouched. The service reads the instances of the multipart body (their SOP
Class and SOP Instance UIDs) and answers as told, stores nothing::

    X-Stowpath-Reply: status=202; fail=0xA700; failed=1        # 202, first instance failed (out of resources)
    X-Stowpath-Reply: warn=0xB000                              # 202, all stored with a warning (coercion)
    X-Stowpath-Reply: fail=45070                               # 409, none stored: Azure "already stored"
    X-Stowpath-Reply: status=200                               # 200, all referenced
    X-Stowpath-Reply: fail=0xC000; format=xml                  # the same in application/dicom+xml

``fail`` is the FailureReason (0008,1197) of the failed instances, ``failed`` how many (default
all), ``warn`` the WarningReason (0008,1196) of the stored ones, ``status`` the HTTP status (default:
200 when all stored without warnings, 202 when some are stored with warnings or some failed, 409
when none is stored). A body part that is not DICOM is listed with no UID and makes the answer 400
unless ``status`` says otherwise.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

HEADER = "X-Stowpath-Reply"


def parse_spec(text: str) -> dict[str, Any]:
    """``status=202; fail=0xA700; failed=1; warn=0xB000; format=xml`` as a dict (ints decoded)."""
    spec: dict[str, Any] = {}
    for part in text.replace(",", ";").split(";"):
        key, _, value = part.strip().partition("=")
        key, value = key.strip().lower(), value.strip()
        if not key:
            continue
        if key in ("status", "fail", "warn", "failed"):
            spec[key] = value if (key == "failed" and value == "all") else int(value, 0)
        elif key == "format":
            spec[key] = value.lower()
        else:
            raise ValueError(f"unknown {HEADER} key {key!r}")
    return spec


def split_multipart(body: bytes, content_type: str) -> list[bytes]:
    """The parts of a ``multipart/related`` body (the body itself for single-part application/dicom)."""
    ctype = content_type.lower()
    if not ctype.startswith("multipart/"):
        return [body]
    boundary = ""
    for param in content_type.split(";")[1:]:
        k, _, v = param.strip().partition("=")
        if k.strip().lower() == "boundary":
            boundary = v.strip().strip('"')
    if not boundary:
        return []
    delim = b"--" + boundary.encode()
    parts = []
    for chunk in body.split(delim)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, payload = chunk.partition(b"\r\n\r\n")
        if payload.endswith(b"\r\n"):
            payload = payload[:-2]
        parts.append(payload)
    return parts


def instance_uids(part: bytes) -> tuple[str, str] | None:
    """(SOP Class UID, SOP Instance UID) of a DICOM part, None when it is not DICOM."""
    import pydicom

    try:
        ds = pydicom.dcmread(io.BytesIO(part), stop_before_pixels=True)
        return str(ds.SOPClassUID), str(ds.SOPInstanceUID)
    except Exception:  # noqa: BLE001 - anything unreadable is "not DICOM"
        return None


def _attr(vr: str, value: Any) -> dict[str, Any]:
    return {"vr": vr, "Value": [value]}


def build_answer(instances: list[tuple[str, str] | None], spec: dict[str, Any],
                 base_url: str = "https://dicom.lab.example/dicomweb") -> tuple[int, dict[str, Any]]:
    """(HTTP status, DICOM JSON response dataset) for the parsed instances and the requested reply."""
    good = [i for i in instances if i is not None]
    n_fail = len(good) if spec.get("failed", "all") == "all" else min(int(spec["failed"]), len(good))
    if "fail" not in spec:
        n_fail = 0
    failed, stored = good[:n_fail], good[n_fail:]
    ds: dict[str, Any] = {}
    if stored:
        items = []
        for cls, uid in stored:
            item = {"00081150": _attr("UI", cls), "00081155": _attr("UI", uid),
                    "00081190": _attr("UR", f"{base_url}/studies/x/series/x/instances/{uid}")}
            if "warn" in spec:
                item["00081196"] = _attr("US", spec["warn"])
            items.append(item)
        ds["00081199"] = {"vr": "SQ", "Value": items}
    if failed:
        ds["00081198"] = {"vr": "SQ", "Value": [
            {"00081150": _attr("UI", cls), "00081155": _attr("UI", uid), "00081197": _attr("US", spec["fail"])}
            for cls, uid in failed]}
    if "status" in spec:
        status = int(spec["status"])
    elif len(good) < len(instances) and not good:
        status = 400
    elif not stored and failed:
        status = 409
    elif failed or "warn" in spec or len(good) < len(instances):
        status = 202
    else:
        status = 200
    return status, ds


def to_xml(ds: dict[str, Any]) -> bytes:
    """The response dataset as PS3.19 Native DICOM Model XML (``application/dicom+xml``)."""
    from xml.sax.saxutils import escape

    def attrs(d: dict[str, Any], indent: str) -> list[str]:
        out = []
        for tag, elem in d.items():
            out.append(f'{indent}<DicomAttribute tag="{tag}" vr="{elem["vr"]}">')
            if elem["vr"] == "SQ":
                for n, item in enumerate(elem["Value"], 1):
                    out.append(f'{indent}  <Item number="{n}">')
                    out += attrs(item, indent + "    ")
                    out.append(f"{indent}  </Item>")
            else:
                out += [f'{indent}  <Value number="{n}">{escape(str(v))}</Value>'
                        for n, v in enumerate(elem["Value"], 1)]
            out.append(f"{indent}</DicomAttribute>")
        return out

    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<NativeDicomModel xml:space="preserve">',
             *attrs(ds, "  "), "</NativeDicomModel>"]
    return ("\n".join(lines) + "\n").encode()


def _handler() -> type:
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: object) -> None:
            sys.stderr.write("stow-replies: " + (fmt % args) + "\n")

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            self._send(404, b"reply injection answers STOW-RS POSTs only\n", "text/plain")

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                spec = parse_spec(self.headers.get(HEADER, ""))
            except ValueError as exc:
                self._send(400, f"bad {HEADER}: {exc}\n".encode(), "text/plain")
                return
            parts = split_multipart(body, self.headers.get("Content-Type", ""))
            status, ds = build_answer([instance_uids(p) for p in parts], spec)
            if spec.get("format") == "xml":
                self._send(status, to_xml(ds), "application/dicom+xml")
            else:
                self._send(status, json.dumps(ds).encode(), "application/dicom+json")

    return Handler


def serve(listen: tuple[str, int]) -> None:
    import http.server

    server = http.server.ThreadingHTTPServer(listen, _handler())
    server.daemon_threads = True
    server.serve_forever()


def enable(state_dir: str | os.PathLike[str]) -> int:
    """Start the reply service for a running cloud service and route ``X-Stowpath-Reply`` POSTs to it.

    Returns its port. Other requests keep going to Orthanc; the auth mode is kept.
    """
    here = Path(__file__).resolve().parent
    if str(here) not in sys.path:
        sys.path.insert(0, str(here))
    import cloud_dicomweb as cd
    import cloud_token

    h = cd.CloudHandle.load(state_dir)
    st = cloud_token._load_state(Path(h.state_dir))
    pid, port = st.get("replies_pid"), st.get("replies_port")
    if not (pid and cd._alive(pid) and cd._owned(pid, h.state_dir)):
        in_ns = bool(h.netns or h.exec_prefix)
        port = h.orthanc_port + 6 if in_ns else cd.free_port()
        prefix = cd._prefix(h.netns, h.exec_prefix)
        proc = cd._spawn([*prefix, sys.executable, str(Path(__file__).resolve()), "serve", "--listen",
                          f"127.0.0.1:{port}", "--state-dir", h.state_dir], Path(h.state_dir) / "stow-replies.log")
        if not cd._wait_port("127.0.0.1", port, prefix, 15, proc.pid):
            cd._kill(proc.pid, h.state_dir)
            raise RuntimeError("the STOW reply service did not start")
        pid = proc.pid
        st.update({"replies_pid": pid, "replies_port": port})
        cloud_token._save_state(Path(h.state_dir), st)
    cloud_token.set_auth(state_dir, st.get("mode", "mtls"), replies_port=port)
    return int(port)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="STOW-RS reply injection for the lab cloud DICOMweb service")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sv = sub.add_parser("serve", help="(internal) the reply service")
    sv.add_argument("--listen", required=True)
    sv.add_argument("--state-dir", default="")
    en = sub.add_parser("enable", help="start it for a running service and route the header to it")
    en.add_argument("--state-dir", required=True)
    args = ap.parse_args(argv)
    if args.cmd == "serve":
        host, _, port = args.listen.rpartition(":")
        try:
            serve((host, int(port)))
        except KeyboardInterrupt:
            pass
        return 0
    print(enable(args.state_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
