#!/usr/bin/env python3
"""The lab's Alertmanager webhook receiver: records every notification it receives, one JSON line each.

Runs inside the lab's ``mon`` device (started by ``lab.py up``); Alertmanager there posts to
``http://127.0.0.1:9099/alerts``. Each line of the log is ``{"received": <unix time>, "payload": <the
Alertmanager webhook body>}``; the live alert tests read it. Standard library only.

    lab/stowlab/webhook.py --listen 127.0.0.1 --port 9099 --log /srv/stowpath-lab/mon/alerts.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_LOCK = threading.Lock()


def record(log: Path, payload: Any, now: float | None = None) -> None:
    """Append one notification to ``log`` (one JSON line, flushed and fsynced)."""
    line = json.dumps({"received": now if now is not None else time.time(), "payload": payload}, sort_keys=True)
    with _LOCK, open(log, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_log(log: Path) -> list[dict[str, Any]]:
    """Every recorded notification (unreadable lines are skipped)."""
    out = []
    try:
        lines = log.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def make_handler(log: Path) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, 4 * 1024 * 1024))
            try:
                payload = json.loads(body)
            except ValueError:
                self.send_response(400)
                self.end_headers()
                return
            record(log, payload)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:  # noqa: N802
            data = b"ok\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, fmt: str, *args: Any) -> None:
            return

    return Handler


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--listen", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9099)
    p.add_argument("--log", required=True)
    a = p.parse_args(argv)
    log = Path(a.log)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.touch()
    server = ThreadingHTTPServer((a.listen, a.port), make_handler(log))
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
