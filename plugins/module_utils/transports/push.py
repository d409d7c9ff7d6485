"""The push transaction behind ``stowpath.core.gateway_push``: push (commit-confirmed) -> [playbook
verifies] -> confirm or rollback, with a per-device lock, a journal, and recovery of pushes that were
never confirmed.

Every function returns a result dict that is safe to show (secrets masked) or raises
:class:`PushError` carrying such a result.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

from ..redact import UnmaskedSecretError
from .base import ConnParams, Transport, open_transport
from .errors import ConfirmExpiredError, ConflictError, ConnectionLostError, DeviceRejectedError, TransportError
from .state import (
    DeviceBusyError,
    JournalKeyError,
    PushState,
    default_state_dir,
    describe,
    device_key,
    expired,
    new_token,
    same_intended,
)

Opener = Callable[[str, "str | None", ConnParams, "list[str] | None"], Transport]


class PushError(Exception):
    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.message = message
        self.result = result


def _base_result(transport: str | None, platform: str) -> dict[str, Any]:
    return {"changed": False, "diff": "", "commands": [], "token": None, "transport": transport,
            "platform": platform, "recovered": None, "conflicts": [], "notes": [], "deadline": None,
            "timings": {}}


def read_intended(path: str) -> str:
    if not os.path.isfile(path):
        raise TransportError(f"intended configuration {path} does not exist: render the site first "
                             "(playbooks/render-site.yml)")
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def state_for(state_dir: str | None, conn: ConnParams, key: str | None = None,
              journal_key: str | None = None) -> PushState:
    """The push state of one device: keyed by ``key`` (inventory_hostname), else host_port."""
    return PushState(state_dir or default_state_dir(), device_key(key, conn.host, conn.port), key_file=journal_key)


def push(platform: str, transport: str | None, conn: ConnParams, intended_path: str | None, *, mode: str = "merge",
         confirm_timeout: int = 120, state_dir: str, owner: str, check_mode: bool = False,
         secrets: list[str] | None = None, lock_wait: float = 30.0, opener: Opener = open_transport,
         intended: Any = None, key: str | None = None, journal_key: str | None = None) -> dict[str, Any]:
    """Compute the change and, unless ``check_mode``, apply it as a commit-confirmed push.

    The intended configuration is the file ``intended_path`` or, for transports that take several
    artifacts, ``intended`` (``{artifact: text}``).
    """
    result = _base_result(transport, platform)
    if intended is None:
        intended = read_intended(intended_path or "")
    t0 = time.monotonic()
    try:
        state = state_for(state_dir, conn, key, journal_key)
        with state.lock(lock_wait):
            t = opener(platform, transport, conn, secrets)
            state.mask = t.mask
            result["transport"] = t.name
            result["timings"]["connect_s"] = round(time.monotonic() - t0, 3)
            try:
                _recover_if_needed(t, state, result, check_mode)
                applied = state.applied()
                previous = applied["intended"] if applied and applied.get("owner") == owner else None
                t1 = time.monotonic()
                change = t.diff(intended, mode, previous)
                result["timings"]["diff_s"] = round(time.monotonic() - t1, 3)
                result.update(diff=change.text_diff, commands=change.commands, conflicts=change.conflicts)
                result["notes"] += change.notes
                if change.conflicts and mode == "merge":
                    raise ConflictError(
                        f"{len(change.conflicts)} section(s) on the device already exist with different content and "
                        f"were not written by stowpath for {owner}: {', '.join(change.conflicts)}. Nothing was "
                        "changed. Rename/remove them on the device, or run with mode=replace to overwrite them")
                if not change.changed:
                    if not same_intended(applied, intended) or (applied or {}).get("owner") != owner:
                        if not check_mode:
                            state.write_applied(owner, intended)
                    return result
                result["changed"] = True
                if check_mode:
                    return result
                token = new_token()
                now = time.time()
                journal = {"token": token, "transport": t.name, "platform": platform, "owner": owner,
                           "state": "applying", "created": now, "deadline": now + confirm_timeout,
                           "confirm_timeout": confirm_timeout, "running_before": change.running,
                           "scope": change.scope, "intended": intended, "previous": previous or "",
                           "persist_id": token if t.device_side_rollback else None,
                           "commands": change.commands}
                state.write_pending(journal)
                t2 = time.monotonic()
                try:
                    extra = t.apply(change, confirm_timeout, token)
                except DeviceRejectedError:
                    state.clear_pending()
                    raise
                result["timings"]["apply_s"] = round(time.monotonic() - t2, 3)
                journal.update(extra)
                journal.update(state="applied", deadline=time.time() + int(extra.get("revert_in") or confirm_timeout))
                state.write_pending(journal)
                result.update(token=token, deadline=journal["deadline"])
                return result
            finally:
                t.close()
    except (DeviceBusyError, JournalKeyError) as exc:
        raise PushError(str(exc), result) from None
    except UnmaskedSecretError as exc:
        result["failure"] = "secret_at_rest"
        raise PushError(f"{exc} (the journal could not be written without a secret in clear)", result) from None
    except TransportError as exc:
        result["failure"] = exc.kind
        result["rolled_back"] = exc.rolled_back
        if isinstance(exc, ConnectionLostError):
            exc.message += (" The push is recorded in the journal; the next run restores/verifies the device "
                            "and says so.")
        raise PushError(exc.message, result) from None


def _recover_if_needed(t: Transport, state: PushState, result: dict[str, Any], check_mode: bool) -> None:
    """A pending push from an earlier run: refuse while it may still be confirmed; recover it otherwise."""
    pending = state.pending()
    if not pending:
        marker = getattr(t, "interrupted", lambda: None)()
        if marker is None:
            return
        if check_mode:
            result["notes"].append(f"an earlier apply was interrupted ({marker}): a real run restores it first")
            return
        how = t.recover({})
        result["recovered"] = f"an earlier apply was interrupted ({marker}, no journal); recovered: {how}"
        result["changed"] = True
        return
    if pending.get("corrupt"):
        raise TransportError(f"the push journal of {state.device} is unreadable ({state.dir}): inspect the device and "
                             "remove the file")
    if pending.get("state") == "applied" and not expired(pending):
        left = int(float(pending["deadline"]) - time.time())
        raise DeviceBusyError(f"{describe(pending)} is waiting for its confirmation ({left} s left): confirm or roll it "
                              "back (gateway_push action=confirm|rollback token=...) before pushing again")
    why = "was interrupted" if pending.get("state") == "applying" else "was never confirmed"
    if check_mode:
        result["notes"].append(f"{describe(pending)} {why}: a real run restores it first")
        return
    how = t.recover(pending)
    state.clear_pending()
    result["recovered"] = f"{describe(pending)} {why}; recovered: {how}"
    result["changed"] = True


def finish(action: str, platform: str, transport: str | None, conn: ConnParams, token: str | None, *,
           state_dir: str, owner: str, check_mode: bool = False, secrets: list[str] | None = None,
           lock_wait: float = 30.0, opener: Opener = open_transport, key: str | None = None,
           journal_key: str | None = None) -> dict[str, Any]:
    """``action`` confirm or rollback of the push named by ``token``."""
    result = _base_result(transport, platform)
    result["token"] = token
    if not token:
        result["notes"].append(f"nothing to {action}: the push made no change")
        return result
    try:
        state = state_for(state_dir, conn, key, journal_key)
        with state.lock(lock_wait):
            pending = state.pending()
            if not pending or pending.get("token") != token:
                raise TransportError(f"no pending push {token} for {state.device}: it was already confirmed, rolled "
                                     "back, or recovered by a later run")
            if check_mode:
                result["changed"] = True
                return result
            t = opener(platform, transport or pending.get("transport"), conn, secrets)
            state.mask = t.mask
            result["transport"] = t.name
            try:
                if action == "rollback":
                    result["message"] = t.rollback(pending)
                    state.clear_pending()
                    result["changed"] = True
                    return result
                if expired(pending):
                    how = t.recover(pending)
                    state.clear_pending()
                    raise ConfirmExpiredError(
                        f"the confirmation came after the confirm timeout ({pending.get('confirm_timeout')} s): "
                        f"the change is rolled back ({how})", rolled_back=True)
                t.confirm(pending)
                state.clear_pending()
                state.write_applied(pending.get("owner", owner), pending.get("intended", ""),
                                    sha=(pending.get("sha256") or {}).get("intended"))
                result["changed"] = True
                result["message"] = t.confirm_message
                return result
            finally:
                t.close()
    except (DeviceBusyError, JournalKeyError, UnmaskedSecretError) as exc:
        raise PushError(str(exc), result) from None
    except TransportError as exc:
        if isinstance(exc, ConfirmExpiredError):
            state.clear_pending()
        result["failure"] = exc.kind
        result["rolled_back"] = exc.rolled_back
        raise PushError(exc.message, result) from None
