#!/usr/bin/env python3
"""The lab's on-prem PACS: an Orthanc with its DICOMweb plugin, REST API and synthetic test studies.

Function API (used by lab/lab.py and the tests)::

    h = start_pacs(workdir, ip="127.0.0.1", port=free_port())           # loopback
    h = start_pacs(".lab/pacs", ip="203.0.113.10", port=8042, netns="sp-pacs",
                   username="pacsadmin", password=...)                 # in the lab
    load_test_studies(h, count=1, instances=2)  -> [{"id", "study_uid", "instances"}]
    restart_pacs(h); stop_pacs(h)  (by PID, checked against /proc/PID/cmdline)

CLI::

    lab/services/pacs.py start --workdir .lab/pacs --ip 203.0.113.10 --port 8042 --netns sp-pacs
    lab/services/pacs.py load --workdir .lab/pacs --count 1 --instances 2
    lab/services/pacs.py status|restart|stop --workdir .lab/pacs

Orthanc binds its HTTP port on every address of its network namespace (it cannot bind one address):
on loopback it runs with ``RemoteAccessAllowed: false``; in a namespace the namespace is the boundary.
``DicomWeb.ServersInDatabase: true`` keeps destinations created at run time across restarts.
The DICOM (DIMSE) listener is off: only HTTP is used.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "collections") not in sys.path:
    sys.path.insert(0, str(ROOT / "collections"))

ORTHANC = "/usr/sbin/Orthanc"
DICOMWEB_PLUGIN = "/usr/lib/orthanc/libOrthancDicomWeb.so.1.7"
STATE_FILE = "pacs.json"
# the auto-router's per-study state (plugins/module_utils/pacs/autoroute.py), declared as user metadata
ROUTE_METADATA, ROUTE_METADATA_INDEX = "StowpathRoute", 4601


@dataclass
class OrthancHandle:
    """What a started Orthanc is: enough to reach it, restart it and stop it by PID."""

    name: str
    workdir: str
    config: str
    logfile: str
    pid: int
    ip: str
    port: int
    # where the process runs: ``exec_prefix`` if given, else ``ip netns exec NETNS``, else here
    netns: str | None = None
    exec_prefix: list[str] = field(default_factory=list)
    # the REST API's Basic-auth credentials (none: no authentication) and the DICOMweb root
    username: str | None = None
    password: str | None = None
    dicomweb_root: str = "/dicom-web/"

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}"

    @property
    def dicomweb_url(self) -> str:
        return self.url + self.dicomweb_root.rstrip("/")

    def auth_header(self) -> dict[str, str]:
        if not self.username:
            return {}
        token = base64.b64encode(f"{self.username}:{self.password or ''}".encode()).decode()
        return {"Authorization": "Basic " + token}


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def orthanc_config(
    workdir: Path,
    port: int,
    name: str = "STOWPATH-PACS",
    remote_access: bool = False,
    users: dict[str, str] | None = None,
    dicomweb_root: str = "/dicom-web/",
    servers_in_database: bool = True,
    https_ca_certificates: str = "",
    https_verify_peers: bool = True,
    http_timeout: int = 60,
    extra: dict[str, Any] | None = None,
    dicom_port: int | None = None,
) -> dict[str, Any]:
    """The JSON configuration of one lab Orthanc (storage and index under ``workdir``).

    ``dicom_port`` turns on the DICOM (C-STORE SCP) listener, AE title ``STOWPATHPACS``, accepting any
    calling AE (the lab modality sends with dcmtk ``storescu``). ``UserMetadata`` declares the
    auto-router's per-study state (``StowpathRoute``), which it keeps in the PACS itself.
    """
    cfg: dict[str, Any] = {
        "Name": name,
        "StorageDirectory": str(workdir / "storage"),
        "IndexDirectory": str(workdir / "storage"),
        "HttpPort": port,
        "HttpServerEnabled": True,
        "DicomServerEnabled": dicom_port is not None,
        "DicomPort": dicom_port or 4242,
        "DicomAet": "STOWPATHPACS",
        "DicomCheckCalledAet": False,
        "DicomAlwaysAllowStore": True,
        "UserMetadata": {ROUTE_METADATA: ROUTE_METADATA_INDEX},
        "RemoteAccessAllowed": remote_access,
        "AuthenticationEnabled": bool(users),
        "RegisteredUsers": dict(users or {}),
        "HttpTimeout": http_timeout,
        "HttpsVerifyPeers": https_verify_peers,
        "HttpsCACertificates": https_ca_certificates,
        "Plugins": [DICOMWEB_PLUGIN],
        "ConcurrentJobs": 2,
        "JobsHistorySize": 50,
        "SaveJobs": False,
        "StableAge": 2,
        "DicomWeb": {
            "Enable": True,
            "Root": dicomweb_root,
            "EnableWado": False,
            "ServersInDatabase": servers_in_database,
            "Servers": {},
        },
    }
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


def _request(h: OrthancHandle, method: str, path: str, body: bytes | None = None,
             content_type: str = "application/json", timeout: float = 10.0) -> tuple[int, bytes]:
    headers = {"Content-Type": content_type, **h.auth_header()}
    req = urllib.request.Request(h.url + path, data=body, method=method, headers=headers)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _exec_prefix(h: OrthancHandle) -> list[str]:
    """``exec_prefix`` if given (e.g. ``nsenter -t PID -n -m`` for a lab device with its own mount
    namespace), else ``ip netns exec NETNS`` when ``netns`` is set, else nothing."""
    if h.exec_prefix:
        return list(h.exec_prefix)
    return ["ip", "netns", "exec", h.netns] if h.netns else []


def wait_ready(h: OrthancHandle, timeout_s: float = 30.0) -> None:
    """Wait until ``GET /system`` answers 200; raise RuntimeError with the log tail otherwise."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        if not _running(h.pid):
            break
        try:
            status, _ = _request(h, "GET", "/system", timeout=2.0)
            if status == 200:
                return
            last = f"HTTP {status}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.1)
    raise RuntimeError(f"Orthanc {h.name} not ready on {h.url} ({last}); log tail:\n{log_tail(h)}")


def log_tail(h: OrthancHandle, lines: int = 20) -> str:
    try:
        return "\n".join(Path(h.logfile).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _running(pid: int) -> bool:
    """The process exists and is not a zombie (its cmdline may still be ours right after fork)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _alive(pid: int, config: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        state = "?"
    return state != "Z" and config.encode() in cmdline


def _spawn(h: OrthancHandle) -> int:
    log = open(Path(h.workdir) / "orthanc.stdout", "ab")  # noqa: SIM115 - handed to the child
    cmd = [*_exec_prefix(h), ORTHANC, f"--logfile={h.logfile}", h.config]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    log.close()
    return proc.pid


def start_orthanc(
    workdir: str | os.PathLike[str],
    ip: str = "127.0.0.1",
    port: int | None = None,
    netns: str | None = None,
    name: str = "STOWPATH-PACS",
    username: str | None = None,
    password: str | None = None,
    dicomweb_root: str = "/dicom-web/",
    exec_prefix: list[str] | tuple[str, ...] = (),
    servers_in_database: bool = True,
    https_ca_certificates: str = "",
    https_verify_peers: bool = True,
    http_timeout: int = 60,
    extra_config: dict[str, Any] | None = None,
    wait_s: float = 30.0,
    dicom_port: int | None = None,
) -> OrthancHandle:
    """Write the config, start Orthanc (in ``netns`` if given), wait until its REST API answers.

    Re-uses nothing: if a previous instance of this workdir runs, it is stopped first.
    ``ip`` is the address clients use (Orthanc listens on every address of its namespace); an
    address outside 127.0.0.0/8 turns on ``RemoteAccessAllowed`` (pass username/password then).
    The workdir must be visible inside the process's mount namespace (not under a private /run).
    """
    wd = Path(workdir).resolve()
    wd.mkdir(parents=True, exist_ok=True)
    (wd / "storage").mkdir(exist_ok=True)
    old = load_handle(wd)
    if old is not None:
        stop_orthanc(old)
    port = port or free_port()
    remote = not (ip.startswith("127.") or ip == "localhost")
    users = {username: password or ""} if username else None
    cfg = orthanc_config(wd, port, name=name, remote_access=remote, users=users, dicomweb_root=dicomweb_root,
                         servers_in_database=servers_in_database, https_ca_certificates=https_ca_certificates,
                         https_verify_peers=https_verify_peers, http_timeout=http_timeout, extra=extra_config,
                         dicom_port=dicom_port)
    config = wd / "orthanc.json"
    config.write_text(json.dumps(cfg, indent=2))
    config.chmod(0o600)
    h = OrthancHandle(name=name, workdir=str(wd), config=str(config), logfile=str(wd / "orthanc.log"), pid=0,
                      ip=ip, port=port, netns=netns, username=username, password=password,
                      dicomweb_root=dicomweb_root, exec_prefix=list(exec_prefix))
    h.pid = _spawn(h)
    _save_handle(h)
    try:
        wait_ready(h, wait_s)
    except RuntimeError:
        stop_orthanc(h)
        raise
    return h


def start_pacs(workdir: str | os.PathLike[str], ip: str = "127.0.0.1", port: int | None = None,
               netns: str | None = None, username: str | None = None, password: str | None = None,
               **kwargs: Any) -> OrthancHandle:
    """The on-prem PACS: :func:`start_orthanc` with the PACS's name and ServersInDatabase on."""
    kwargs.setdefault("name", "STOWPATH-PACS")
    return start_orthanc(workdir, ip=ip, port=port, netns=netns, username=username, password=password, **kwargs)


def stop_orthanc(h: OrthancHandle, timeout_s: float = 15.0) -> bool:
    """Stop by PID (SIGTERM, then SIGKILL). Only signals a process running this handle's config."""
    stopped = False
    if h.pid and _alive(h.pid, h.config):
        os.kill(h.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _alive(h.pid, h.config):
            time.sleep(0.1)
        if _alive(h.pid, h.config):
            os.kill(h.pid, signal.SIGKILL)
            time.sleep(0.2)
        stopped = True
    try:
        os.waitpid(h.pid, os.WNOHANG)  # reap if it was our child
    except ChildProcessError:
        pass
    except OSError:
        pass
    state = Path(h.workdir) / STATE_FILE
    if state.exists():
        state.unlink()
    return stopped


stop_pacs = stop_orthanc


def restart_orthanc(h: OrthancHandle, wait_s: float = 30.0) -> OrthancHandle:
    """A real process restart (stop by PID, start again with the same config, port and storage)."""
    stop_orthanc(h)
    h.pid = _spawn(h)
    _save_handle(h)
    wait_ready(h, wait_s)
    return h


restart_pacs = restart_orthanc


def _save_handle(h: OrthancHandle) -> None:
    path = Path(h.workdir) / STATE_FILE
    path.write_text(json.dumps(asdict(h), indent=2))
    path.chmod(0o600)


def load_handle(workdir: str | os.PathLike[str]) -> OrthancHandle | None:
    """The handle of the Orthanc started in ``workdir`` (None when none is recorded)."""
    path = Path(workdir) / STATE_FILE
    if not path.exists():
        return None
    return OrthancHandle(**json.loads(path.read_text()))


def status(h: OrthancHandle | None) -> dict[str, Any]:
    if h is None:
        return {"running": False}
    alive = _alive(h.pid, h.config)
    out: dict[str, Any] = {"running": alive, "pid": h.pid, "url": h.url, "netns": h.netns}
    if alive:
        try:
            code, body = _request(h, "GET", "/statistics", timeout=3.0)
            out["statistics"] = json.loads(body) if code == 200 else f"HTTP {code}"
        except OSError as exc:
            out["statistics"] = str(exc)
    return out


def upload_instances(h: OrthancHandle, instances: list[bytes]) -> list[dict[str, Any]]:
    """POST each Part-10 file to ``/instances``; returns Orthanc's answers."""
    answers = []
    for data in instances:
        code, body = _request(h, "POST", "/instances", body=data, content_type="application/dicom", timeout=60)
        if code != 200:
            raise RuntimeError(f"upload to {h.name} failed: HTTP {code} {body[:200]!r}")
        answers.append(json.loads(body))
    return answers


def load_test_studies(h: OrthancHandle, count: int = 1, instances: int = 1) -> list[dict[str, Any]]:
    """Store ``count`` new synthetic studies (patient STOWPATH^TEST^SYNTHETIC) in the Orthanc.

    Returns ``[{"id": <Orthanc study id>, "study_uid": ..., "instances": n}]``.
    """
    from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.synth import (
        make_study,
    )

    out = []
    for _ in range(count):
        study = make_study(instances=instances)
        answers = upload_instances(h, study.instances)
        out.append({"id": answers[0]["ParentStudy"], "study_uid": study.study_uid, "instances": instances})
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["start", "stop", "restart", "status", "load"])
    p.add_argument("--workdir", default=str(ROOT / ".lab" / "pacs"))
    p.add_argument("--ip", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8042)
    p.add_argument("--netns")
    p.add_argument("--exec-prefix", default="", help="command prefix instead of ip netns exec (split on spaces)")
    p.add_argument("--name", default="STOWPATH-PACS")
    p.add_argument("--username")
    p.add_argument("--password-file", help="file holding the REST API password (never on the command line)")
    p.add_argument("--https-ca", default="", help="HttpsCACertificates: CA bundle to verify the cloud")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--instances", type=int, default=1)
    a = p.parse_args(argv)
    h = load_handle(a.workdir)
    if a.command == "start":
        password = Path(a.password_file).read_text().strip() if a.password_file else None
        h = start_pacs(a.workdir, ip=a.ip, port=a.port, netns=a.netns, name=a.name, username=a.username,
                       password=password, https_ca_certificates=a.https_ca, exec_prefix=a.exec_prefix.split())
        print(json.dumps({"started": True, "pid": h.pid, "url": h.url, "netns": h.netns}))
        return 0
    if h is None:
        print(json.dumps({"running": False, "workdir": a.workdir}))
        return 0 if a.command in ("stop", "status") else 1
    if a.command == "stop":
        print(json.dumps({"stopped": stop_orthanc(h), "pid": h.pid}))
    elif a.command == "restart":
        h = restart_orthanc(h)
        print(json.dumps({"restarted": True, "pid": h.pid, "url": h.url}))
    elif a.command == "status":
        print(json.dumps(status(h), indent=2))
    elif a.command == "load":
        print(json.dumps(load_test_studies(h, a.count, a.instances), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
