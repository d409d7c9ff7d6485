"""The Linux gateway (strongSwan + FRR + nftables) behind the one transport interface.

Unlike the router transports this one runs ON the gateway (Ansible ships the module there over SSH),
so "connecting" is nothing and every step is a local command (``run(argv)``). The work is done by
:mod:`..linux_gateway`:

* diff: ``plan`` compares the three intended files and the loaded runtime with the device (files that
  differ, FRR's pending lines from ``frr-reload.py --test``, idle IPsec children); nothing changes;
* apply: snapshot every owned file byte for byte, write, reload only what changed (FRR, nft,
  swanctl), initiate idle children; any failure restores the snapshot before the error propagates;
* confirm: nothing to do (the snapshot is kept for drift and later rollbacks);
* rollback / recover: restore the snapshot of this push and reload.
"""

from __future__ import annotations

import difflib
import os
import shlex
from typing import Any, Callable

from .. import linux_gateway as lg
from .base import Change, Transport
from .errors import DeviceRejectedError, TransportError

Run = Callable[[list[str]], "tuple[int, str, str]"]


def file_diff(path: str, before: bytes | None, after: bytes, mask: Callable[[str], str]) -> str:
    a = mask((before or b"").decode(errors="replace")).splitlines(keepends=True)
    b = mask(after.decode(errors="replace")).splitlines(keepends=True)
    return "".join(difflib.unified_diff(a, b, path, path)) or f"({path}: mode/owner only)\n"


class LinuxTransport(Transport):
    name = "linux"
    device_side_rollback = False
    confirm_message = "kept (the pre-change snapshot stays for rollback)"

    def __init__(self, spec: Any, conn: Any, secrets: list[str] | None = None, *, run: Run,
                 paths: dict[str, str] | None = None, state_dir: str = "/var/lib/stowpath") -> None:
        super().__init__(spec, conn, secrets)
        self.run = run
        self.paths = dict(lg.DEFAULT_PATHS, **(paths or {}))
        self.state_dir = state_dir

    def get_running(self) -> str:
        parts = []
        for key in ("swanctl", "frr", "nft"):
            data = lg.read(self.paths[key])
            parts.append(f"### {self.paths[key]}\n" + (data.decode(errors="replace") if data is not None else "(absent)\n"))
        return "".join(parts)

    def diff(self, intended: Any, mode: str = "merge", previous: Any = None) -> Change:
        if not isinstance(intended, dict):
            raise TransportError("the linux transport takes the artifacts swanctl.conf, frr.conf and nftables.conf")
        try:
            plan = lg.plan(self.run, intended, self.paths, self.state_dir)
        except lg.GatewayError as exc:
            raise TransportError(self.mask(str(exc)) + " (nothing was changed)") from None
        diffs = [file_diff(path, cur, new, self.mask) for path, (cur, new) in sorted(plan.files.items())]
        frr = [self.mask(line) for line in plan.frr_changes]
        if frr and self.paths["frr"] not in plan.files:
            diffs.append("FRR running-config -> intended:\n" + "\n".join(frr) + "\n")
        commands = ([f"write {path}" for path in sorted(plan.files)] + [f"reload {s}" for s in plan.reload]
                    + [f"initiate {child}" for child in plan.idle])
        return Change(text_diff="".join(diffs), commands=commands, payload=plan, running=self.get_running(),
                      scope=sorted(plan.files), notes=[f"FRR: {line}" for line in frr])

    def apply(self, change: Change, confirm_timeout: int, token: str) -> dict[str, Any]:
        try:
            backup_id = lg.apply(self.run, change.payload, self.paths, self.state_dir)
        except lg.RollbackFailedError as exc:
            raise TransportError(f"{self.mask(str(exc))}; the gateway may hold a partial configuration: inspect it",
                                 rolled_back=False) from None
        except lg.GatewayError as exc:
            raise DeviceRejectedError(f"{self.mask(str(exc))} (the previous configuration was restored)",
                                      rolled_back=True) from None
        plan = change.payload
        return {"backup_id": backup_id, "reloaded": plan.reload, "initiated": plan.idle, "files": sorted(plan.files)}

    def confirm(self, pending: dict[str, Any]) -> None:
        return None

    def interrupted(self) -> str | None:
        backup_id = lg.interrupted(self.state_dir)
        return f"marker {lg.MARKER}, snapshot {backup_id}" if backup_id else None

    def rollback(self, pending: dict[str, Any]) -> str:
        backup_id = (pending.get("backup_id") or lg.interrupted(self.state_dir)
                     or self._backup_since(float(pending.get("created", 0))))
        if not backup_id:
            return "nothing had been written yet (no snapshot of this push)"
        try:
            restored = lg.rollback(self.run, self.state_dir, backup_id, self.paths)
        except (lg.GatewayError, OSError) as exc:
            raise TransportError(f"the rollback to snapshot {backup_id} failed: {self.mask(str(exc))}; the gateway "
                                 "may hold a partial configuration: inspect it", rolled_back=False) from None
        return (f"restored snapshot {backup_id} ({', '.join(restored) or 'files unchanged'}) and reloaded "
                "nftables, FRR and swanctl")

    def _backup_since(self, created: float) -> str | None:
        """The snapshot an interrupted push took (its id was never journalled)."""
        folder = os.path.join(self.state_dir, "backups")
        found = [b for b in sorted(os.listdir(folder)) if os.path.getmtime(os.path.join(folder, b)) >= created - 1] \
            if os.path.isdir(folder) else []
        return found[0] if found else None

    def query(self, queries: list[str]) -> dict[str, Any]:
        answers: dict[str, Any] = {}
        for q in queries:
            rc, out, err = self.run(shlex.split(q))
            if rc != 0:
                raise TransportError(f"{q} failed (rc {rc}): {(err or out).strip()[:300]}")
            answers[q] = out
        return answers

    def close(self) -> None:
        return None
