#!/usr/bin/env python3
"""Bearer-token mode of the lab cloud DICOMweb service: a token endpoint, a validator, nginx switched live.

One small Python process (``serve``) on loopback of the cloud host answers:

* ``POST /token``: the OAuth 2.0 client-credentials grant (RFC 6749 4.4) for the registered lab
  clients, authenticated by ``client_secret_basic``, ``client_secret_post`` or ``private_key_jwt``
  (RFC 7523); it issues RS256 JWTs signed with a lab key (``iss``, ``sub``, ``aud``, ``scope``,
  ``exp``); errors as RFC 6749 5.2 (``invalid_client``, ``invalid_target``, ``invalid_scope``...).
* ``GET /validate``: nginx's ``auth_request`` subrequest; 204 for a valid, unexpired token issued for
  the service's audience, else 401 with an RFC 6750 ``WWW-Authenticate: Bearer error=...`` challenge
  that nginx passes on.

:func:`set_auth` switches a RUNNING cloud service (handle of ``cloud_dicomweb.py``) between ``mtls``
(the default; exactly the configuration it was started with), ``bearer`` (no client certificate,
token required) and ``mtls+bearer`` by editing the marked lines of its nginx.conf and reloading
nginx (SIGHUP: no connection is dropped, nothing is rebuilt). The token endpoint is published by
the same nginx at ``https://<server_name>/oauth2/token``.

Lab clients (``<state>/oauth/clients.json``; material beside it, mode 0600): ``lab-facility``
(secret in ``lab-facility.secret``) and ``lab-facility-jwt`` (RSA key ``lab-facility-jwt.key``),
both allowed the service audience ``https://<server_name>/dicomweb`` and ``https://other.lab.example``
(a token for the wrong audience, for tests).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

MARK = "# stowpath-overlay"
MODES = ("mtls", "bearer", "mtls+bearer")
AUTH_FILE = "auth-overlay.json"
OTHER_AUDIENCE = "https://other.lab.example"
SCOPES = ("dicomweb.read", "dicomweb.write")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


# --------------------------------------------------------------------------- key material


def _write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _rsa_pem() -> tuple[bytes, bytes]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    priv = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return priv, pub


def ensure_material(oauth_dir: Path, server_name: str, ttl: int = 300) -> dict[str, Any]:
    """The signing key and the lab clients (created once); returns the clients.json content."""
    oauth_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(oauth_dir, 0o700)
    clients_file = oauth_dir / "clients.json"
    if clients_file.exists():
        return json.loads(clients_file.read_text())
    priv, pub = _rsa_pem()
    _write_secret(oauth_dir / "signing.key", priv)
    (oauth_dir / "signing.pub").write_bytes(pub)
    secret = secrets.token_urlsafe(24)
    _write_secret(oauth_dir / "lab-facility.secret", secret.encode())
    cpriv, cpub = _rsa_pem()
    _write_secret(oauth_dir / "lab-facility-jwt.key", cpriv)
    audiences = [f"https://{server_name}/dicomweb", OTHER_AUDIENCE]
    data = {
        "issuer": f"https://{server_name}/oauth2",
        "audience": f"https://{server_name}/dicomweb",
        "token_url": f"https://{server_name}/oauth2/token",
        "ttl": ttl,
        "clients": {
            "lab-facility": {"secret_sha256": hashlib.sha256(secret.encode()).hexdigest(),
                             "audiences": audiences, "scopes": list(SCOPES)},
            "lab-facility-jwt": {"public_key": cpub.decode(), "audiences": audiences, "scopes": list(SCOPES)},
        },
    }
    _write_secret(clients_file, (json.dumps(data, indent=2) + "\n").encode())
    return data


def issue(oauth_dir: Path, sub: str, audience: str, scope: str, ttl: int, now: float | None = None) -> str:
    """A lab access token (RS256 JWT), also for tests that need an expired or odd token."""
    import jwt

    now = int(now if now is not None else time.time())
    conf = json.loads((oauth_dir / "clients.json").read_text())
    claims = {"iss": conf["issuer"], "sub": sub, "aud": audience, "scope": scope, "iat": now, "nbf": now,
              "exp": now + ttl, "jti": str(uuid.uuid4())}
    return jwt.encode(claims, (oauth_dir / "signing.key").read_bytes(), algorithm="RS256",
                      headers={"kid": "stowpath-lab"})


# --------------------------------------------------------------------------- the service


class TokenService:
    def __init__(self, oauth_dir: Path) -> None:
        self.dir = oauth_dir
        self.conf = json.loads((oauth_dir / "clients.json").read_text())
        self.pub = (oauth_dir / "signing.pub").read_bytes()
        self.seen_jti: dict[str, float] = {}
        self.lock = threading.Lock()

    def _authenticate(self, form: dict[str, str], basic: tuple[str, str] | None) -> tuple[str | None, str]:
        """(client id, "") when the client authenticated, else (None, error description)."""
        import jwt

        clients = self.conf["clients"]
        if form.get("client_assertion_type") == ASSERTION_TYPE:
            assertion = form.get("client_assertion", "")
            try:
                unverified = jwt.decode(assertion, options={"verify_signature": False})
            except jwt.PyJWTError as exc:
                return None, f"malformed client assertion ({exc})"
            cid = str(unverified.get("iss", ""))
            pub = (clients.get(cid) or {}).get("public_key")
            if not pub:
                return None, "unknown client"
            try:
                claims = jwt.decode(assertion, pub, algorithms=["RS256", "ES256", "ES384", "ES512"],
                                    options={"require": ["exp", "iss", "sub", "jti", "aud"], "verify_aud": False})
            except jwt.PyJWTError as exc:
                return None, f"client assertion rejected ({exc})"
            auds = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
            if not any(_is_token_url(str(a), self.conf["token_url"]) for a in auds):
                return None, f"client assertion audience {claims['aud']} is not this token endpoint"
            if claims["sub"] != cid:
                return None, "client assertion sub != iss"
            with self.lock:
                now = time.time()
                self.seen_jti = {j: e for j, e in self.seen_jti.items() if e > now}
                if claims["jti"] in self.seen_jti:
                    return None, "client assertion replayed"
                self.seen_jti[claims["jti"]] = float(claims["exp"])
            return cid, ""
        cid, secret = basic if basic else (form.get("client_id", ""), form.get("client_secret", ""))
        want = (clients.get(cid) or {}).get("secret_sha256")
        if not want or not hmac.compare_digest(want, hashlib.sha256(secret.encode()).hexdigest()):
            return None, "client authentication failed"
        return cid, ""

    def token(self, form: dict[str, str], basic: tuple[str, str] | None) -> tuple[int, dict[str, Any]]:
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        cid, why = self._authenticate(form, basic)
        if cid is None:
            return 401, {"error": "invalid_client", "error_description": why}
        client = self.conf["clients"][cid]
        audience = form.get("audience") or self.conf["audience"]
        if audience not in client["audiences"]:
            return 400, {"error": "invalid_target", "error_description": f"audience {audience} not allowed"}
        scope = form.get("scope") or " ".join(client["scopes"])
        if any(s not in client["scopes"] for s in scope.split()):
            return 400, {"error": "invalid_scope", "error_description": f"scope {scope} not allowed"}
        ttl = int(self.conf.get("ttl", 300))
        tok = issue(self.dir, cid, audience, scope, ttl)
        return 200, {"access_token": tok, "token_type": "Bearer", "expires_in": ttl, "scope": scope}

    def validate(self, header: str) -> tuple[int, str | None]:
        """(204, None) for a good token, else (401, the WWW-Authenticate challenge)."""
        import jwt

        realm = 'Bearer realm="stowpath-lab"'
        if not header.lower().startswith("bearer "):
            return 401, realm
        token = header[7:].strip()
        try:
            jwt.decode(token, self.pub, algorithms=["RS256"], audience=self.conf["audience"],
                       issuer=self.conf["issuer"], options={"require": ["exp", "aud", "iss"]})
        except jwt.ExpiredSignatureError:
            return 401, f'{realm}, error="invalid_token", error_description="The access token expired"'
        except jwt.InvalidAudienceError:
            return 401, f'{realm}, error="invalid_token", error_description="The audience is invalid"'
        except jwt.PyJWTError as exc:
            text = str(exc).replace('"', "'")[:100]
            return 401, f'{realm}, error="invalid_token", error_description="{text}"'
        return 204, None


def _is_token_url(aud: str, token_url: str) -> bool:
    """The assertion's ``aud`` names this endpoint (any port: the lab also runs on free loopback ports)."""
    from urllib.parse import urlsplit

    a, b = urlsplit(aud), urlsplit(token_url)
    return a.scheme == b.scheme and a.hostname == b.hostname and a.path == b.path


def _handler(svc: TokenService) -> type:
    import base64
    import http.server
    from urllib.parse import unquote_plus

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: object) -> None:
            sys.stderr.write("cloud-token: " + (fmt % args) + "\n")

        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            if self.path.split("?")[0].rstrip("/").endswith("/validate"):
                status, challenge = svc.validate(self.headers.get("Authorization", ""))
                self._send(status, headers={"WWW-Authenticate": challenge} if challenge else None)
                return
            self._send(404, b"not found\n")

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8", "replace")
            if not self.path.split("?")[0].rstrip("/").endswith("/token"):
                self._send(404, b"not found\n")
                return
            form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
            basic = None
            auth = self.headers.get("Authorization", "")
            if auth.lower().startswith("basic "):
                try:
                    user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
                    basic = (unquote_plus(user), unquote_plus(pw))
                except ValueError:
                    basic = ("", "")
            status, data = svc.token(form, basic)
            headers = {"Content-Type": "application/json", "Cache-Control": "no-store"}
            if status == 401 and basic is not None:
                headers["WWW-Authenticate"] = 'Basic realm="stowpath-lab-token"'
            self._send(status, json.dumps(data).encode(), headers)

    return Handler


def serve(listen: tuple[str, int], oauth_dir: Path) -> None:
    import http.server

    server = http.server.ThreadingHTTPServer(listen, _handler(TokenService(oauth_dir)))
    server.daemon_threads = True
    server.serve_forever()


# --------------------------------------------------------------------------- nginx overlay


def strip_overlay(conf: str) -> str:
    """nginx.conf without any overlay line (lines that replaced an original carry it after ``was:``)."""
    out = []
    for line in conf.splitlines():
        if MARK not in line:
            out.append(line)
            continue
        _, _, was = line.partition(f"{MARK} was:")
        if was:
            out.append(was)
    return "\n".join(out) + "\n"


def _replace(line: str, new: str) -> str:
    indent = line[: len(line) - len(line.lstrip())]
    return f"{indent}{new} {MARK} was:{line}"


def overlay(conf: str, *, base_path: str, mode: str, token_port: int | None,
            replies_port: int | None = None) -> str:
    """``conf`` (stripped) with the auth mode and the STOW reply routing applied as marked lines."""
    lines = strip_overlay(conf).splitlines()
    out: list[str] = []
    loc = f"location {base_path}/ {{"
    seen_loc = seen_root = False
    for line in lines:
        s = line.strip()
        if s == "location / { return 404; }":
            seen_root = True
            if token_port and mode != "mtls":
                out += [
                    f"    location = /_stowpath_auth {{ {MARK}",
                    f"      internal; {MARK}",
                    f"      proxy_pass http://127.0.0.1:{token_port}/validate; {MARK}",
                    f"      proxy_pass_request_body off; {MARK}",
                    f'      proxy_set_header Content-Length ""; {MARK}',
                    f"      proxy_set_header Authorization $http_authorization; {MARK}",
                    f"    }} {MARK}",
                    f"    location = /oauth2/token {{ {MARK}",
                    f"      proxy_pass http://127.0.0.1:{token_port}/token; {MARK}",
                    f"      proxy_set_header Authorization $http_authorization; {MARK}",
                    f"    }} {MARK}",
                ]
            if replies_port:
                out += [
                    f"    location /_stowpath_replies/ {{ {MARK}",
                    f"      internal; {MARK}",
                    f"      proxy_pass http://127.0.0.1:{replies_port}/; {MARK}",
                    f"      proxy_request_buffering off; {MARK}",
                ]
                if token_port and mode != "mtls":
                    out += [f"      auth_request /_stowpath_auth; {MARK}",
                            f"      auth_request_set $stowpath_challenge $upstream_http_www_authenticate; {MARK}",
                            f"      add_header WWW-Authenticate $stowpath_challenge always; {MARK}"]
                out.append(f"    }} {MARK}")
        if mode == "bearer" and s.startswith("ssl_verify_client ") and s != "ssl_verify_client off;":
            out.append(_replace(line, "ssl_verify_client off;"))
            continue
        if mode == "mtls+bearer" and s.startswith("ssl_verify_client ") and s != "ssl_verify_client on;":
            out.append(_replace(line, "ssl_verify_client on;"))
            continue
        out.append(line)
        if s == loc:
            seen_loc = True
            if replies_port:
                out += [f"      if ($http_x_stowpath_reply) {{ {MARK}",
                        f"        rewrite ^{base_path}/(.*)$ /_stowpath_replies/$1 last; {MARK}",
                        f"      }} {MARK}"]
            if token_port and mode != "mtls":
                out += [f"      auth_request /_stowpath_auth; {MARK}",
                        f"      auth_request_set $stowpath_challenge $upstream_http_www_authenticate; {MARK}",
                        f"      add_header WWW-Authenticate $stowpath_challenge always; {MARK}"]
    if not (seen_loc and seen_root):
        raise RuntimeError(f"nginx.conf has no '{loc}' or 'location / {{ return 404; }}': cannot switch auth")
    if token_port and mode != "mtls" and not any(s.strip().startswith("ssl_verify_client") for s in out):
        raise RuntimeError("nginx.conf has no ssl_verify_client line (started with mtls off?)")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- switching a running service


def _cd() -> Any:
    here = Path(__file__).resolve().parent
    if str(here) not in sys.path:
        sys.path.insert(0, str(here))
    import cloud_dicomweb

    return cloud_dicomweb


def _load_state(state: Path) -> dict[str, Any]:
    try:
        return json.loads((state / AUTH_FILE).read_text())
    except (OSError, ValueError):
        return {"mode": "mtls"}


def _save_state(state: Path, data: dict[str, Any]) -> None:
    (state / AUTH_FILE).write_text(json.dumps(data, indent=2) + "\n")


def _workers(master: int) -> set[int]:
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[1]) == master:
                        out.add(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return out


def reload_nginx(h: Any, conf_text: str) -> None:
    """Write nginx.conf (after ``nginx -t`` on a copy) and reload the running master by SIGHUP."""
    cd = _cd()
    state = Path(h.state_dir)
    conf = Path(h.files["nginx_conf"])
    test = state / "nginx.conf.test"
    test.write_text(conf_text)
    prefix = cd._prefix(h.netns, h.exec_prefix)
    res = subprocess.run([*prefix, cd.NGINX_BIN, "-t", "-q", "-c", str(test)], capture_output=True, text=True,
                         check=False, timeout=30)
    test.unlink(missing_ok=True)
    if res.returncode != 0:
        raise RuntimeError(f"nginx -t refused the new configuration: {res.stderr.strip()[-500:]}")
    tmp = conf.with_name(conf.name + ".new")
    tmp.write_text(conf_text)
    os.replace(tmp, conf)
    if not h.nginx_pid or not cd._alive(h.nginx_pid):
        raise RuntimeError("nginx of the cloud service is not running")
    before = _workers(h.nginx_pid)
    os.kill(h.nginx_pid, signal.SIGHUP)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        now = _workers(h.nginx_pid)
        if now and not (now & before):
            return
        time.sleep(0.05)


def _start_token(h: Any, oauth_dir: Path, port: int) -> int:
    cd = _cd()
    prefix = cd._prefix(h.netns, h.exec_prefix)
    cmd = [*prefix, sys.executable, str(Path(__file__).resolve()), "serve", "--listen", f"127.0.0.1:{port}",
           "--oauth-dir", str(oauth_dir), "--state-dir", h.state_dir]
    proc = cd._spawn(cmd, Path(h.state_dir) / "cloud-token.log")
    if not cd._wait_port("127.0.0.1", port, prefix, 15, proc.pid):
        cd._kill(proc.pid, h.state_dir)
        raise RuntimeError("the lab token service did not start:\n" + cd._tail(Path(h.state_dir) / "cloud-token.log"))
    return proc.pid


def set_auth(state_dir: str | os.PathLike[str], mode: str, *, replies_port: int | None = None,
             ttl: int = 300) -> dict[str, Any]:
    """Switch the running cloud service to ``mode``; returns what a client needs (no secrets)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    cd = _cd()
    h = cd.CloudHandle.load(state_dir)
    state = Path(h.state_dir)
    st = _load_state(state)
    oauth_dir = state / "oauth"
    token_pid = st.get("token_pid")
    token_port = st.get("token_port")
    if "replies_port" in st and replies_port is None:
        replies_port = st.get("replies_port")
    if mode != "mtls":
        ensure_material(oauth_dir, h.server_name, ttl)
        if not (token_pid and cd._alive(token_pid) and cd._owned(token_pid, h.state_dir)):
            in_ns = bool(h.netns or h.exec_prefix)
            token_port = h.orthanc_port + 5 if in_ns else cd.free_port()
            token_pid = _start_token(h, oauth_dir, token_port)
    conf = Path(h.files["nginx_conf"]).read_text()
    new = overlay(conf, base_path=h.base_path, mode=mode, token_port=token_port if mode != "mtls" else None,
                  replies_port=replies_port)
    if new != conf:
        reload_nginx(h, new)
    if mode == "mtls" and token_pid:
        cd._kill(token_pid, h.state_dir)
        token_pid = token_port = None
    st.update({"mode": mode, "token_pid": token_pid, "token_port": token_port, "replies_port": replies_port})
    _save_state(state, st)
    return describe(state_dir)


def describe(state_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The current mode and, in a bearer mode, the token URL, audience and the lab client material paths."""
    state = Path(state_dir)
    st = _load_state(state)
    out: dict[str, Any] = {"mode": st.get("mode", "mtls")}
    oauth_dir = state / "oauth"
    if out["mode"] != "mtls" and (oauth_dir / "clients.json").exists():
        conf = json.loads((oauth_dir / "clients.json").read_text())
        out.update({"token_url": conf["token_url"], "audience": conf["audience"], "issuer": conf["issuer"],
                    "other_audience": OTHER_AUDIENCE, "oauth_dir": str(oauth_dir),
                    "client_id": "lab-facility", "client_secret_file": str(oauth_dir / "lab-facility.secret"),
                    "jwt_client_id": "lab-facility-jwt",
                    "jwt_client_key_file": str(oauth_dir / "lab-facility-jwt.key"),
                    "token_pid": st.get("token_pid")})
    return out


def stop_token(state_dir: str | os.PathLike[str]) -> None:
    """Stop only the token process (``token endpoint down``: nginx answers 502 at /oauth2/token)."""
    cd = _cd()
    st = _load_state(Path(state_dir))
    if st.get("token_pid"):
        cd._kill(st["token_pid"], str(Path(state_dir).resolve()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="lab bearer-token mode of the cloud DICOMweb service")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sv = sub.add_parser("serve", help="(internal) the token endpoint and validator")
    sv.add_argument("--listen", required=True)
    sv.add_argument("--oauth-dir", required=True)
    sv.add_argument("--state-dir", default="")
    sa = sub.add_parser("set", help="switch a running service: mtls | bearer | mtls+bearer")
    sa.add_argument("--state-dir", required=True)
    sa.add_argument("mode", choices=MODES)
    ds = sub.add_parser("status")
    ds.add_argument("--state-dir", required=True)
    args = ap.parse_args(argv)
    if args.cmd == "serve":
        host, _, port = args.listen.rpartition(":")
        try:
            serve((host, int(port)), Path(args.oauth_dir))
        except KeyboardInterrupt:
            pass
        return 0
    if args.cmd == "set":
        print(json.dumps(set_auth(args.state_dir, args.mode), indent=2))
    else:
        print(json.dumps(describe(args.state_dir), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
