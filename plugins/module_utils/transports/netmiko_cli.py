"""CLI over SSH with Netmiko (cisco_iosxe).

* diff: ``show running-config`` -> hier_config remediation of the owned/shared sections
  (``platforms/cisco_iosxe.py``); only the computed lines are sent, never the whole snippet;
* apply: ``send_config_set`` line by line, stopping at the first device error (``% ...``); on an error
  the sections in scope are restored from the pre-change running configuration and the error is
  raised with the device's message;
* confirm: ``write memory`` (only after the playbook's verification passed);
* rollback / recover: restore the scoped sections from the pre-change configuration saved in the
  journal, then check that nothing differs any more. IOS has no device-side confirm timer here, so
  an unconfirmed CLI push is undone by the next run (journal deadline), which says so.
"""

from __future__ import annotations

import re
import socket
from typing import Any

from .base import (
    AuthenticationError,
    Change,
    ConnectError,
    ConnectionLostError,
    DeviceRejectedError,
    Transport,
    TransportError,
)

# A device error in configuration mode ("% Invalid input ...", "% Incomplete command.", "Bad mask ...").
ERROR_PATTERN = r"^\s*(%.*|Bad mask .*)$"
LOST = (OSError, EOFError, socket.error)


class NetmikoTransport(Transport):
    name = "netmiko"
    device_side_rollback = False
    confirm_message = "confirmed and saved (write memory)"

    def __init__(self, spec: Any, conn: Any, secrets: list[str] | None = None) -> None:
        super().__init__(spec, conn, secrets)
        if spec.cli is None:
            raise TransportError(f"the netmiko transport needs a CLI planner, which {spec.name} does not have")
        self.planner = spec.cli
        from netmiko import ConnectHandler
        from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException
        from paramiko.ssh_exception import SSHException

        c = conn
        try:
            self.cli = ConnectHandler(
                device_type=c.options.get("device_type", "cisco_ios"), host=c.host, port=c.port,
                username=c.username, password=c.password or "", secret=c.enable_secret or "",
                key_file=c.key_file, use_keys=bool(c.key_file), allow_agent=False,
                conn_timeout=c.timeout, auth_timeout=c.timeout, banner_timeout=c.timeout,
                timeout=c.timeout, fast_cli=True, ssh_config_file=None,
            )
            if c.enable_secret:
                self.cli.enable()
        except NetmikoAuthenticationException as exc:
            raise AuthenticationError(
                f"authentication failed for {c.username}@{c.host}:{c.port} (not retried: check the "
                "credentials in the inventory/vault)", self.mask(str(exc))) from None
        except (NetmikoTimeoutException, SSHException, *LOST) as exc:
            raise ConnectError(f"cannot open an SSH CLI session to {c.host}:{c.port}: {self.mask(str(exc))}") from None
        except ValueError as exc:  # netmiko: enable failed ("Failed to enter enable mode")
            raise AuthenticationError(f"{c.host}:{c.port}: {self.mask(str(exc))}") from None

    # -- interface
    def get_running(self) -> str:
        try:
            return self.cli.send_command("show running-config", read_timeout=90)
        except LOST as exc:
            raise ConnectionLostError(f"connection lost while reading the configuration: {exc}") from None

    def diff(self, intended: str, mode: str = "merge", previous: str | None = None) -> Change:
        running = self.get_running()
        rem = self.planner.remediation(running, intended, mode, previous)
        scope = sorted(set(rem.scope) | {ln for ln in intended.splitlines() if ln and not ln[0].isspace()
                                         and not ln.startswith("!")})
        return Change(
            text_diff=self.mask(self.planner.unified(rem.diff)),
            commands=[self.mask(c) for c in rem.commands],
            payload=rem.commands,
            conflicts=rem.conflicts,
            notes=rem.notes,
            scope=scope,
            running=running,
        )

    def _send(self, commands: list[str]) -> None:
        from netmiko.exceptions import ConfigInvalidException, ReadTimeout

        read_timeout = float(self.conn.options.get("cli_read_timeout") or 15)
        try:
            self.cli.send_config_set(commands, error_pattern=ERROR_PATTERN, cmd_verify=True, read_timeout=read_timeout)
        except ConfigInvalidException as exc:
            text = str(exc)
            m = re.search(r"at command: (.*), matched error: (.*)$", text, re.S)
            line, message = (m.group(1).strip(), m.group(2).strip()) if m else ("?", text)
            try:
                self.cli.exit_config_mode()
            except Exception:  # noqa: BLE001 - best effort; the restore below re-enters config mode
                pass
            raise DeviceRejectedError(f"the device rejected {self.mask(line)!r}: {self.mask(message)}",
                                      self.mask(message)) from None
        except (ReadTimeout, *LOST) as exc:
            transport = getattr(getattr(self.cli, "remote_conn", None), "get_transport", lambda: None)()
            if transport is not None and transport.is_active() and isinstance(exc, ReadTimeout):
                raise ConnectionLostError(f"the device stopped answering for {read_timeout:.0f} s during the push "
                                          "(session given up)") from None
            raise ConnectionLostError(f"connection lost during the push ({type(exc).__name__})") from None

    def apply(self, change: Change, confirm_timeout: int, token: str) -> dict[str, Any]:
        if not change.payload:
            return {}
        try:
            self._send(change.payload)
        except DeviceRejectedError as exc:
            pending = {"running_before": change.running, "scope": change.scope, "intended": "", "previous": ""}
            how = self.rollback(pending)
            exc.rolled_back = True
            exc.message += f" -- {how}"
            raise
        return {}

    def confirm(self, pending: dict[str, Any]) -> None:
        try:
            out = self.cli.save_config()
        except LOST as exc:
            raise ConnectionLostError(f"connection lost while saving the configuration: {exc}") from None
        if "[OK]" not in out and "#" not in out:
            raise TransportError(f"write memory did not confirm: {self.mask(out[-300:])}")

    def _restore(self, pending: dict[str, Any]) -> list[str]:
        current = self.get_running()
        cmds = self.planner.restore_commands(current, pending["running_before"], pending.get("scope", []),
                                    pending.get("intended", ""))
        if cmds:
            self._send(cmds)
        left = self.planner.restore_commands(self.get_running(), pending["running_before"], pending.get("scope", []),
                                    pending.get("intended", ""))
        if left:
            raise TransportError("restoring the pre-change configuration left differences: "
                                 + self.mask("; ".join(c.strip() for c in left[:10])))
        return cmds

    def rollback(self, pending: dict[str, Any]) -> str:
        cmds = self._restore(pending)
        return (f"restored the pre-change configuration ({len(cmds)} line(s) sent, verified equal; "
                "startup-config was not written)")

    def query(self, queries: list[str]) -> dict[str, Any]:
        """Show commands (never configuration): ``{command: output}``."""
        answers: dict[str, Any] = {}
        for q in queries:
            if not q.startswith("show "):
                raise TransportError(f"refusing to send {q!r} as a state query (only show commands)")
            try:
                answers[q] = self.cli.send_command(q, read_timeout=self.conn.options.get("cli_read_timeout", 15))
            except OSError as exc:
                raise ConnectionLostError(f"connection lost while reading state ({q}): {exc}") from None
        return answers

    def close(self) -> None:
        try:
            self.cli.disconnect()
        except Exception:  # noqa: BLE001 - closing must never fail a run
            pass
