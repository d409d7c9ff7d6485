"""SSH host-key verification shared by the SSH-based transports (netmiko CLI, NETCONF).

Every router session checks the device's host key against a known_hosts file: the controller user's
``~/.ssh/known_hosts`` (and the system one), or ``gateway_known_hosts`` when the inventory names a file.
An unknown or changed key stops the session with a :class:`HostKeyError` that names the host, the key
the device presented (type and SHA256 fingerprint, as ``ssh-keygen -l`` prints it) and how to accept a
legitimate change.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
from typing import Any

from .errors import ConnectError


class HostKeyError(ConnectError):
    """The device's SSH host key is not the one recorded in known_hosts (or none is recorded)."""

    kind = "host_key"


def default_files() -> list[str]:
    """The files looked up when no ``known_hosts`` is given (like OpenSSH's defaults)."""
    return [os.path.expanduser("~/.ssh/known_hosts"), "/etc/ssh/ssh_known_hosts"]


def host_entry(host: str, port: int) -> str:
    """The name a host is recorded under in known_hosts (``[host]:port`` unless the port is 22)."""
    return host if int(port) == 22 else f"[{host}]:{port}"


def fingerprint(key: Any) -> str:
    """``ssh-ed25519 SHA256:...`` (the format of ``ssh-keygen -lf``)."""
    digest = base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")
    return f"{key.get_name()} SHA256:{digest}"


def recorded_keys(host: str, port: int, files: list[str]) -> dict[str, Any]:
    """``{key type: key}`` recorded for ``host``/``port`` in ``files`` (hashed entries included)."""
    import paramiko

    found: dict[str, Any] = {}
    for path in files:
        if not os.path.isfile(path):
            continue
        try:
            keys = paramiko.HostKeys(path)
        except (OSError, paramiko.SSHException):
            continue
        for name in {host_entry(host, port), host} if int(port) == 22 else {host_entry(host, port)}:
            entry = keys.lookup(name)
            if entry:
                found.update({t: entry[t] for t in entry.keys()})
    return found


def presented_key(host: str, port: int, timeout: float = 10.0) -> Any:
    """The host key the device presents (an SSH key exchange only, no authentication), or None."""
    import paramiko

    try:
        sock = socket.create_connection((host, int(port)), timeout=timeout)
    except OSError:
        return None
    transport = paramiko.Transport(sock)
    try:
        transport.start_client(timeout=timeout)
        return transport.get_remote_server_key()
    except (paramiko.SSHException, OSError, EOFError):
        return None
    finally:
        transport.close()


def check(host: str, port: int, known_hosts: str | None, timeout: float = 10.0) -> HostKeyError | None:
    """A :class:`HostKeyError` when the device's key is not trusted by ``known_hosts``; None when it is."""
    files = [known_hosts] if known_hosts else default_files()
    key = presented_key(host, port, timeout)
    if key is None:
        return None
    recorded = recorded_keys(host, port, files)
    if any(k.asbytes() == key.asbytes() for k in recorded.values()):
        return None
    return host_key_error(host, port, key, recorded, files)


def host_key_error(host: str, port: int, key: Any, recorded: dict[str, Any], files: list[str]) -> HostKeyError:
    name = host_entry(host, port)
    kh = files[0]
    keyscan = f"ssh-keyscan -p {port} -t {key.get_name()} {host} >> {kh}"
    if recorded:
        was = ", ".join(fingerprint(k) for k in recorded.values())
        return HostKeyError(
            f"SSH HOST KEY CHANGED for {name}: the device presented {fingerprint(key)}, but {kh} records {was}. "
            "Nothing was sent. This can be a man-in-the-middle; if the change is legitimate (device replaced or "
            "re-keyed), confirm the new fingerprint with the device's console, then: "
            f"ssh-keygen -R '{name}' -f {kh} && {keyscan} (gateway_known_hosts names the file)")
    return HostKeyError(
        f"SSH host key of {name} is unknown: the device presented {fingerprint(key)}, which is not in "
        f"{' or '.join(files)}. Nothing was sent. Confirm the fingerprint with the device's console, then "
        f"add it: {keyscan} (gateway_known_hosts names the file)")


def ncclient_kwargs(known_hosts: str | None, verify: bool, workdir: str) -> dict[str, Any]:
    """ncclient ``manager.connect`` arguments that verify against ``known_hosts`` (an ssh_config in
    ``workdir`` points ncclient at the file: its own option only reads ``~/.ssh/known_hosts``)."""
    if not verify:
        return {"hostkey_verify": False}
    kwargs: dict[str, Any] = {"hostkey_verify": True}
    if known_hosts:
        cfg = os.path.join(workdir, "ssh_config")
        with open(cfg, "w") as fh:
            fh.write(f"Host *\n  UserKnownHostsFile {known_hosts}\n")
        kwargs["ssh_config"] = cfg
    return kwargs


def netmiko_kwargs(known_hosts: str | None, verify: bool) -> dict[str, Any]:
    """netmiko ``ConnectHandler`` arguments: reject unknown keys, look them up in ``known_hosts``."""
    if not verify:
        return {"ssh_strict": False}
    if known_hosts:
        return {"ssh_strict": True, "system_host_keys": False, "alt_host_keys": True, "alt_key_file": known_hosts}
    return {"ssh_strict": True, "system_host_keys": True}
