"""Small file helpers: read a file that may be absent, replace a file atomically with a given mode."""

from __future__ import annotations

import os
import tempfile


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
