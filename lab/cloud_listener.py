#!/usr/bin/env python3
"""Placeholder for the cloud VPC host's HTTPS service (TCP 443) until the real DICOMweb runs there.

Answers every HTTPS request with 200 and a short JSON body; non-TLS bytes get the connection closed.
A self-signed certificate for the server name is made with the ``openssl`` CLI on first start.
Writes ``<state>/listener.ready`` once listening. Stdlib only.
"""

from __future__ import annotations

import argparse
import http.server
import json
import socket
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "stowpath-lab-placeholder"

    def _answer(self) -> None:
        body = json.dumps({"service": "stowpath lab cloud placeholder", "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_HEAD = _answer  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


class TLSServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr: tuple[str, int], ctx: ssl.SSLContext) -> None:
        super().__init__(addr, Handler)
        self.ctx = ctx

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(): a DNS lookup that hangs in a namespace
        http.server.socketserver.TCPServer.server_bind(self)  # type: ignore[attr-defined]
        self.server_name, self.server_port = self.server_address[:2]  # type: ignore[misc]

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        sock.settimeout(10)
        return self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # plain TCP probes and aborted handshakes are expected


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--state", required=True)
    ap.add_argument("--server-name", default="dicom.lab.example")
    args = ap.parse_args(argv)
    state = Path(args.state)
    crt, key = state / "placeholder.crt", state / "placeholder.key"
    if not crt.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-days", "30", "-subj", f"/CN={args.server_name}",
                        "-addext", f"subjectAltName=DNS:{args.server_name}",
                        "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True)
        key.chmod(0o600)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    srv = TLSServer((args.listen, args.port), ctx)
    (state / "listener.ready").write_text("ok\n")
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
