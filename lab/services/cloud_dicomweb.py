#!/usr/bin/env python3
"""The lab's cloud DICOMweb service: Orthanc + DICOMweb plugin behind nginx (TLS, mTLS, Basic auth).

Orthanc listens on an internal HTTP port only (``RemoteAccessAllowed false``, no DICOM port);
nginx terminates TLS with the server certificate, requires a client certificate from the lab CA
(``mtls="on"``; or ``"optional"``/``"off"``), optionally Basic auth, and proxies
``<base_path>/`` (``/dicomweb/``) to Orthanc's ``/dicom-web/`` with no body-size limit, request
streaming (``proxy_request_buffering off``) and long timeouts. So the STOW-RS URL is
``https://dicom.lab.example:<port>/dicomweb/studies``; QIDO-RS and WADO-RS live beside it.

Function API (every process is started directly, optionally inside ``ip netns exec NAME``, and
stopped by PID)::

    h = start_cloud_dicomweb(state_dir, server_cert=..., server_key=..., client_ca=...,
                             listen_ip="127.0.0.1", https_port=0, netns=None, mtls="on",
                             basic_auth={"stow": "secret"}, delay_s=0.0, limit_rate=None,
                             stow_forms="multipart", start_backend=True)
    h.url, h.https_port, h.nginx_pid, h.orthanc_pid
    stop_backend(h)   # "service down": nginx stays up and answers 502
    start_backend(h)
    stop_cloud_dicomweb(h)   # or stop_cloud_dicomweb(state_dir)

CLI: ``python lab/services/cloud_dicomweb.py start|stop|status|backend-stop|backend-start ...``
(see ``--help``). The handle is saved as ``<state_dir>/cloud_dicomweb.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

ORTHANC_BIN = "/usr/sbin/Orthanc"
DICOMWEB_PLUGIN = "/usr/lib/orthanc/libOrthancDicomWeb.so.1.7"
NGINX_BIN = "/usr/sbin/nginx"
HANDLE_FILE = "cloud_dicomweb.json"
DEFAULT_SERVER_NAME = "dicom.lab.example"
MTLS_MODES = ("on", "optional", "off")
STOW_FORMS = ("multipart", "single", "both")


class ServiceError(RuntimeError):
    """A lab service did not start; the message carries the tail of its log."""


@dataclass
class CloudHandle:
    """What :func:`start_cloud_dicomweb` started (JSON-serialisable; saved in the state dir)."""

    state_dir: str
    listen_ip: str
    https_port: int
    orthanc_port: int
    upstream_port: int
    base_path: str
    server_name: str
    mtls: str
    basic_auth_users: list[str]
    netns: str | None
    exec_prefix: list[str]
    delay_s: float
    limit_rate: str | None
    stow_forms: str = "multipart"
    delay_port: int | None = None
    adapter_port: int | None = None
    nginx_pid: int | None = None
    orthanc_pid: int | None = None
    delay_proxy_pid: int | None = None
    adapter_pid: int | None = None
    files: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The STOW-RS URL (``https://<server_name>:<port><base_path>/studies``)."""
        port = "" if self.https_port == 443 else f":{self.https_port}"
        return f"https://{self.server_name}{port}{self.base_path}/studies"

    @property
    def pids(self) -> dict[str, int | None]:
        return {"nginx": self.nginx_pid, "orthanc": self.orthanc_pid, "delay_proxy": self.delay_proxy_pid,
                "form_adapter": self.adapter_pid}

    def save(self) -> None:
        data = asdict(self)
        data["url"] = self.url
        path = Path(self.state_dir) / HANDLE_FILE
        path.write_text(json.dumps(data, indent=2) + "\n")

    @classmethod
    def load(cls, state_dir: str | os.PathLike[str]) -> CloudHandle:
        data = json.loads((Path(state_dir) / HANDLE_FILE).read_text())
        data.pop("url", None)
        return cls(**data)


# --------------------------------------------------------------------------- htpasswd hashes

_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def apr1_crypt(password: str, salt: str | None = None) -> str:
    """Apache ``$apr1$`` MD5-crypt (what ``htpasswd -m`` / ``openssl passwd -apr1`` produce)."""
    pw = password.encode()
    salt_b = (salt or "".join(secrets.choice(_ITOA64) for _ in range(8))).encode()[:8]
    magic = b"$apr1$"
    final = hashlib.md5(pw + salt_b + pw).digest()
    ctx = pw + magic + salt_b
    for remaining in range(len(pw), 0, -16):
        ctx += final[: min(16, remaining)]
    i = len(pw)
    while i:
        ctx += b"\0" if i & 1 else pw[:1]
        i >>= 1
    final = hashlib.md5(ctx).digest()
    for i in range(1000):
        step = pw if i & 1 else final
        if i % 3:
            step += salt_b
        if i % 7:
            step += pw
        step += final if i & 1 else pw
        final = hashlib.md5(step).digest()

    def to64(value: int, n: int) -> str:
        out = ""
        for _ in range(n):
            out += _ITOA64[value & 0x3F]
            value >>= 6
        return out

    f = final
    encoded = (
        to64((f[0] << 16) | (f[6] << 8) | f[12], 4)
        + to64((f[1] << 16) | (f[7] << 8) | f[13], 4)
        + to64((f[2] << 16) | (f[8] << 8) | f[14], 4)
        + to64((f[3] << 16) | (f[9] << 8) | f[15], 4)
        + to64((f[4] << 16) | (f[10] << 8) | f[5], 4)
        + to64(f[11], 2)
    )
    return f"$apr1${salt_b.decode()}${encoded}"


def bcrypt_hash(password: str) -> str:
    """A ``$2b$`` bcrypt hash (nginx verifies it through the system crypt(3), libxcrypt)."""
    import bcrypt  # in requirements.lock (paramiko needs it)

    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()


def htpasswd_line(user: str, password: str, scheme: str = "bcrypt") -> str:
    if ":" in user:
        raise ValueError("a Basic-auth user name cannot contain ':'")
    if scheme == "bcrypt":
        try:
            return f"{user}:{bcrypt_hash(password)}"
        except ImportError:  # no bcrypt module: apr1 is verified by every nginx build
            scheme = "apr1"
    if scheme == "apr1":
        return f"{user}:{apr1_crypt(password)}"
    if scheme == "sha":  # {SHA}: unsalted, only for interop tests
        return f"{user}:{{SHA}}{base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()}"
    raise ValueError(f"unknown htpasswd scheme {scheme!r} (bcrypt, apr1, sha)")


# --------------------------------------------------------------------------- configs


def free_port(ip: str = "127.0.0.1") -> int:
    """A TCP port that is free right now on ``ip`` (this network namespace)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((ip, 0))
        return int(s.getsockname()[1])


def orthanc_config(state: Path, http_port: int) -> dict[str, object]:
    """Orthanc's JSON config: HTTP on ``http_port`` for local clients only, no DICOM port."""
    db = state / "orthanc-db"
    return {
        "Name": "stowpath-cloud-dicomweb-lab",
        "StorageDirectory": str(db),
        "IndexDirectory": str(db),
        "StorageCompression": False,
        "HttpServerEnabled": True,
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "HttpDescribeErrors": True,
        "HttpRequestTimeout": 600,
        "KeepAlive": True,
        "TcpNoDelay": True,
        "DicomServerEnabled": False,
        "SaveJobs": False,
        "OverwriteInstances": False,
        "LimitFindResults": 0,
        "Plugins": [DICOMWEB_PLUGIN],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": True, "Ssl": True},
    }


def nginx_config(
    state: Path,
    *,
    listen_ip: str,
    https_port: int,
    upstream_port: int,
    server_name: str,
    server_cert: str,
    server_key: str,
    client_ca: str | None,
    mtls: str,
    base_path: str,
    htpasswd: str | None,
    limit_rate: str | None,
) -> str:
    """nginx.conf for the TLS / mTLS / Basic-auth front end."""
    tmp = state / "nginx-tmp"
    lines = [
        "# generated by lab/services/cloud_dicomweb.py",
        "worker_processes 1;",
        f"pid {state / 'nginx.pid'};",
        f"error_log {state / 'nginx-error.log'} info;",
    ]
    if os.geteuid() == 0:
        lines.append("user root root;")
    lines += [
        "events { worker_connections 512; }",
        "http {",
        "  default_type application/octet-stream;",
        "  log_format stowpath '$remote_addr [$time_local] \"$request\" $status $body_bytes_sent '",
        "                      'rl=$request_length rt=$request_time ssl=$ssl_protocol/$ssl_cipher '",
        "                      'client_verify=$ssl_client_verify client=\"$ssl_client_s_dn\" user=$remote_user';",
        f"  access_log {state / 'nginx-access.log'} stowpath;",
        f"  client_body_temp_path {tmp / 'body'};",
        f"  proxy_temp_path {tmp / 'proxy'};",
        f"  fastcgi_temp_path {tmp / 'fastcgi'};",
        f"  uwsgi_temp_path {tmp / 'uwsgi'};",
        f"  scgi_temp_path {tmp / 'scgi'};",
        "  server_tokens off;",
        "  server {",
        f"    listen {listen_ip}:{https_port} ssl;",
        f"    server_name {server_name};",
        f"    ssl_certificate {server_cert};",
        f"    ssl_certificate_key {server_key};",
        "    ssl_protocols TLSv1.2 TLSv1.3;",
        "    ssl_session_cache off;",
    ]
    if mtls != "off":
        if not client_ca:
            raise ValueError("mtls on/optional needs client_ca (the CA that issued the client certificates)")
        lines += [
            f"    ssl_client_certificate {client_ca};",
            f"    ssl_verify_client {mtls};",
            "    ssl_verify_depth 3;",
        ]
    lines += [
        "    client_max_body_size 0;",
        "    client_body_timeout 600s;",
        "    send_timeout 600s;",
        "    keepalive_timeout 75s;",
        f"    location {base_path}/ {{",
    ]
    if htpasswd:
        lines += ['      auth_basic "stowpath lab DICOMweb";', f"      auth_basic_user_file {htpasswd};"]
    if limit_rate:
        lines.append(f"      limit_rate {limit_rate};")
    lines += [
        f"      proxy_pass http://127.0.0.1:{upstream_port}/dicom-web/;",
        "      proxy_http_version 1.1;",
        "      proxy_request_buffering off;",
        "      proxy_buffering off;",
        "      proxy_connect_timeout 10s;",
        "      proxy_send_timeout 600s;",
        "      proxy_read_timeout 600s;",
        '      proxy_set_header Authorization "";',
        "      proxy_set_header Host $host;",
        "      proxy_set_header X-Forwarded-Proto https;",
        "    }",
        "    location / { return 404; }",
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- processes


def _prefix(netns: str | None, exec_prefix: Sequence[str]) -> list[str]:
    if exec_prefix:
        return list(exec_prefix)
    return ["ip", "netns", "exec", netns] if netns else []


def _spawn(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _tail(path: Path, n: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


def _owned(pid: int, marker: str) -> bool:
    """True when ``pid`` runs with ``marker`` (our state dir) on its command line."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return marker.encode() in fh.read()
    except OSError:
        return False


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _kill(pid: int | None, marker: str, sig: int = signal.SIGTERM, wait_s: float = 10.0) -> None:
    """Stop ``pid`` if it is still ours; SIGKILL after ``wait_s``."""
    _kill_all([(pid, marker)], sig, wait_s)


def _kill_all(targets: Sequence[tuple[int | None, str]], sig: int = signal.SIGTERM, wait_s: float = 10.0) -> None:
    """Signal every ``(pid, marker)`` that is still ours at once, then wait (Orthanc takes ~2 s)."""
    live = []
    for pid, marker in targets:
        if not pid:
            continue
        if _alive(pid) and _owned(pid, marker):
            os.kill(pid, sig)
            live.append((pid, marker))
        else:
            _reap(pid)
    deadline = time.monotonic() + wait_s
    while live and time.monotonic() < deadline:
        for pid, _ in live:
            _reap(pid)
        live = [(p, m) for p, m in live if _alive(p)]
        if live:
            time.sleep(0.05)
    for pid, marker in live:
        if _alive(pid) and _owned(pid, marker):
            os.kill(pid, signal.SIGKILL)
    time.sleep(0.1 if live else 0)
    for pid, _ in live:
        _reap(pid)


_PROBE = (
    "import socket,sys,time\n"
    "d=time.monotonic()+float(sys.argv[3])\n"
    "while time.monotonic()<d:\n"
    "  try:\n"
    "    socket.create_connection((sys.argv[1],int(sys.argv[2])),1).close();sys.exit(0)\n"
    "  except OSError: time.sleep(0.05)\n"
    "sys.exit(1)\n"
)


def _wait_port(ip: str, port: int, prefix: list[str], timeout: float, pid: int | None) -> bool:
    """Wait until ``ip:port`` accepts TCP (inside the namespace when ``prefix`` is set)."""
    if prefix:
        res = subprocess.run([*prefix, sys.executable, "-c", _PROBE, ip, str(port), str(timeout)],
                             check=False, timeout=timeout + 10)
        return res.returncode == 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pid and not _alive(pid):
            return False
        try:
            socket.create_connection((ip, port), 1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def _start_orthanc(h: CloudHandle, timeout: float) -> None:
    state = Path(h.state_dir)
    log = state / "orthanc.log"
    cmd = [*_prefix(h.netns, h.exec_prefix), ORTHANC_BIN, f"--logfile={log}", str(state / "orthanc.json")]
    proc = _spawn(cmd, state / "orthanc.stdout")
    h.orthanc_pid = proc.pid
    if not _wait_port("127.0.0.1", h.orthanc_port, _prefix(h.netns, h.exec_prefix), timeout, proc.pid):
        _kill(proc.pid, h.state_dir)
        h.orthanc_pid = None
        raise ServiceError(f"Orthanc did not come up on port {h.orthanc_port}:\n{_tail(log)}\n"
                           f"{_tail(state / 'orthanc.stdout')}")


def _start_relay(h: CloudHandle, command: str, pid_field: str, listen: int, upstream: int, options: list[str],
                 timeout: float) -> None:
    """Start one of this file's own relays (``delay-proxy``, ``form-adapter``) between nginx and Orthanc.

    Its PID goes into ``h.<pid_field>`` at once (so a failed start is still stopped with the handle);
    raises ServiceError with its log tail unless it listens on ``listen`` within ``timeout``.
    """
    log = Path(h.state_dir) / f"{command}.log"
    prefix = _prefix(h.netns, h.exec_prefix)
    cmd = [*prefix, sys.executable, os.path.abspath(__file__), command, "--listen", f"127.0.0.1:{listen}",
           "--upstream", f"127.0.0.1:{upstream}", *options, "--state-dir", h.state_dir]
    proc = _spawn(cmd, log)
    setattr(h, pid_field, proc.pid)
    if not _wait_port("127.0.0.1", listen, prefix, timeout, proc.pid):
        _kill(proc.pid, h.state_dir)
        raise ServiceError(f"{command.replace('-', ' ')} did not start:\n{_tail(log)}")


def _start_delay_proxy(h: CloudHandle, timeout: float) -> None:
    _start_relay(h, "delay-proxy", "delay_proxy_pid", int(h.delay_port or 0), h.orthanc_port,
                 ["--delay", str(h.delay_s)], timeout)


def _start_adapter(h: CloudHandle, timeout: float) -> None:
    _start_relay(h, "form-adapter", "adapter_pid", int(h.adapter_port or 0), h.delay_port or h.orthanc_port,
                 ["--forms", h.stow_forms], timeout)


def _start_nginx(h: CloudHandle, timeout: float) -> None:
    state = Path(h.state_dir)
    conf = state / "nginx.conf"
    prefix = _prefix(h.netns, h.exec_prefix)
    test = subprocess.run([*prefix, NGINX_BIN, "-t", "-q", "-p", str(state), "-e",
                           str(state / "nginx-error.log"), "-c", str(conf)],
                          capture_output=True, text=True, check=False)
    if test.returncode != 0:
        raise ServiceError(f"nginx -t rejected {conf}:\n{test.stderr.strip()}")
    cmd = [*prefix, NGINX_BIN, "-p", str(state), "-e", str(state / "nginx-error.log"), "-c", str(conf),
           "-g", "daemon off;"]
    proc = _spawn(cmd, state / "nginx.stdout")
    h.nginx_pid = proc.pid
    if not _wait_port(h.listen_ip, h.https_port, prefix, timeout, proc.pid):
        _kill(proc.pid, h.state_dir)
        h.nginx_pid = None
        raise ServiceError(f"nginx did not listen on {h.listen_ip}:{h.https_port}:\n"
                           f"{_tail(state / 'nginx-error.log')}\n{_tail(state / 'nginx.stdout')}")


def start_cloud_dicomweb(
    state_dir: str | os.PathLike[str],
    *,
    server_cert: str,
    server_key: str,
    client_ca: str | None,
    listen_ip: str = "127.0.0.1",
    https_port: int = 0,
    netns: str | None = None,
    exec_prefix: Sequence[str] = (),
    mtls: str = "on",
    basic_auth: Mapping[str, str] | None = None,
    htpasswd_scheme: str = "bcrypt",
    base_path: str = "/dicomweb",
    server_name: str = DEFAULT_SERVER_NAME,
    orthanc_port: int = 0,
    delay_s: float = 0.0,
    limit_rate: str | None = None,
    stow_forms: str = "multipart",
    start_backend: bool = True,
    timeout: float = 30.0,
) -> CloudHandle:
    """Start Orthanc (+ optional delay proxy) and nginx; return the handle (also saved as JSON).

    ``https_port=0`` / ``orthanc_port=0`` pick free ports (outside a namespace; inside one the
    defaults are 443 and 8042). ``mtls``: ``on`` (client certificate required), ``optional`` or
    ``off``. ``basic_auth``: ``{user: password}`` written to an htpasswd file (bcrypt or apr1
    hash; the passwords are stored nowhere else). ``delay_s`` > 0 puts a proxy between nginx and
    Orthanc that holds every response that long (the "slow service"); ``limit_rate`` (nginx
    syntax, ``"50k"``) throttles responses. ``stow_forms``: ``multipart`` (Orthanc as is: a
    single-part ``application/dicom`` POST gets 415), ``single`` (a vendor that documents only
    the single-part POST: multipart gets 415) or ``both`` (an adapter wraps single-part POSTs
    into multipart for Orthanc). ``start_backend=False`` leaves Orthanc stopped (nginx answers
    502: "service down").
    """
    if mtls not in MTLS_MODES:
        raise ValueError(f"mtls must be one of {MTLS_MODES}, not {mtls!r}")
    if stow_forms not in STOW_FORMS:
        raise ValueError(f"stow_forms must be one of {STOW_FORMS}, not {stow_forms!r}")
    base_path = "/" + base_path.strip("/")
    state = Path(state_dir).resolve()
    if (state / HANDLE_FILE).exists():
        old = CloudHandle.load(state)
        if any(_alive(p) and _owned(p, old.state_dir) for p in old.pids.values() if p):
            raise ServiceError(f"{state} already runs a cloud DICOMweb service: stop it first")
    state.mkdir(parents=True, exist_ok=True)
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (state / "nginx-tmp" / sub).mkdir(parents=True, exist_ok=True)
    (state / "orthanc-db").mkdir(exist_ok=True)
    in_ns = bool(netns or exec_prefix)
    if not https_port:
        https_port = 443 if in_ns else free_port(listen_ip)
    if not orthanc_port:
        orthanc_port = 8042 if in_ns else free_port()
    delay_port = adapter_port = None
    if delay_s > 0:
        delay_port = orthanc_port + 1 if in_ns else free_port()
    if stow_forms != "multipart":
        adapter_port = orthanc_port + 2 if in_ns else free_port()
    upstream_port = adapter_port or delay_port or orthanc_port

    htpasswd = None
    if basic_auth:
        htpasswd = str(state / "htpasswd")
        fd = os.open(htpasswd, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            for user, password in basic_auth.items():
                fh.write(htpasswd_line(user, password, htpasswd_scheme) + "\n")

    (state / "orthanc.json").write_text(json.dumps(orthanc_config(state, orthanc_port), indent=2) + "\n")
    (state / "nginx.conf").write_text(
        nginx_config(state, listen_ip=listen_ip, https_port=https_port, upstream_port=upstream_port,
                     server_name=server_name, server_cert=os.path.abspath(server_cert),
                     server_key=os.path.abspath(server_key),
                     client_ca=os.path.abspath(client_ca) if client_ca else None, mtls=mtls,
                     base_path=base_path, htpasswd=htpasswd, limit_rate=limit_rate)
    )
    h = CloudHandle(
        state_dir=str(state), listen_ip=listen_ip, https_port=https_port, orthanc_port=orthanc_port,
        upstream_port=upstream_port, base_path=base_path, server_name=server_name, mtls=mtls,
        basic_auth_users=sorted(basic_auth or {}), netns=netns, exec_prefix=list(exec_prefix),
        delay_s=delay_s, limit_rate=limit_rate, stow_forms=stow_forms, delay_port=delay_port,
        adapter_port=adapter_port,
        files={"nginx_conf": str(state / "nginx.conf"), "orthanc_conf": str(state / "orthanc.json"),
               "orthanc_log": str(state / "orthanc.log"), "nginx_error_log": str(state / "nginx-error.log"),
               "nginx_access_log": str(state / "nginx-access.log"), "server_cert": server_cert,
               "client_ca": client_ca or ""},
    )
    try:
        if start_backend:
            _start_orthanc(h, timeout)
        if delay_s > 0:
            _start_delay_proxy(h, timeout)
        if adapter_port:
            _start_adapter(h, timeout)
        _start_nginx(h, timeout)
    except Exception:
        stop_cloud_dicomweb(h)
        raise
    h.save()
    return h


def _handle(h: CloudHandle | str | os.PathLike[str]) -> CloudHandle:
    return h if isinstance(h, CloudHandle) else CloudHandle.load(h)


def stop_backend(h: CloudHandle | str | os.PathLike[str]) -> CloudHandle:
    """Stop Orthanc only ("service down": nginx answers 502)."""
    h = _handle(h)
    _kill(h.orthanc_pid, h.state_dir)
    h.orthanc_pid = None
    h.save()
    return h


def start_backend(h: CloudHandle | str | os.PathLike[str], timeout: float = 30.0) -> CloudHandle:
    """(Re)start Orthanc with its existing config and storage."""
    h = _handle(h)
    if not (h.orthanc_pid and _alive(h.orthanc_pid)):
        _start_orthanc(h, timeout)
        h.save()
    return h


def stop_cloud_dicomweb(*handles: CloudHandle | str | os.PathLike[str]) -> None:
    """Stop nginx, the delay proxy and Orthanc of each handle (or state dir) by PID, all at once.

    Only processes started for that state dir are signalled (checked on /proc/PID/cmdline).
    """
    hs = [_handle(h) for h in handles]
    _kill_all([(pid, h.state_dir) for h in hs
               for pid in (h.nginx_pid, h.adapter_pid, h.delay_proxy_pid, h.orthanc_pid)])
    for h in hs:
        h.nginx_pid = h.orthanc_pid = h.delay_proxy_pid = h.adapter_pid = None
        if Path(h.state_dir).is_dir():
            h.save()


FAULT_ORIGINAL = "nginx.conf.before-fault"


def _reload_nginx(h: CloudHandle, timeout: float = 10.0) -> None:
    """SIGHUP nginx and wait until a worker with the new configuration runs (old workers finish their
    requests in the background)."""
    if not (h.nginx_pid and _alive(h.nginx_pid) and _owned(h.nginx_pid, h.state_dir)):
        raise ServiceError("nginx of this service is not running")

    def workers() -> set[int]:
        try:
            text = Path(f"/proc/{h.nginx_pid}/task/{h.nginx_pid}/children").read_text()
        except OSError:
            return set()
        return {int(x) for x in text.split()}

    before = workers()
    os.kill(h.nginx_pid, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if workers() - before:
            return
        time.sleep(0.05)
    raise ServiceError(f"nginx did not reload within {timeout:g} s:\n{_tail(Path(h.state_dir) / 'nginx-error.log')}")


def set_fault(h: CloudHandle | str | os.PathLike[str], locations: str = "",
              directives: Mapping[str, str] | None = None) -> CloudHandle:
    """Reconfigure the running nginx for a fault: ``locations`` (nginx ``location`` blocks) go before the
    DICOMweb location, ``directives`` replace server directives (``ssl_certificate`` ...). The configuration
    before the first fault is kept and :func:`clear_fault` puts it back."""
    h = _handle(h)
    conf = Path(h.state_dir) / "nginx.conf"
    original = Path(h.state_dir) / FAULT_ORIGINAL
    if not original.exists():
        shutil.copy2(conf, original)
    lines = original.read_text().splitlines()
    out = []
    for line in lines:
        key = line.strip().split(" ", 1)[0]
        if directives and key in directives:
            line = f"    {key} {directives[key]};"
        if line.strip() == f"location {h.base_path}/ {{" and locations:
            out.extend("    " + x for x in locations.strip().splitlines())
        out.append(line)
    conf.write_text("\n".join(out) + "\n")
    _reload_nginx(h)
    return h


def clear_fault(h: CloudHandle | str | os.PathLike[str]) -> bool:
    """Put back the configuration :func:`set_fault` saved; True when there was one."""
    h = _handle(h)
    original = Path(h.state_dir) / FAULT_ORIGINAL
    if not original.exists():
        return False
    os.replace(original, Path(h.state_dir) / "nginx.conf")
    _reload_nginx(h)
    return True


def status(h: CloudHandle | str | os.PathLike[str]) -> dict[str, object]:
    h = _handle(h)
    return {
        "url": h.url,
        "listen": f"{h.listen_ip}:{h.https_port}",
        "netns": h.netns,
        "mtls": h.mtls,
        "basic_auth_users": h.basic_auth_users,
        "processes": {name: {"pid": pid, "running": bool(pid and _alive(pid))} for name, pid in h.pids.items()},
    }


# --------------------------------------------------------------------------- delay proxy


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    first = True
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if first and delay:
                await asyncio.sleep(delay)
            first = False
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _proxy(listen: tuple[str, int], upstream: tuple[str, int], delay: float) -> None:
    async def handle(c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        try:
            u_reader, u_writer = await asyncio.open_connection(*upstream)
        except OSError:
            c_writer.close()
            return
        await asyncio.gather(_pipe(c_reader, u_writer, 0.0), _pipe(u_reader, c_writer, delay))

    server = await asyncio.start_server(handle, *listen)
    async with server:
        await server.serve_forever()


def _hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


# --------------------------------------------------------------------------- STOW-RS form adapter


def _adapter_handler(upstream: tuple[str, int], forms: str) -> type:
    """HTTP proxy to Orthanc that makes it behave like a vendor with other STOW-RS request forms."""
    import http.client
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: object) -> None:
            sys.stderr.write("form-adapter: " + (fmt % args) + "\n")

        def _reply(self, status: int, body: bytes, ctype: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body_chunks(self, length: int) -> Iterator[bytes]:
            left = length
            while left > 0:
                chunk = self.rfile.read(min(1 << 20, left))
                if not chunk:
                    break
                left -= len(chunk)
                yield chunk

        def _forward(self, method: str, body: object = None, length: int = 0,
                     headers: dict[str, str] | None = None) -> None:
            conn = http.client.HTTPConnection(*upstream, timeout=600)
            hdrs = {k: v for k, v in self.headers.items()
                    if k.lower() not in ("connection", "content-length", "transfer-encoding")}
            hdrs.update(headers or {})
            if body is not None:
                hdrs["Content-Length"] = str(length)
            conn.request(method, self.path, body=body, headers=hdrs)  # type: ignore[arg-type]
            resp = conn.getresponse()
            data = resp.read()
            self.send_response(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() not in ("connection", "content-length", "transfer-encoding", "keep-alive"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            conn.close()

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            self._forward("GET")

        def do_DELETE(self) -> None:  # noqa: N802
            self._forward("DELETE")

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            ctype = (self.headers.get("Content-Type") or "").lower()
            is_stow = self.path.split("?")[0].rstrip("/").endswith("/studies")
            if is_stow and ctype.startswith("multipart/related") and forms == "single":
                for _ in self._body_chunks(length):
                    pass
                self._reply(415, b"Unsupported Media Type: this STOW-RS service accepts only "
                                 b"Content-Type: application/dicom\n")
                return
            if is_stow and ctype.split(";")[0].strip() == "application/dicom":
                data = b"".join(self._body_chunks(length))
                boundary = "stowpath-adapter-" + secrets.token_hex(8)
                body = (f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + data
                        + f"\r\n--{boundary}--\r\n".encode())
                ct = f'multipart/related; type="application/dicom"; boundary={boundary}'
                self._forward("POST", body, len(body), {"Content-Type": ct})
                return
            self._forward("POST", self._body_chunks(length), length)

    return Handler


def _run_adapter(listen: tuple[str, int], upstream: tuple[str, int], forms: str) -> None:
    import http.server

    server = http.server.ThreadingHTTPServer(listen, _adapter_handler(upstream, forms))
    server.daemon_threads = True
    server.serve_forever()


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="lab cloud DICOMweb service (Orthanc behind nginx mTLS)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    st = sub.add_parser("start", help="start nginx + Orthanc; prints the handle JSON")
    st.add_argument("--state-dir", required=True)
    st.add_argument("--pki", help="directory from lab/services/pki.py (ca.crt, server.crt, server.key)")
    st.add_argument("--server-cert")
    st.add_argument("--server-key")
    st.add_argument("--client-ca")
    st.add_argument("--listen-ip", default="127.0.0.1")
    st.add_argument("--port", type=int, default=0, help="HTTPS port (0: free port / 443 in a netns)")
    st.add_argument("--netns")
    st.add_argument("--mtls", choices=MTLS_MODES, default="on")
    st.add_argument("--basic-user")
    st.add_argument("--basic-password-file", help="file holding the Basic-auth password")
    st.add_argument("--htpasswd-scheme", choices=("bcrypt", "apr1"), default="bcrypt")
    st.add_argument("--base-path", default="/dicomweb")
    st.add_argument("--server-name", default=DEFAULT_SERVER_NAME)
    st.add_argument("--delay", type=float, default=0.0, help="seconds every response is held (slow service)")
    st.add_argument("--limit-rate", help="nginx limit_rate for responses, e.g. 50k")
    st.add_argument("--stow-forms", choices=STOW_FORMS, default="multipart",
                    help="STOW-RS request forms accepted (single/both put an adapter before Orthanc)")
    st.add_argument("--no-backend", action="store_true", help="leave Orthanc stopped (502)")
    for name in ("stop", "status", "backend-stop", "backend-start"):
        p = sub.add_parser(name)
        p.add_argument("--state-dir", required=True)
    dp = sub.add_parser("delay-proxy", help="(internal) TCP proxy that delays responses")
    dp.add_argument("--listen", required=True)
    dp.add_argument("--upstream", required=True)
    dp.add_argument("--delay", type=float, required=True)
    dp.add_argument("--state-dir", default="")
    fa = sub.add_parser("form-adapter", help="(internal) STOW-RS request-form adapter in front of Orthanc")
    fa.add_argument("--listen", required=True)
    fa.add_argument("--upstream", required=True)
    fa.add_argument("--forms", choices=STOW_FORMS, required=True)
    fa.add_argument("--state-dir", default="")
    args = ap.parse_args(argv)

    if args.cmd == "delay-proxy":
        try:
            asyncio.run(_proxy(_hostport(args.listen), _hostport(args.upstream), args.delay))
        except KeyboardInterrupt:
            pass
        return 0
    if args.cmd == "form-adapter":
        with contextlib.suppress(KeyboardInterrupt):
            _run_adapter(_hostport(args.listen), _hostport(args.upstream), args.forms)
        return 0
    if args.cmd == "start":
        pki = Path(args.pki) if args.pki else None
        server_cert = args.server_cert or (str(pki / "server.crt") if pki else None)
        server_key = args.server_key or (str(pki / "server.key") if pki else None)
        client_ca = args.client_ca or (str(pki / "ca.crt") if pki else None)
        if not server_cert or not server_key:
            ap.error("give --pki DIR or --server-cert and --server-key")
        basic = None
        if args.basic_user:
            if not args.basic_password_file:
                ap.error("--basic-user needs --basic-password-file")
            basic = {args.basic_user: Path(args.basic_password_file).read_text().strip()}
        h = start_cloud_dicomweb(
            args.state_dir, server_cert=server_cert, server_key=server_key, client_ca=client_ca,
            listen_ip=args.listen_ip, https_port=args.port, netns=args.netns, mtls=args.mtls,
            basic_auth=basic, htpasswd_scheme=args.htpasswd_scheme, base_path=args.base_path,
            server_name=args.server_name, delay_s=args.delay, limit_rate=args.limit_rate,
            stow_forms=args.stow_forms,
            start_backend=not args.no_backend,
        )
        print(json.dumps(status(h), indent=2))
    elif args.cmd == "stop":
        stop_cloud_dicomweb(args.state_dir)
    elif args.cmd == "status":
        print(json.dumps(status(args.state_dir), indent=2))
    elif args.cmd == "backend-stop":
        stop_backend(args.state_dir)
    elif args.cmd == "backend-start":
        start_backend(args.state_dir)
    return 0


if __name__ == "__main__":
    if shutil.which("ip") is None and "--netns" in sys.argv:
        sys.exit("iproute2 (ip) is needed for --netns")
    sys.exit(main())
