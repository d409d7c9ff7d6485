"""Push state per device: an exclusive lock, the journal of a pending push, and the configuration
stowpath applied last time.

Routers: the state lives on the controller in a persistent directory OUTSIDE the checkout
(:func:`default_state_dir`: ``/var/lib/stowpath/controller`` as root, else
``$XDG_STATE_HOME/stowpath`` / ``~/.local/state/stowpath``; the role variable ``stowpath_state_dir``),
keyed by ``inventory_hostname``: two jobs from two checkouts (AWX copies the project per job) lock
the same file, and ``make clean``/``lab-down`` never delete it. Linux gateways keep it on the gateway
(``/var/lib/stowpath/push``).

No secret at rest: configurations in journals and last-applied records are masked by the platform's
rules (fail-closed: a secret-looking line that cannot be masked stops the write) and kept with the
sha256 of the clear text. With a journal key (a Fernet key file the user provides,
``stowpath_journal_key``) the clear texts are also kept, encrypted, so a CLI restore can put back a
secret this push changed; without it the restore takes secrets from the device's current lines and the
intended artifact, and refuses (never sends a mask) when a changed secret cannot be restored.

Files under ``state_dir`` (mode 0700; files 0600):

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
import json
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from ..fileutil import flock_wait
from ..redact import UnmaskedSecretError, mask_closed, masked_line_hashes, sha256

#: Journal fields that hold configurations (masked + hashed at rest).
SEALED = ("running_before", "intended", "previous")


class DeviceBusyError(Exception):
    """Another run holds the device."""


def device_id(host: str, port: int) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{host}_{port}")


def device_key(inventory_hostname: str | None, host: str, port: int) -> str:
    """The state key of a device: its ``inventory_hostname`` (the same in every checkout), else host_port."""
    if inventory_hostname:
        return re.sub(r"[^A-Za-z0-9_.-]", "_", inventory_hostname)
    return device_id(host, port)


def default_state_dir(euid: int | None = None) -> str:
    """The persistent controller state directory (never inside the checkout)."""
    if (os.geteuid() if euid is None else euid) == 0:
        return "/var/lib/stowpath/controller"
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "stowpath")


class JournalKeyError(Exception):
    """The journal key file is missing, unreadable or does not decrypt the journal."""


def _fernet(key_file: str | None) -> Any:
    if not key_file:
        return None
    try:
        from cryptography.fernet import Fernet
    except ImportError:
        raise JournalKeyError("a journal key was given but python3-cryptography is not installed") from None
    try:
        with open(os.path.expanduser(key_file), "rb") as fh:
            return Fernet(fh.read().strip())
    except (OSError, ValueError) as exc:
        raise JournalKeyError(f"journal key {key_file}: {exc} (a Fernet key: "
                              "python3 -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
                              ) from None


def new_token() -> str:
    return secrets.token_hex(8)


class PushState:
    def __init__(self, state_dir: str, device: str, *, mask: Callable[[str], str] | None = None,
                 key_file: str | None = None) -> None:
        self.dir = Path(os.path.expanduser(state_dir))
        self.device = device
        self.mask = mask
        self.fernet = _fernet(key_file)
        self.dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            os.chmod(self.dir, 0o700)

    def _path(self, suffix: str) -> Path:
        return self.dir / f"{self.device}.{suffix}"

    @contextlib.contextmanager
    def lock(self, wait_s: float = 30.0) -> Iterator[None]:
        """Exclusive per-device lock across processes (``flock``); waits up to ``wait_s``."""
        def busy(fd: int) -> DeviceBusyError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip()
            return DeviceBusyError(f"device {self.device} is locked by another stowpath run ({holder}); "
                                   f"waited {wait_s:.0f} s")

        with flock_wait(str(self._path("lock")), wait_s, busy) as fd:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%S')}".encode(), 0)
            yield

    def seal(self, data: dict[str, Any], mask: Callable[[str], str] | None = None) -> dict[str, Any]:
        """``data`` as kept at rest: configurations masked (fail-closed) + sha256, clear texts only encrypted."""
        mask = mask or self.mask
        out = dict(data)
        clear = {f: data[f] for f in SEALED if isinstance(data.get(f), (str, dict)) and data.get(f)}
        if not clear:
            return out
        if mask is None:
            raise UnmaskedSecretError(f"{self.device}: no masking rules to keep a configuration at rest")
        hashes = dict(out.get("sha256") or {})
        lines = dict(out.get("line_sha256") or {})
        for f, value in clear.items():
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            hashes[f] = sha256(text)
            if isinstance(value, str):
                out[f] = mask_closed(value, mask, f"{self.device} journal ({f})")
                if out[f] != value:
                    lines[f] = masked_line_hashes(value, out[f])
            else:
                out[f] = {k: mask_closed(v, mask, f"{self.device} journal ({f}/{k})") for k, v in value.items()}
        out["sha256"] = hashes
        out["line_sha256"] = lines
        out["masked"] = True
        if self.fernet is not None:
            out["sealed"] = self.fernet.encrypt(json.dumps(clear).encode()).decode()
        return out

    def unseal(self, data: dict[str, Any] | None) -> dict[str, Any] | None:
        """With the journal key, the clear configurations back (hash-checked); otherwise ``data`` as stored."""
        if not data or not data.get("sealed") or self.fernet is None:
            return data
        from cryptography.fernet import InvalidToken

        try:
            clear = json.loads(self.fernet.decrypt(data["sealed"].encode()))
        except (InvalidToken, ValueError):
            raise JournalKeyError(f"the journal of {self.device} does not decrypt with this journal key") from None
        out = dict(data, **clear)
        out["masked"] = False
        return out

    def _write(self, suffix: str, data: dict[str, Any]) -> None:
        path = self._path(suffix)
        tmp = path.with_suffix(path.suffix + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        dfd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def _read(self, suffix: str) -> dict[str, Any] | None:
        try:
            return json.loads(self._path(suffix).read_text())
        except FileNotFoundError:
            return None
        except ValueError:
            return {"corrupt": True}

    # -- the pending push
    def pending(self) -> dict[str, Any] | None:
        return self.unseal(self._read("pending.json"))

    def write_pending(self, data: dict[str, Any], mask: Callable[[str], str] | None = None) -> None:
        self._write("pending.json", self.seal(data, mask))

    def clear_pending(self) -> None:
        self._path("pending.json").unlink(missing_ok=True)

    # -- what stowpath applied last
    def applied(self) -> dict[str, Any] | None:
        return self.unseal(self._read("applied.json"))

    def write_applied(self, owner: str, intended: Any, mask: Callable[[str], str] | None = None,
                      sha: str | None = None) -> None:
        """Record what stowpath applied (masked + hash; ``sha``: the clear text's hash when only the
        masked text is at hand)."""
        data = self.seal({"owner": owner, "intended": intended, "time": time.time()}, mask)
        if sha and not (self.fernet is not None and data.get("sealed")) and isinstance(intended, str) and \
                sha256(intended) != sha:
            data["sha256"] = dict(data.get("sha256") or {}, intended=sha)
        self._write("applied.json", data)


def same_intended(applied: dict[str, Any] | None, intended: Any) -> bool:
    """Is ``intended`` what the last-applied record holds (compared by hash; records are masked)?"""
    if not applied:
        return False
    text = intended if isinstance(intended, str) else json.dumps(intended, sort_keys=True)
    recorded = (applied.get("sha256") or {}).get("intended")
    return recorded == sha256(text) if recorded else applied.get("intended") == intended


def expired(pending: dict[str, Any], now: float | None = None) -> bool:
    return (now or time.time()) >= float(pending.get("deadline", 0))


def describe(pending: dict[str, Any]) -> str:
    created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(pending.get("created", 0))))
    return f"push {pending.get('token')} ({pending.get('transport')}, owner {pending.get('owner')}, started {created})"


def forget(state_dir: str | None, keys: list[str]) -> list[str]:
    """Drop the journal and last-applied record of devices that were reset to an empty configuration
    (the lab's simulated routers on lab-down); locks and every other device's state stay."""
    folder = Path(os.path.expanduser(state_dir or default_state_dir()))
    gone = []
    for key in keys:
        for suffix in ("pending.json", "applied.json"):
            path = folder / f"{device_key(key, '', 0)}.{suffix}"
            if path.exists():
                path.unlink()
                gone.append(str(path))
    return gone
