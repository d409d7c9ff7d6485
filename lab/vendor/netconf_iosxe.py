#!/usr/bin/env python3
"""IOS-XE NETCONF target for the lab: Debian ``netconfd`` (yuma123) loaded with Cisco's IOS-XE
native YANG models (16.9.1, from the PyPI sdist ``ydk-models-cisco-ios-xe``), behind a real OpenSSH
server with ``Subsystem netconf``.

This is NOT an IOS-XE router: it validates IOS-XE native XML against Cisco's real schema and runs the
real NETCONF datastore mechanics (candidate, lock, confirmed-commit with server-side rollback,
discard-changes), but it has no data plane and no IOS semantic checks.

Operational data (``<get>`` of Cisco-IOS-XE-crypto-oper ``crypto-oper-data``, Cisco-IOS-XE-bgp-oper
``bgp-state-data``, ietf-routing ``routing-state``) comes from a NETCONF STATE SIMULATOR in front of
netconfd: sshd's subsystem is ``netconf_oper_proxy.py relay``, which passes every other RPC to the real
``netconf-subsystem`` unchanged and answers those ``<get>``s from the running configuration evaluated
against the lab cloud (``cloud_state.py``) by a root ``netconf_oper_proxy.py state-server``.

    netconf_iosxe.py start  [--port N] [--state-dir DIR] [--user U] [--password P]
    netconf_iosxe.py stop   [--state-dir DIR]
    netconf_iosxe.py status [--state-dir DIR]      # prints JSON (host, port, user, pids, up)

Processes are started in the background and stopped by the PIDs recorded in ``DIR/state.json``.
Runs as root (sshd needs it); the SSH user is a dedicated local account (default ``stowpath-nc``).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[2]
# global (not per checkout): any checkout's `lab-down` / `lab-up` finds and stops it
DEFAULT_STATE = Path(os.environ.get("STOWPATH_LAB_STATE", "/run/stowpath-lab")) / "vendor" / "netconf-iosxe"
CACHE = ROOT / ".lab" / "vendor"
YANG_DIR = CACHE / "yang"
USER_LOCK = Path("/run/lock/stowpath-lab-netconf-user.lock")
SDIST = "ydk-models-cisco-ios-xe==16.9.1"
DEFAULT_PORT = 8830
DEFAULT_USER = "stowpath-nc"
DEFAULT_PASSWORD = "stowpath-lab-nc"  # lab-only account on 127.0.0.1
OPER_PROXY = Path(__file__).resolve().with_name("netconf_oper_proxy.py")
# the account's login shell: runs the NETCONF relay and nothing else (no interactive shell on this host)
LOGIN_SHELL = Path("/usr/local/lib/stowpath-lab/netconf-login")
RELAY_PYTHON = "/usr/bin/python3"  # the SSH user cannot run the root-owned venv: the relay is stdlib only
PROCESSES = ("netconfd", "sshd", "oper_proxy")
# Top modules only (submodules such as Cisco-IOS-XE-ip/-interfaces come in through `include`).
MODULES = (
    "Cisco-IOS-XE-native",
    "Cisco-IOS-XE-crypto",
    "Cisco-IOS-XE-bgp",
    "Cisco-IOS-XE-acl",
    "Cisco-IOS-XE-route-map",
)
# Two defects of the 16.9.1 models that yuma123 (rightly) refuses; fixed with the smallest edit.
PATCHES = (
    ("Cisco-IOS-XE-mpls.yang", r"count\(\.\.\[", "count(parent::node()["),  # invalid XPath
    ("Cisco-IOS-XE-acl.yang", r"\{,3\}", "{0,3}"),  # invalid XSD regex quantifier
)


def _pip() -> str:
    cand = Path(sys.executable).with_name("pip")
    return str(cand) if cand.exists() else "pip"


def ensure_models() -> Path:
    """Fetch the sdist once, extract the ``.yang`` files and apply the two patches (idempotent, locked)."""
    marker = YANG_DIR / ".patched"
    if marker.exists():
        return YANG_DIR
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".models.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return YANG_DIR
        return _extract_models(marker)


def _extract_models(marker: Path) -> Path:
    tarballs = sorted(CACHE.glob("ydk-models-cisco-ios-xe-16.9.1.tar.gz"))
    if not tarballs:
        subprocess.run(
            [_pip(), "download", "-q", "--no-deps", "--no-binary", ":all:", SDIST, "-d", str(CACHE)],
            check=True,
        )
        tarballs = sorted(CACHE.glob("ydk-models-cisco-ios-xe-16.9.1.tar.gz"))
    tmp = YANG_DIR.with_suffix(".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with tarfile.open(tarballs[0]) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith(".yang") and "/_yang/" in member.name:
                src = tar.extractfile(member)
                assert src is not None
                (tmp / Path(member.name).name).write_bytes(src.read())
    for name, pattern, repl in PATCHES:
        path = tmp / name
        text, count = re.subn(pattern, repl, path.read_text())
        if not count:
            raise RuntimeError(f"patch for {name} did not apply")
        path.write_text(text)
    shutil.rmtree(YANG_DIR, ignore_errors=True)
    tmp.rename(YANG_DIR)
    marker.write_text("patched\n")
    return YANG_DIR


def _login_shell() -> Path:
    """A login shell that only executes the relay command sshd hands it (``-c "python3 proxy relay ..."``),
    for the relay of every checkout that started a target (their paths are kept in the file)."""
    relays = {f"{RELAY_PYTHON} {OPER_PROXY} relay "}
    if LOGIN_SHELL.exists():
        relays |= {ln[len("# relay: "):] for ln in LOGIN_SHELL.read_text().splitlines() if ln.startswith("# relay: ")}
    LOGIN_SHELL.parent.mkdir(parents=True, exist_ok=True)
    lines = ["#!/bin/sh", "# login shell of the lab NETCONF simulator's account: the NETCONF relay only"]
    lines += [f"# relay: {r}" for r in sorted(relays)]
    lines.append('case "$2" in *[!A-Za-z0-9/@=._:\\ -]*) exit 1;; esac')
    lines += [f'case "$1 $2" in "-c {r}"*) set -f; exec $2;; esac' for r in sorted(relays)]
    lines += ['echo "this account only runs the lab NETCONF subsystem" >&2', "exit 1", ""]
    tmp = LOGIN_SHELL.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text("\n".join(lines))
    os.chmod(tmp, 0o755)
    os.replace(tmp, LOGIN_SHELL)
    return LOGIN_SHELL


def ensure_user(user: str, password: str) -> None:
    """A local account for the SSH login. Its login shell runs the NETCONF relay only (sshd runs
    subsystems through it), so its lab password opens no shell on this host; ``stop`` removes it.

    Serialised with a lock file: parallel test workers may start targets at the same time."""
    shell = str(_login_shell())
    if subprocess.run(["id", "-u", user], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "-r", "-M", "-d", "/nonexistent", "-s", shell, user], check=True)
    else:
        subprocess.run(["usermod", "-s", shell, user], check=True, capture_output=True)
    for attempt in range(10):
        if subprocess.run(["chpasswd"], input=f"{user}:{password}\n", text=True,
                          capture_output=True).returncode == 0:
            return
        time.sleep(0.2 * (attempt + 1))  # /etc/shadow locked by another tool
    raise RuntimeError(f"could not set the password of {user} (chpasswd kept failing)")


@contextlib.contextmanager
def _user_lock() -> Iterator[None]:
    USER_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(USER_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _netconfd_users() -> set[str]:
    """Accounts that a running netconfd serves (``--superuser=``)."""
    users = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if args and args[0].endswith("netconfd"):
            users.update(a.split("=", 1)[1] for a in args if a.startswith("--superuser="))
    return users


def remove_user_if_unused(user: str) -> bool:
    """Delete the simulator's account (and its login shell) once no netconfd serves it any more."""
    with _user_lock():
        if user in _netconfd_users():
            return False
        if subprocess.run(["id", "-u", user], capture_output=True).returncode == 0:
            subprocess.run(["userdel", user], capture_output=True)
        if not _netconfd_users():
            LOGIN_SHELL.unlink(missing_ok=True)
        return True


def _add_known_host(path: Path, port: int, pubkey_file: Path) -> None:
    """Record this target's host key as ``[127.0.0.1]:PORT`` in ``path`` (replacing an older line)."""
    key_type, key = pubkey_file.read_text().split()[:2]
    name = f"[127.0.0.1]:{port}"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = path.read_text().splitlines() if path.exists() else []
    lines = [ln for ln in lines if ln.split(" ", 1)[0] != name] + [f"{name} {key_type} {key}"]
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _connectable(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(str(path))
        except OSError:
            return False
        return True


def _alive(pid: int, needle: str) -> bool:
    try:
        return needle in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def _read_state(state_dir: Path) -> dict:
    try:
        return json.loads((state_dir / "state.json").read_text())
    except (OSError, ValueError):
        return {}


def start(state_dir: Path, port: int, user: str, password: str, authorized_key: str | None,
          known_hosts: Path | None = None) -> dict:
    old = _read_state(state_dir)
    if old and all(k in old["pids"] and _alive(old["pids"][k], k) for k in PROCESSES):
        return status(state_dir)
    stop(state_dir)
    yang = ensure_models()
    state_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(state_dir, 0o700)
    # short path: AF_UNIX names are limited (~107 bytes) and netconf-subsystem truncates long ones
    sock = Path(f"/tmp/stowpath-ncx-{port}.sock")
    state_sock = Path(f"/tmp/stowpath-ncstate-{port}.sock")
    hostkey = state_dir / "ssh_host_ed25519_key"
    if not hostkey.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(hostkey)], check=True)
    auth_keys = state_dir / "authorized_keys"
    auth_keys.write_text((authorized_key.strip() + "\n") if authorized_key else "")
    os.chmod(auth_keys, 0o644)
    sshd_cfg = state_dir / "sshd_config"
    sshd_cfg.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {hostkey}",
                f"PidFile {state_dir / 'sshd.pid'}",
                "UsePAM no",
                "PasswordAuthentication yes",
                "KbdInteractiveAuthentication no",
                "PubkeyAuthentication yes",
                f"AuthorizedKeysFile {auth_keys}",
                "StrictModes no",
                f"AllowUsers {user}",
                "PermitRootLogin no",
                "MaxStartups 50:30:100",
                "LogLevel INFO",
                f"Subsystem netconf {RELAY_PYTHON} {OPER_PROXY} relay --ncx-sockname={port}@{sock} "
                f"--state-socket={state_sock}",
                "",
            ]
        )
    )
    startup = state_dir / "startup-cfg.xml"
    if not startup.exists():
        startup.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"/>\n')
    sock.unlink(missing_ok=True)
    user_lock = _user_lock()
    user_lock.__enter__()  # released once netconfd (which marks the account as in use) runs
    ensure_user(user, password)
    cmd = [
        "/usr/sbin/netconfd",
        f"--modpath={yang}:/usr/share/yuma/modules",
        *[f"--module={m}" for m in MODULES],
        "--target=candidate",
        "--with-startup=false",
        f"--startup={startup}",
        f"--port={port}",
        f"--ncxserver-sockname={sock}",
        f"--superuser={user}",
        "--log-level=info",
        "--warn-off=422",
        "--warn-off=438",
        f"--log={state_dir / 'netconfd.log'}",
        "--idle-timeout=600",
        "--hello-timeout=60",
    ]
    try:
        ncd = subprocess.Popen(
            cmd, cwd=state_dir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        user_lock.__exit__(None, None, None)
    deadline = time.monotonic() + 30
    while not (sock.exists() and _connectable(sock)):
        if ncd.poll() is not None or time.monotonic() > deadline:
            log = (state_dir / "netconfd.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"netconfd did not start:\n{log}")
        time.sleep(0.05)
    # only the simulator's account (netconf-subsystem runs as it) may connect: never world-writable
    shutil.chown(sock, user)
    os.chmod(sock, 0o600)
    state_sock.unlink(missing_ok=True)
    with open(state_dir / "oper_proxy.log", "ab") as oper_log:
        oper = subprocess.Popen(
            [sys.executable, str(OPER_PROXY), "state-server", "--socket", str(state_sock)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=oper_log, start_new_session=True,
        )
    while not (state_sock.exists() and _connectable(state_sock)):
        if oper.poll() is not None or time.monotonic() > deadline:
            ncd.terminate()
            raise RuntimeError("the operational state simulator did not start: "
                               + (state_dir / "oper_proxy.log").read_text(errors="replace")[-2000:])
        time.sleep(0.05)
    shutil.chown(state_sock, user)
    os.chmod(state_sock, 0o600)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    sshd = subprocess.Popen(
        ["/usr/sbin/sshd", "-D", "-f", str(sshd_cfg), "-E", str(state_dir / "sshd.log")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    while not _port_open(port):
        if sshd.poll() is not None or time.monotonic() > deadline:
            ncd.terminate()
            oper.terminate()
            raise RuntimeError("sshd did not start: " + (state_dir / "sshd.log").read_text(errors="replace"))
        time.sleep(0.05)
    state = {
        "target": "netconfd (yuma123) with Cisco IOS-XE 16.9.1 native YANG models + a NETCONF state simulator "
                  "(crypto/bgp/route operational data) -- a simulator, not IOS-XE",
        "host": "127.0.0.1",
        "port": port,
        "user": user,
        "pids": {"netconfd": ncd.pid, "sshd": sshd.pid, "oper_proxy": oper.pid},
        "socket": str(sock),
        "state_socket": str(state_sock),
        "oper_models": ["Cisco-IOS-XE-crypto-oper", "Cisco-IOS-XE-bgp-oper", "ietf-routing"],
        "modules": list(MODULES),
        "log": str(state_dir / "netconfd.log"),
    }
    (state_dir / "state.json").write_text(json.dumps(state, indent=2))
    if known_hosts:
        _add_known_host(known_hosts, port, hostkey.with_name(hostkey.name + ".pub"))
    return status(state_dir)


def stop(state_dir: Path) -> dict:
    state = _read_state(state_dir)
    for name, pid in state.get("pids", {}).items():
        if _alive(pid, name):
            os.kill(pid, signal.SIGTERM)
            for _ in range(50):
                if not _alive(pid, name):
                    break
                time.sleep(0.05)
            else:
                os.kill(pid, signal.SIGKILL)
    if state:
        (state_dir / "state.json").unlink(missing_ok=True)
        for key in ("socket", "state_socket"):
            if state.get(key):
                Path(state[key]).unlink(missing_ok=True)
        if state.get("user"):
            remove_user_if_unused(state["user"])
    return {"up": False}


def status(state_dir: Path) -> dict:
    state = _read_state(state_dir)
    if not state:
        return {"up": False}
    up = all(_alive(pid, k) for k, pid in state["pids"].items()) and _port_open(state["port"])
    return {**state, "up": up}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=("start", "stop", "status", "prepare"))
    ap.add_argument("--state-dir", type=Path, default=DEFAULT_STATE)
    ap.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 = pick a free port")
    ap.add_argument("--user", default=DEFAULT_USER)
    ap.add_argument("--password", default=os.environ.get("STOWPATH_NC_PASSWORD", DEFAULT_PASSWORD))
    ap.add_argument("--authorized-key", help="public key line allowed to log in (optional)")
    ap.add_argument("--known-hosts", type=Path, help="record this target's SSH host key in this known_hosts file")
    args = ap.parse_args(argv)
    if args.action == "prepare":
        print(json.dumps({"yang_dir": str(ensure_models())}))
        return 0
    if args.action == "start":
        port = args.port or free_port()
        result = start(args.state_dir, port, args.user, args.password, args.authorized_key, args.known_hosts)
    elif args.action == "stop":
        result = stop(args.state_dir)
    else:
        result = status(args.state_dir)
    print(json.dumps(result, indent=2))
    return 0 if (result.get("up") or args.action == "stop") else 1


if __name__ == "__main__":
    sys.exit(main())
