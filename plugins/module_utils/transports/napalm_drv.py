"""NAPALM (junos; ios where the device supports NAPALM's requirements): candidate + commit with revert.

* diff: ``load_merge_candidate`` (merge: ``config.set``) or ``load_replace_candidate`` (replace:
  ``netconf.xml`` with ``replace="replace"`` on stowpath's stanzas), ``compare_config()`` -- the
  device's own diff -- then ``discard_config()``;
* apply: load again, ``commit_config(revert_in=N)`` (Junos ``commit confirmed``);
* confirm: ``confirm_commit()``; the device reverts by itself after N seconds if nothing confirms
  (lost connection included). N (``revert_in``) is the confirm timeout rounded up to whole minutes
  (Junos and IOS count the timer in minutes).
* rollback / recover: only while the device still has the commit pending (``has_pending_commit()``).
  Junos' ``rollback 1`` after the device already reverted at the timer would load the failed change
  again and make it permanent, so a device that has no pending commit is left alone, and a device
  whose pending state cannot be read is left to its own timer (never a blind ``rollback``).
  Close to the timer, the rollback waits for the timer instead of racing it.
* every NAPALM/PyEZ failure (commit error, RPC timeout, commit-confirm error, lost connection, a
  feature the driver lacks) ends as a :class:`TransportError` with the candidate discarded.
* the ``ios`` driver: no commit message (it raises NotImplementedError), ``revert_in`` 60..7200 s and
  the device's ``archive`` feature are required (``configure replace ... revert timer``).

Options (``ConnParams.options``): ``napalm_driver`` (default junos / ios), ``optional_args`` (passed to
the driver; for the ``mock`` driver: ``{"path": recorded-answers-dir}``).
"""

from __future__ import annotations

import math
import re
import time
from typing import Any

from . import errors
from .base import Change, Transport
from .netconf import mark_replace

#: Seconds before the device's own timer during which a rollback waits for the timer instead.
TIMER_MARGIN_S = 30.0
#: Drivers whose ``commit_config`` takes no commit message.
NO_MESSAGE_DRIVERS = frozenset({"ios"})
#: The longest commit-confirmed timer the driver accepts (IOS: 120 minutes).
MAX_REVERT_S = {"ios": 7200}


def revert_in(confirm_timeout: int, driver: str = "junos") -> int:
    """The commit-confirmed timer NAPALM accepts: whole minutes, at least one, at most the driver's cap."""
    seconds = max(60, int(math.ceil(max(int(confirm_timeout), 1) / 60.0)) * 60)
    cap = MAX_REVERT_S.get(driver)
    if cap and seconds > cap:
        raise errors.TransportError(f"the NAPALM {driver} driver accepts a confirm timeout of at most {cap} s "
                             f"({confirm_timeout} s asked); nothing was changed")
    return seconds


class NapalmTransport(Transport):
    name = "napalm"
    device_side_rollback = True

    def __init__(self, spec: Any, conn: Any, secrets: list[str] | None = None) -> None:
        super().__init__(spec, conn, secrets)
        self.napalm = dict(spec.napalm or {})
        import napalm
        from napalm.base import exceptions as nx

        self.nx = nx
        driver_name = conn.options.get("napalm_driver") or self.napalm.get("driver")
        if not driver_name:
            raise errors.TransportError(f"no NAPALM driver for platform {spec.name}")
        self.driver_name = driver_name
        optional = dict(conn.options.get("optional_args") or {})
        if driver_name != "mock":
            optional.setdefault("port", conn.port)
            if conn.key_file:
                optional.setdefault("key_file", conn.key_file)
            if conn.enable_secret:
                optional.setdefault("secret", conn.enable_secret)
        try:
            driver = napalm.get_network_driver(driver_name)
            self.dev = driver(hostname=conn.host, username=conn.username, password=conn.password or "",
                              timeout=conn.timeout, optional_args=optional)
            self.dev.open()
        except nx.ConnectAuthError:
            raise errors.AuthenticationError(f"NAPALM ({driver_name}) authentication failed for {conn.username}@{conn.host} "
                                      "(not retried: check the credentials)") from None
        except (nx.ConnectionException, OSError) as exc:
            text = self.mask(str(exc))
            if re.search(r"auth", text, re.I):
                raise errors.AuthenticationError(f"NAPALM ({driver_name}) authentication failed for {conn.username}@"
                                          f"{conn.host}: {text} (not retried)") from None
            raise errors.ConnectError(f"NAPALM ({driver_name}) cannot connect to {conn.host}:{conn.port}: {text}") from None

    def _load(self, payload: str, mode: str) -> None:
        try:
            if mode == "replace":
                self.dev.load_replace_candidate(config=payload)
            else:
                self.dev.load_merge_candidate(config=payload)
        except (self.nx.MergeConfigException, self.nx.ReplaceConfigException) as exc:
            self._discard()
            msg = self.mask(str(exc))
            raise errors.DeviceRejectedError(f"the device rejected the candidate: {msg} (discarded, nothing committed)",
                                      msg, rolled_back=True) from None
        except (self.nx.ConnectionClosedException, OSError, EOFError, *self._timeouts()) as exc:
            raise errors.ConnectionLostError(f"connection lost while loading the candidate ({type(exc).__name__}: "
                                      f"{self.mask(str(exc))}); nothing was committed") from None
        except Exception as exc:  # noqa: BLE001 - any other driver/PyEZ error
            self._discard()
            raise errors.TransportError(f"loading the candidate failed ({type(exc).__name__}: {self.mask(str(exc))}); "
                                 "candidate discarded, nothing committed") from None

    def _discard(self) -> None:
        try:
            self.dev.discard_config()
        except Exception:  # noqa: BLE001 - discarding is best effort after a failure
            pass

    # -- interface
    def get_running(self) -> str:
        return self.dev.get_config(retrieve="running")["running"]

    def diff(self, intended: str, mode: str = "merge", previous: str | None = None) -> Change:
        self.secrets += self.spec.extract_secrets(intended)
        payload = intended
        if mode == "replace" and intended.lstrip().startswith("<"):
            payload = mark_replace(intended, tuple(self.napalm.get("replace_owned", ())),
                                   attribute=self.napalm.get("replace_attribute", "operation"))
            payload = re.sub(r"^<config[^>]*>|</config>$", "", payload.strip())
        self._load(payload, mode)
        try:
            text = self.dev.compare_config() or ""
        except self.nx.ConnectionClosedException as exc:
            raise errors.ConnectionLostError(f"connection lost during compare: {self.mask(str(exc))}") from None
        self._discard()
        commands = [ln for ln in text.splitlines() if ln[:1] in "+-" or ln.startswith("[edit")]
        commands = [ln for ln in commands if ln.strip()]
        conflicts: list[str] = []
        if mode == "merge" and not previous:
            # a '-' line inside stowpath's stanzas: the device holds different values under our names
            section = ""
            for line in text.splitlines():
                if line.startswith("[edit"):
                    section = line
                elif line.startswith("-") and "stowpath" in (section + line):
                    conflicts.append(f"{section} {line[1:].strip()}")
        has_change = any(ln[:1] in "+-" for ln in commands)
        return Change(text_diff=self.mask(text), commands=[self.mask(c) for c in commands] if has_change else [],
                      payload=(payload, mode), conflicts=[self.mask(c) for c in conflicts])

    def apply(self, change: Change, confirm_timeout: int, token: str) -> dict[str, Any]:
        payload, mode = change.payload
        seconds = revert_in(confirm_timeout, self.driver_name)
        self._load(payload, mode)
        kwargs: dict[str, Any] = {"revert_in": seconds}
        if self.driver_name not in NO_MESSAGE_DRIVERS:
            kwargs["message"] = f"stowpath push {token}"
        lost = (self.nx.ConnectionClosedException, OSError, EOFError, *self._timeouts())
        try:
            self.dev.commit_config(**kwargs)
        except (self.nx.CommitError, self.nx.CommitConfirmException, NotImplementedError) as exc:
            self._discard()
            msg = self.mask(str(exc) or type(exc).__name__)
            raise errors.DeviceRejectedError(f"the commit failed on the device: {msg} (candidate discarded, running "
                                      "unchanged)", msg, rolled_back=True) from None
        except lost as exc:
            self._discard()
            raise errors.ConnectionLostError(
                f"connection lost during the commit ({type(exc).__name__}: {self.mask(str(exc))}); if the commit "
                f"reached the device it reverts by itself after {seconds} s") from None
        except Exception as exc:  # noqa: BLE001 - any other driver/PyEZ error: the outcome on the device is unknown
            self._discard()
            raise errors.TransportError(
                f"the commit failed ({type(exc).__name__}: {self.mask(str(exc))}); candidate discarded; if the commit "
                f"reached the device it reverts by itself after {seconds} s, and the next run checks it") from None
        return {"revert_in": seconds}

    def _timeouts(self) -> tuple[type[BaseException], ...]:
        try:
            from jnpr.junos.exception import ConnectClosedError, RpcTimeoutError

            return (RpcTimeoutError, ConnectClosedError)
        except ImportError:
            return ()

    def confirm(self, pending: dict[str, Any]) -> None:
        try:
            self.dev.confirm_commit()
        except self.nx.CommitConfirmException as exc:
            raise errors.ConfirmExpiredError(f"no commit to confirm: the device reverted at the timeout "
                                      f"({self.mask(str(exc))})", rolled_back=True) from None
        except (self.nx.ConnectionClosedException, OSError, EOFError, *self._timeouts()) as exc:
            raise errors.ConnectionLostError(f"connection lost while confirming ({type(exc).__name__}: "
                                      f"{self.mask(str(exc))}); the device reverts at the timeout") from None
        except Exception as exc:  # noqa: BLE001 - CommitError and anything else the driver raises
            raise errors.TransportError(f"confirm_commit failed ({type(exc).__name__}: {self.mask(str(exc))}); the device "
                                 "reverts at the timeout unless a later confirm succeeds") from None

    def _pending_on_device(self) -> bool | None:
        """Does the device still hold an unconfirmed commit? None: it cannot be told."""
        try:
            return bool(self.dev.has_pending_commit())
        except Exception:  # noqa: BLE001 - drivers without support, RPC errors, lost sessions
            return None

    def _undo(self, pending: dict[str, Any], *, explicit: bool) -> str:
        deadline = float(pending.get("deadline") or 0)
        on_device = self._pending_on_device()
        left = deadline - time.time()
        if on_device and 0 < left <= TIMER_MARGIN_S:
            time.sleep(left + 5)
            on_device = self._pending_on_device()
        if on_device is False:
            return ("the device has no pending commit: it already reverted by itself at the commit-confirmed timer "
                    "(nothing sent; a rollback now would re-apply the failed change)")
        if on_device is None:
            if time.time() >= deadline > 0:
                return ("the commit-confirmed timer has passed, so the device reverted by itself (its pending state "
                        "cannot be read; no rollback sent, which could re-apply the failed change)")
            raise errors.TransportError(
                f"cannot tell whether {self.conn.host} still has the commit pending, so no rollback was sent (after "
                f"the timer a rollback would make the failed change permanent); the device reverts by itself at the "
                f"timer in {max(0, int(left))} s" + ("" if not explicit else "; the journal is kept for the next run"))
        try:
            self.dev.rollback()
        except (self.nx.ConnectionClosedException, OSError, EOFError, *self._timeouts()) as exc:
            raise errors.ConnectionLostError(f"connection lost during rollback ({type(exc).__name__}: {self.mask(str(exc))})"
                                      "; the device reverts at the commit-confirmed timer anyway") from None
        except Exception as exc:  # noqa: BLE001 - CommitError and anything else the driver raises
            self._discard()
            raise errors.TransportError(f"the rollback failed ({type(exc).__name__}: {self.mask(str(exc))}); candidate "
                                 "discarded; the device reverts at the commit-confirmed timer") from None
        return f"NAPALM rollback() on {self.driver_name} of the pending commit: previous configuration restored"

    def rollback(self, pending: dict[str, Any]) -> str:
        return self._undo(pending, explicit=True)

    def recover(self, pending: dict[str, Any]) -> str:
        return self._undo(pending, explicit=False)

    def query(self, queries: list[str]) -> dict[str, Any]:
        """``getter:NAME[:ARG]`` calls the NAPALM getter (its dict is the answer); anything else is a
        CLI command through ``cli()``."""
        answers: dict[str, Any] = {}
        try:
            for q in queries:
                if q.startswith("getter:"):
                    name, *args = q[len("getter:"):].split(":", 1)
                    if not name.startswith("get_"):
                        raise errors.TransportError(f"{q!r} is not a NAPALM getter")
                    answers[q] = getattr(self.dev, name)(*args)
                else:
                    answers[q] = self.dev.cli([q])[q]
        except (self.nx.ConnectionClosedException, OSError) as exc:
            raise errors.ConnectionLostError(f"connection lost while reading state: {self.mask(str(exc))}") from None
        return answers

    def close(self) -> None:
        try:
            self.dev.close()
        except Exception:  # noqa: BLE001
            pass
