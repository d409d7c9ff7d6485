"""CLI over SSH with Netmiko (cisco_iosxe).

* diff: ``show running-config`` -> hier_config remediation of the owned/shared sections
  (``platforms/cisco_iosxe.py``); only the computed lines are sent, never the whole snippet;
* apply: ``send_config_set`` line by line, stopping at the first device error (``% ...``); on an error
  the sections in scope are restored from the pre-change running configuration and the error is
  raised with the device's message;
* device-side safety net: when the router has a configuration ``archive`` (with a ``path``), the
  change is entered with ``configure terminal revert timer <minutes>`` (the confirm timeout rounded up
  to whole minutes): if the controller or the connection is lost before the confirmation, the router
  puts the archived configuration back by itself at the timer's expiry. Without an archive the push
  says so in its notes and only the journal protects it;
* confirm: ``configure confirm`` (the revert timer is cancelled) then ``write memory`` (only after the
  playbook's verification passed); a timer that already expired is reported as a rollback;
* rollback / recover: ``configure revert now`` while the timer runs, then restore the scoped sections
  from the pre-change configuration saved in the journal (nothing to send when the router already
  reverted), then check that nothing differs any more; the next run does this for an unconfirmed push
  (journal deadline) and says which happened.
"""

from __future__ import annotations

import math
import re
import socket
from typing import Any

from ..redact import MASK, fill_masked
from . import errors, hostkeys
from .base import Change, Transport

# A device error in configuration mode ("% Invalid input ...", "% Incomplete command.", "Bad mask ...").
ERROR_PATTERN = r"^\s*(%.*|Bad mask .*)$"
ARCHIVE = re.compile(r"^archive\s*\n(?:[ \t]+.*\n)*?[ \t]+path \S+", re.M)
NO_PENDING = "No Rollback Confirmed Change pending"
LOST = (OSError, EOFError, socket.error)


class NetmikoTransport(Transport):
    name = "netmiko"
    device_side_rollback = False
    confirm_message = "confirmed and saved (write memory)"

    def __init__(self, spec: Any, conn: Any, secrets: list[str] | None = None) -> None:
        super().__init__(spec, conn, secrets)
        if spec.cli is None:
            raise errors.TransportError(f"the netmiko transport needs a CLI planner, which {spec.name} does not have")
        self.planner = spec.cli
        self.archive = False
        from netmiko import ConnectHandler
        from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException
        from paramiko.ssh_exception import SSHException

        c = conn
        verify = bool(c.options.get("hostkey_verify", False))
        known_hosts = c.options.get("known_hosts") or None
        try:
            self.cli = ConnectHandler(
                device_type=c.options.get("device_type", "cisco_ios"), host=c.host, port=c.port,
                username=c.username, password=c.password or "", secret=c.enable_secret or "",
                key_file=c.key_file, use_keys=bool(c.key_file), allow_agent=False,
                conn_timeout=c.timeout, auth_timeout=c.timeout, banner_timeout=c.timeout,
                timeout=c.timeout, fast_cli=True, ssh_config_file=None,
                **hostkeys.netmiko_kwargs(known_hosts, verify),
            )
            if c.enable_secret:
                self.cli.enable()
        except NetmikoAuthenticationException as exc:
            raise errors.AuthenticationError(
                f"authentication failed for {c.username}@{c.host}:{c.port} (not retried: check the "
                "credentials in the inventory/vault)", self.mask(str(exc))) from None
        except (NetmikoTimeoutException, SSHException, *LOST) as exc:
            bad_key = hostkeys.check(c.host, c.port, known_hosts, c.timeout) if verify else None
            if bad_key is not None:
                raise bad_key from None
            raise errors.ConnectError(f"cannot open an SSH CLI session to {c.host}:{c.port}: {self.mask(str(exc))}") from None
        except ValueError as exc:  # netmiko: enable failed ("Failed to enter enable mode")
            raise errors.AuthenticationError(f"{c.host}:{c.port}: {self.mask(str(exc))}") from None

    # -- interface
    def get_running(self) -> str:
        try:
            return self.cli.send_command("show running-config", read_timeout=90)
        except LOST as exc:
            raise errors.ConnectionLostError(f"connection lost while reading the configuration: {exc}") from None

    def diff(self, intended: str, mode: str = "merge", previous: str | None = None) -> Change:
        running = self.get_running()
        self.archive = bool(ARCHIVE.search(running))
        if previous and MASK in previous:  # last-applied records are masked: take the clear lines from here
            previous = fill_masked(previous, [running, intended], self.mask)
        policy = self.conn.options.get("wan_acl_policy") or "stop"
        entries: dict[str, list[tuple[int, str]]] = {}
        if policy == "merge":
            for name in self.planner.facility_wan_acls(running, intended):
                if re.fullmatch(r"[A-Za-z0-9_.-]+", name):
                    shown = self.query([f"show ip access-lists {name}"])[f"show ip access-lists {name}"]
                    entries[name] = self.planner.parse_acl_entries(shown)
        rem = self.planner.remediation(running, intended, mode, previous, wan_acl_policy=policy, acl_entries=entries)
        scope = sorted(set(rem.scope) | {ln for ln in intended.splitlines() if ln and not ln[0].isspace()
                                         and not ln.startswith("!")})
        notes = list(rem.notes)
        if rem.commands and not self.archive:
            notes.append("the router has no configuration archive ('archive' with a 'path'): the change is entered "
                         "without a revert timer, so only the next run can undo an unconfirmed push")
        return Change(
            text_diff=self.mask(self.planner.unified(rem.diff)),
            commands=[self.mask(c) for c in rem.commands],
            payload=rem.commands,
            conflicts=rem.conflicts,
            notes=notes,
            scope=scope,
            running=running,
        )

    def _send(self, commands: list[str], revert_min: int | None = None) -> None:
        from netmiko.exceptions import ConfigInvalidException, ReadTimeout

        read_timeout = float(self.conn.options.get("cli_read_timeout") or 15)
        enter = f"configure terminal revert timer {revert_min}" if revert_min else None
        try:
            self.cli.send_config_set(commands, error_pattern=ERROR_PATTERN, cmd_verify=True, read_timeout=read_timeout,
                                     config_mode_command=enter)
        except ConfigInvalidException as exc:
            text = str(exc)
            m = re.search(r"at command: (.*), matched error: (.*)$", text, re.S)
            line, message = (m.group(1).strip(), m.group(2).strip()) if m else ("?", text)
            try:
                self.cli.exit_config_mode()
            except Exception:  # noqa: BLE001 - best effort; the restore below re-enters config mode
                pass
            raise errors.DeviceRejectedError(f"the device rejected {self.mask(line)!r}: {self.mask(message)}",
                                      self.mask(message)) from None
        except (ReadTimeout, *LOST) as exc:
            transport = getattr(getattr(self.cli, "remote_conn", None), "get_transport", lambda: None)()
            if transport is not None and transport.is_active() and isinstance(exc, ReadTimeout):
                raise errors.ConnectionLostError(f"the device stopped answering for {read_timeout:.0f} s during the push "
                                          "(session given up)") from None
            raise errors.ConnectionLostError(f"connection lost during the push ({type(exc).__name__})") from None

    def apply(self, change: Change, confirm_timeout: int, token: str) -> dict[str, Any]:
        if not change.payload:
            return {}
        minutes = max(1, min(120, math.ceil(confirm_timeout / 60))) if self.archive else None
        try:
            self._send(change.payload, minutes)
        except errors.DeviceRejectedError as exc:
            pending = {"running_before": change.running, "scope": change.scope, "intended": "", "previous": "",
                       "revert_timer_min": minutes}
            how = self.rollback(pending)
            exc.rolled_back = True
            exc.message += f" -- {how}"
            raise
        except ValueError as exc:  # netmiko: the router refused "configure terminal revert timer"
            raise errors.DeviceRejectedError(f"the router did not enter configuration mode with a revert timer: {exc} "
                                      "(nothing was sent)", str(exc), rolled_back=True) from None
        return {"revert_timer_min": minutes, "revert_in": minutes * 60} if minutes else {}

    def _exec(self, command: str) -> str:
        try:
            return self.cli.send_command_timing(command, read_timeout=float(self.conn.options.get("cli_read_timeout")
                                                                            or 15))
        except LOST as exc:
            raise errors.ConnectionLostError(f"connection lost during {command!r}: {exc}") from None

    def confirm(self, pending: dict[str, Any]) -> None:
        if pending.get("revert_timer_min"):
            out = self._exec("configure confirm")
            if NO_PENDING in out:
                raise errors.ConfirmExpiredError(
                    f"the router has no pending revert timer any more: its {pending['revert_timer_min']} minute(s) "
                    "passed and it put the archived configuration back (configure confirm: "
                    f"{self.mask(out.strip())[:200]})", rolled_back=True)
        try:
            out = self.cli.save_config()
        except LOST as exc:
            raise errors.ConnectionLostError(f"connection lost while saving the configuration: {exc}") from None
        if "[OK]" not in out and "#" not in out:
            raise errors.TransportError(f"write memory did not confirm: {self.mask(out[-300:])}")

    def _saved(self, pending: dict[str, Any], current: str) -> tuple[str, str]:
        """The pre-change configuration and the pushed snippet, in clear where it can be told.

        Journals keep them masked (or encrypted with the journal key): a masked secret line takes its
        value from the device's current twin line (a line this push did not change, or one it added),
        checked against the hash of the clear line kept in the journal."""
        before, intended = pending["running_before"], pending.get("intended", "") or ""
        hashes = pending.get("line_sha256") or {}
        if MASK in before:
            before = fill_masked(before, [current], self.mask, hashes.get("running_before") or [])
        if MASK in intended:
            intended = fill_masked(intended, [current], self.mask, hashes.get("intended") or [])
        return before, intended

    def _restore(self, pending: dict[str, Any]) -> list[str]:
        current = self.get_running()
        before, intended = self._saved(pending, current)
        cmds = self.planner.restore_commands(current, before, pending.get("scope", []), intended)
        unknown = [c.strip() for c in cmds if MASK in c]
        if unknown:
            raise errors.TransportError(
                f"{len(unknown)} secret line(s) this push changed cannot be restored: journals keep configurations "
                "masked and the pre-change value is not on the device any more (" + "; ".join(unknown[:3])
                + "). Nothing was sent. Restore them by hand, or give stowpath_journal_key (an encrypted journal)",
                rolled_back=False)
        if cmds:
            self._send(cmds)
        left = self.planner.restore_commands(self.get_running(), before, pending.get("scope", []), intended)
        if left:
            raise errors.TransportError("restoring the pre-change configuration left differences: "
                                 + self.mask("; ".join(c.strip() for c in left[:10])))
        return cmds

    def rollback(self, pending: dict[str, Any]) -> str:
        reverted = ""
        timer = self._exec("show archive config rollback timer")
        if "Timer type" in timer or "Timer value" in timer:  # also an apply the controller lost mid-way
            self._exec("configure revert now")
            reverted = "configure revert now: the router put its archived configuration back; "
        elif pending.get("revert_timer_min"):
            reverted = "the router had already reverted by itself (its revert timer expired); "
        cmds = self._restore(pending)
        return (f"{reverted}restored the pre-change configuration ({len(cmds)} line(s) sent, verified equal; "
                "startup-config was not written)")

    def query(self, queries: list[str]) -> dict[str, Any]:
        """Show commands (never configuration): ``{command: output}``."""
        answers: dict[str, Any] = {}
        for q in queries:
            if not q.startswith("show "):
                raise errors.TransportError(f"refusing to send {q!r} as a state query (only show commands)")
            try:
                answers[q] = self.cli.send_command(q, read_timeout=self.conn.options.get("cli_read_timeout", 15))
            except OSError as exc:
                raise errors.ConnectionLostError(f"connection lost while reading state ({q}): {exc}") from None
        return answers

    def close(self) -> None:
        try:
            self.cli.disconnect()
        except Exception:  # noqa: BLE001 - closing must never fail a run
            pass
