"""Small file helpers: read a file that may be absent, replace a file atomically with a given mode, hold
an exclusive lock file. Standard library only (the Linux gateway's module uses them on the gateway)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
import time
from typing import Callable, Iterator


def read_bytes(path: str, *, unreadable_as_absent: bool = False) -> bytes | None:
    """The file's bytes; None when it does not exist (or, with ``unreadable_as_absent``, cannot be read)."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return None
    except OSError:
        if unreadable_as_absent:
            return None
        raise


def write_atomic(path: str, data: bytes, mode: int = 0o600, *, keep_owner: bool = False,
                 dir_mode: int = 0o755) -> None:
    """Replace ``path`` with ``data`` in one step (temporary file in the same directory, then rename).

    The temporary file is created 0600 and gets ``mode`` before the rename, so a reader sees the old
    or the new file, never a partial one (data and rename are fsynced), and a private file is never
    readable by others. With
    ``keep_owner`` a file that exists keeps its owner and group. A missing directory is created
    with ``dir_mode``.
    """
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=dir_mode, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".stowpath.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            os.fchmod(fh.fileno(), mode)
            if keep_owner and os.path.exists(path):
                st = os.stat(path)
                os.fchown(fh.fileno(), st.st_uid, st.st_gid)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)  # the rename itself survives a crash
        finally:
            os.close(dfd)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def flock_wait(path: str, wait_s: float, busy: Callable[[int], Exception]) -> Iterator[int]:
    """Hold an exclusive ``flock`` on ``path`` (created 0600 when absent) for the ``with`` block.

    Another holder is waited for up to ``wait_s`` seconds; then ``busy(fd)`` is raised (``fd`` is the
    open lock file, so the error can say who holds it). Yields the lock file's descriptor.
    """
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
                    raise busy(fd) from None
                time.sleep(0.1)
        yield fd
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
