"""Controller-side push state per device: an exclusive lock, the journal of a pending push, and the
configuration stowpath applied last time.

Files under ``state_dir`` (mode 0700; files 0600 because journals hold the pre-change configuration):

* ``<device>.lock``         -- ``flock`` held for the duration of one module call;
* ``<device>.pending.json`` -- a push that is applied but not yet confirmed/rolled back (its token,
  deadline, the pre-change configuration for the CLI transport, the NETCONF persist id ...);
* ``<device>.applied.json`` -- what stowpath applied last (owner + intended text), which tells an
  update of stowpath's own sections from a conflict with somebody else's.

A pending push blocks other pushes to the device until it is confirmed, rolled back, or its confirm
deadline has passed (then the next run recovers it and says so). This, plus the lock, is the
per-device locking: two runs never push to one device at the same time.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any, Iterator


class DeviceBusyError(Exception):
    """Another run holds the device."""


def device_id(host: str, port: int) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{host}_{port}")


def new_token() -> str:
    return secrets.token_hex(8)


class PushState:
    def __init__(self, state_dir: str, device: str) -> None:
        self.dir = Path(os.path.expanduser(state_dir))
        self.device = device
        self.dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            os.chmod(self.dir, 0o700)

    def _path(self, suffix: str) -> Path:
        return self.dir / f"{self.device}.{suffix}"

    @contextlib.contextmanager
    def lock(self, wait_s: float = 30.0) -> Iterator[None]:
        """Exclusive per-device lock across processes (``flock``); waits up to ``wait_s``."""
        path = self._path("lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + wait_s
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() > deadline:
                        holder = os.pread(fd, 200, 0).decode(errors="replace").strip()
                        raise DeviceBusyError(f"device {self.device} is locked by another stowpath run ({holder}); "
                                              f"waited {wait_s:.0f} s") from None
                    time.sleep(0.1)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%S')}".encode(), 0)
            yield
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _write(self, suffix: str, data: dict[str, Any]) -> None:
        path = self._path(suffix)
        tmp = path.with_suffix(path.suffix + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def _read(self, suffix: str) -> dict[str, Any] | None:
        try:
            return json.loads(self._path(suffix).read_text())
        except FileNotFoundError:
            return None
        except ValueError:
            return {"corrupt": True}

    # -- the pending push
    def pending(self) -> dict[str, Any] | None:
        return self._read("pending.json")

    def write_pending(self, data: dict[str, Any]) -> None:
        self._write("pending.json", data)

    def clear_pending(self) -> None:
        self._path("pending.json").unlink(missing_ok=True)

    # -- what stowpath applied last
    def applied(self) -> dict[str, Any] | None:
        return self._read("applied.json")

    def write_applied(self, owner: str, intended: str) -> None:
        self._write("applied.json", {"owner": owner, "intended": intended, "time": time.time()})


def expired(pending: dict[str, Any], now: float | None = None) -> bool:
    return (now or time.time()) >= float(pending.get("deadline", 0))


def describe(pending: dict[str, Any]) -> str:
    created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(pending.get("created", 0))))
    return f"push {pending.get('token')} ({pending.get('transport')}, owner {pending.get('owner')}, started {created})"
