"""NAPALM (junos; ios where the device supports NAPALM's requirements): candidate + commit with revert.

* diff: ``load_merge_candidate`` (merge: ``config.set``) or ``load_replace_candidate`` (replace:
  ``netconf.xml`` with ``replace="replace"`` on stowpath's stanzas), ``compare_config()`` -- the
  device's own diff -- then ``discard_config()``;
* apply: load again, ``commit_config(revert_in=N)`` (Junos ``commit confirmed``);
* confirm: ``confirm_commit()``; rollback: ``rollback()``; the device reverts by itself after N seconds
  if nothing confirms (lost connection included).

Options (``ConnParams.options``): ``napalm_driver`` (default junos / ios), ``optional_args`` (passed to
the driver; for the ``mock`` driver: ``{"path": recorded-answers-dir}``).
"""

from __future__ import annotations

import re
from typing import Any

from .base import (
    AuthenticationError,
    Change,
    ConfirmExpiredError,
    ConnectError,
    ConnectionLostError,
    DeviceRejectedError,
    Transport,
    TransportError,
)
from .netconf import mark_replace


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
            raise TransportError(f"no NAPALM driver for platform {spec.name}")
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
            raise AuthenticationError(f"NAPALM ({driver_name}) authentication failed for {conn.username}@{conn.host} "
                                      "(not retried: check the credentials)") from None
        except (nx.ConnectionException, OSError) as exc:
            text = self.mask(str(exc))
            if re.search(r"auth", text, re.I):
                raise AuthenticationError(f"NAPALM ({driver_name}) authentication failed for {conn.username}@"
                                          f"{conn.host}: {text} (not retried)") from None
            raise ConnectError(f"NAPALM ({driver_name}) cannot connect to {conn.host}:{conn.port}: {text}") from None

    def _load(self, payload: str, mode: str) -> None:
        try:
            if mode == "replace":
                self.dev.load_replace_candidate(config=payload)
            else:
                self.dev.load_merge_candidate(config=payload)
        except (self.nx.MergeConfigException, self.nx.ReplaceConfigException) as exc:
            self._discard()
            msg = self.mask(str(exc))
            raise DeviceRejectedError(f"the device rejected the candidate: {msg} (discarded, nothing committed)",
                                      msg, rolled_back=True) from None
        except self.nx.ConnectionClosedException as exc:
            raise ConnectionLostError(f"connection lost while loading the candidate: {self.mask(str(exc))}") from None

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
            raise ConnectionLostError(f"connection lost during compare: {self.mask(str(exc))}") from None
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
        self._load(payload, mode)
        try:
            self.dev.commit_config(message=f"stowpath push {token}", revert_in=int(confirm_timeout))
        except self.nx.CommitError as exc:
            self._discard()
            msg = self.mask(str(exc))
            raise DeviceRejectedError(f"the commit failed on the device: {msg} (candidate discarded, running "
                                      "unchanged)", msg, rolled_back=True) from None
        except (self.nx.ConnectionClosedException, OSError) as exc:
            raise ConnectionLostError(
                f"connection lost during the commit ({self.mask(str(exc))}); if the commit reached the device it "
                f"reverts by itself after {confirm_timeout} s") from None
        return {}

    def confirm(self, pending: dict[str, Any]) -> None:
        try:
            self.dev.confirm_commit()
        except self.nx.CommitConfirmException as exc:
            raise ConfirmExpiredError(f"no commit to confirm: the device reverted at the timeout "
                                      f"({self.mask(str(exc))})", rolled_back=True) from None
        except self.nx.CommitError as exc:
            raise TransportError(f"confirm_commit failed: {self.mask(str(exc))}") from None
        except self.nx.ConnectionClosedException as exc:
            raise ConnectionLostError(f"connection lost while confirming: {self.mask(str(exc))}; the device reverts "
                                      "at the timeout") from None

    def rollback(self, pending: dict[str, Any]) -> str:
        try:
            self.dev.rollback()
        except self.nx.ConnectionClosedException as exc:
            raise ConnectionLostError(f"connection lost during rollback: {self.mask(str(exc))}; the device reverts "
                                      "at the commit-confirmed timeout anyway") from None
        return f"NAPALM rollback() on {self.driver_name}: previous configuration restored"

    def recover(self, pending: dict[str, Any]) -> str:
        try:
            pending_on_device = self.dev.has_pending_commit()
        except Exception:  # noqa: BLE001 - drivers without support
            pending_on_device = True
        if not pending_on_device:
            return "the device had already reverted by itself (commit-confirmed timeout)"
        return self.rollback(pending)

    def query(self, queries: list[str]) -> dict[str, Any]:
        """``getter:NAME[:ARG]`` calls the NAPALM getter (its dict is the answer); anything else is a
        CLI command through ``cli()``."""
        answers: dict[str, Any] = {}
        try:
            for q in queries:
                if q.startswith("getter:"):
                    name, *args = q[len("getter:"):].split(":", 1)
                    if not name.startswith("get_"):
                        raise TransportError(f"{q!r} is not a NAPALM getter")
                    answers[q] = getattr(self.dev, name)(*args)
                else:
                    answers[q] = self.dev.cli([q])[q]
        except (self.nx.ConnectionClosedException, OSError) as exc:
            raise ConnectionLostError(f"connection lost while reading state: {self.mask(str(exc))}") from None
        return answers

    def close(self) -> None:
        try:
            self.dev.close()
        except Exception:  # noqa: BLE001
            pass
