"""Small stowpath services on the PACS host (the auto-router; the same way any further one): what to deploy.

A service is one of stowpath's ``module_utils`` modules run as ``python -m`` with a JSON config file. One
module call (``stowpath.core.pacs_service``) deploys it: its directories, its code (the module and the
stowpath modules it imports, taken from the module's own payload), its config (mode 0600, the credentials
inside), a systemd unit or a PID-file daemon, and (re)starts it when something it reads changed.

This file holds the pure parts: the code closure of a service, the desired files, what differs, the masked
config for ``--diff``, the unit text and the command lines. The module does the I/O.
"""

from __future__ import annotations

import ast
import json
import shlex
from dataclasses import dataclass, field
from typing import Callable

# service kind -> its module under plugins/module_utils (a new service: one entry here, one task in the role)
SERVICES: dict[str, str] = {
    "autoroute": "pacs.autoroute",
    "token_refresh": "pacs.token_refresh",
}
PACKAGE = "ansible_collections.stowpath.core.plugins.module_utils"
MASK = "********"
CODE_MODE, CONFIG_MODE, UNIT_MODE = 0o644, 0o600, 0o644


@dataclass(frozen=True)
class Desired:
    """One file the service needs: its content, mode, and whether a change restarts the service."""

    path: str
    content: bytes
    mode: int
    restart: bool = True
    secret: bool = False


@dataclass
class Plan:
    changed: list[str] = field(default_factory=list)   # paths whose content or mode differ
    restart: bool = False                              # a changed file the running service reads
    unit_changed: bool = False


def module_name(service: str) -> str:
    """The dotted module a service kind runs; a clear error for an unknown kind."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}: one of {', '.join(sorted(SERVICES))} "
                         "(plugins/module_utils/pacs/service.py SERVICES)")
    return f"{PACKAGE}.{SERVICES[service]}"


def _imports(source: bytes, modname: str, is_package: bool) -> set[str]:
    """Stowpath modules ``modname`` imports (absolute or relative), as dotted names."""
    pkg = modname if is_package else modname.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = pkg.split(".")
                parts = parts[:len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)   # "from . import orthanc_config"
    return {n for n in found if n.startswith(PACKAGE + ".")}


def code_closure(start: str, read: Callable[[str], tuple[bytes, bool] | None]) -> dict[str, bytes]:
    """Sources of ``start`` and every stowpath module it imports, transitively, plus the packages' __init__.

    ``read(dotted)`` returns ``(source, is_package)`` or None when there is no such module (a name imported
    from a module, not a module). Keys are paths relative to the library root (``ansible_collections/...``).
    """
    files: dict[str, bytes] = {}
    todo, seen = [start], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        got = read(name)
        if got is None:
            continue
        source, is_package = got
        rel = name.replace(".", "/") + ("/__init__.py" if is_package else ".py")
        files[rel] = source
        todo.extend(sorted(_imports(source, name, is_package) - seen))
        parent = name.rpartition(".")[0]
        if parent.startswith(PACKAGE):
            todo.append(parent)   # the package's __init__ (may hold code the import runs)
    return files


def config_bytes(config: dict, secrets: dict) -> bytes:
    """The config file as Ansible's ``to_nice_json`` writes it (so an earlier deployment stays unchanged)."""
    overlap = set(config) & set(secrets)
    if overlap:
        raise ValueError(f"config and config_secrets both set {', '.join(sorted(overlap))}: give each key once")
    return json.dumps({**config, **secrets}, indent=4, sort_keys=True, separators=(",", ": "),
                      ensure_ascii=False).encode()


def masked_config(text: bytes | None, secret_keys: list[str]) -> str:
    """The config for ``--diff``: secret keys' values masked; an unreadable file is shown as such."""
    if text is None:
        return ""
    try:
        data = json.loads(text)
    except ValueError:
        return "(not JSON: content not shown)\n"
    if not isinstance(data, dict):
        return "(not a JSON object: content not shown)\n"
    return json.dumps({k: (MASK if k in secret_keys else v) for k, v in data.items()}, indent=4,
                      sort_keys=True) + "\n"


def argv(python: str, module: str, config_file: str) -> list[str]:
    return [python, "-m", module, "--config", config_file]


def unit_text(name: str, command: list[str], env: dict[str, str], user: str) -> bytes:
    """A systemd unit that keeps the service running (restarted 5 s after a crash)."""
    lines = ["# Managed by stowpath: do not edit", "[Unit]", f"Description=stowpath service {name}",
             "After=network-online.target", "Wants=network-online.target", "", "[Service]", f"User={user}"]
    lines += [f"Environment={k}={v}" for k, v in sorted(env.items())]
    lines += [f"ExecStart={shlex.join(command)}", "Restart=always", "RestartSec=5", "", "[Install]",
              "WantedBy=multi-user.target", ""]
    return "\n".join(lines).encode()


def start_stop_daemon(action: str, name: str, run_dir: str, log_dir: str, command: list[str],
                      env: dict[str, str]) -> list[str]:
    """``start-stop-daemon`` command lines of a PID-file service (hosts without systemd as PID 1)."""
    pidfile = f"{run_dir}/{name}.pid"
    if action == "status":
        return ["start-stop-daemon", "--status", "--pidfile", pidfile]
    if action == "stop":
        return ["start-stop-daemon", "--stop", "--oknodo", "--retry", "TERM/10/KILL/2", "--remove-pidfile",
                "--pidfile", pidfile]
    return ["start-stop-daemon", "--start", "--background", "--make-pidfile", "--pidfile", pidfile,
            "--output", f"{log_dir}/{name}.log", "--startas", "/usr/bin/env", "--",
            *[f"{k}={v}" for k, v in sorted(env.items())], *command]


def plan(desired: list[Desired], current: Callable[[str], tuple[bytes | None, int | None]]) -> Plan:
    """What differs between ``desired`` and ``current(path) -> (content or None, mode or None)``."""
    p = Plan()
    for d in desired:
        content, mode = current(d.path)
        if content != d.content or mode != d.mode:
            p.changed.append(d.path)
            p.restart = p.restart or d.restart
            p.unit_changed = p.unit_changed or d.path.endswith(".service")
    return p
