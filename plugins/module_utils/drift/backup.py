"""Backups of what a gateway runs: ``<root>/<site_name>/<host>/<UTC timestamp>/``, masked, last N kept."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from typing import Any

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_STAMP_RE = re.compile(r"^\d{8}T\d{6}Z(-\d+)?$")


def _safe(name: str, what: str) -> str:
    if not _NAME_RE.match(name or ""):
        raise ValueError(f"{what} {name!r} cannot name a backup directory")
    return name


def _write(path: str, text: str) -> None:
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def write_backup(root: str, site_name: str, host: str, files: dict[str, str], meta: dict[str, Any],
                 keep: int = 10, now: float | None = None) -> str:
    """Write one backup (texts already masked) with a manifest; prune to the newest ``keep``."""
    base = os.path.join(root, _safe(site_name, "site_name"), _safe(host, "host"))
    os.makedirs(base, mode=0o700, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now if now is not None else time.time()))
    folder, n = os.path.join(base, stamp), 1
    while os.path.exists(folder):
        n += 1
        folder = os.path.join(base, f"{stamp}-{n}")
    os.makedirs(folder, mode=0o700)
    manifest: dict[str, Any] = dict(meta, site_name=site_name, host=host, created=stamp, files={})
    for name, text in sorted(files.items()):
        _write(os.path.join(folder, _safe(name, "backup file")), text)
        manifest["files"][name] = {"sha256": hashlib.sha256(text.encode()).hexdigest(), "bytes": len(text.encode())}
    _write(os.path.join(folder, "manifest.json"), json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    prune(base, keep)
    return folder


def backups(base: str) -> list[str]:
    """The backup folder names under ``<root>/<site>/<host>``, oldest first."""
    try:
        names = [d for d in os.listdir(base) if _STAMP_RE.match(d) and os.path.isdir(os.path.join(base, d))]
    except FileNotFoundError:
        return []

    def key(d: str) -> tuple[str, int]:
        stamp, _, n = d.partition("-")
        return stamp, int(n or 1)

    return sorted(names, key=key)


def prune(base: str, keep: int) -> list[str]:
    """Remove all but the newest ``keep`` backups; returns what was removed."""
    keep = max(1, int(keep))
    gone = backups(base)[:-keep]
    for name in gone:
        shutil.rmtree(os.path.join(base, name), ignore_errors=True)
    return gone
