"""Drift of a vendor router (cisco_iosxe, junos), read from the controller through the push transports.

The comparison is the push's own check-mode planner (:mod:`..transports`): ``Transport.diff`` in
merge mode with what stowpath applied last (``<state_dir>/<device>.applied.json``) as ``previous``
-- hier_config's scoped remediation of the owned/shared sections for the CLI, the device's own
candidate diff for NETCONF, ``compare_config`` for NAPALM. The facility's other configuration is
outside that scope, and type 7 / type 6 secrets are normalised there, so what remains is drift.

The push layer calls an owned section that differs from what stowpath applied a *conflict* (it
cannot tell a hand edit from somebody else's object with our name). For drift that distinction is
known: a section stowpath applied before and that changed on the device is drift of our own
section, and :func:`drift_aware_opener` lets a remediation restore it in merge mode. A section
stowpath never applied stays a conflict (reported, never overwritten).
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable

from ..platforms import get
from ..redact import unmasked_secrets
from ..transports.base import ConnParams, Transport, open_transport
from ..transports.errors import AuthenticationError, ConnectError, TransportError
from ..transports.state import DeviceBusyError, PushState, default_state_dir, device_key
from .secrets import artifact_secrets, mask_marked

Opener = Callable[[str, "str | None", ConnParams, "list[str] | None"], Transport]


def artifact_path(platform: str, transport: str | None, artifact_dir: str) -> str:
    """The artifact the transport pushes in merge mode (from the platform spec)."""
    name = get(platform).artifact(transport)
    if not isinstance(name, str):
        raise TransportError(f"{platform} over {transport} pushes several artifacts: compare them on the device")
    return os.path.join(artifact_dir, name)


def state_of(state_dir: str | None, conn: ConnParams, key: str | None = None) -> PushState:
    """The push state (lock, journal, last applied) of the device: the same one gateway_push uses."""
    return PushState(state_dir or default_state_dir(), device_key(key, conn.host, conn.port))


def previous_for(state_dir: str | None, conn: ConnParams, owner: str, key: str | None = None) -> str | None:
    """What stowpath applied last to this device for ``owner`` (None: never, or for another owner)."""
    applied = state_of(state_dir, conn, key).applied()
    return applied["intended"] if applied and applied.get("owner") == owner else None


def applied_before(conflict: str, previous: str | None, transport: str) -> bool:
    """Did stowpath itself apply the section the push layer calls a conflict?"""
    if not previous:
        return False
    if transport == "netconf":
        from ..transports.netconf import _parse, as_config, entries

        try:
            root = _parse(as_config(previous))
        except Exception:  # noqa: BLE001 - an unreadable record means "not provably ours"
            return False
        paths = tuple({k.split("[", 1)[0] for k in [conflict]})
        return conflict in entries(root, paths)
    return any(line.rstrip() == conflict for line in previous.splitlines())


def drift_aware_opener(previous: str | None, base: Opener = open_transport) -> Opener:
    """An opener whose transport drops 'conflicts' that are stowpath's own, hand-edited sections."""

    def opener(platform: str, transport: str | None, conn: ConnParams, secrets: list[str] | None = None) -> Transport:
        t = base(platform, transport, conn, secrets)
        original = t.diff

        def diff(intended: str, mode: str = "merge", prev: str | None = None):  # type: ignore[no-untyped-def]
            change = original(intended, mode, prev)
            ours = [c for c in change.conflicts if applied_before(c, previous, t.name)]
            change.conflicts = [c for c in change.conflicts if c not in ours]
            change.notes += [f"{c}: stowpath's own section, changed on the device (drift): restored" for c in ours]
            return change

        t.diff = diff  # type: ignore[method-assign]
        return t

    return opener


def _area(header: str, platform: str) -> str:
    return next((area for rx, area in get(platform).report_areas if re.match(rx, header)), "other")


def split_sections(diff: str, commands: list[str]) -> list[tuple[str, str, list[str]]]:
    """Per top-level section: ``(header, diff lines, commands)`` (CLI diffs of hier_config)."""
    diffs: dict[str, list[str]] = {}
    order: list[str] = []
    header = ""
    for line in diff.splitlines():
        if line and not line[0].isspace():
            header = line.lstrip("+- ").strip() if line[:2] in ("+ ", "- ") else line.strip()
            if header not in diffs:
                order.append(header)
                diffs[header] = []
        diffs.setdefault(header, []).append(line)
    cmds: dict[str, list[str]] = {}
    header = ""
    for c in commands:
        if c and not c[0].isspace():
            header = c[3:].strip() if c.startswith("no ") and c[3:].strip() in diffs else c.strip()
        cmds.setdefault(header, []).append(c)
    for h in cmds:
        if h not in diffs:
            order.append(h)
            diffs[h] = []
    return [(h, "\n".join(diffs[h]) + "\n", cmds.get(h, [])) for h in order]


def collect(platform: str, transport: str | None, conn: ConnParams, intended_path: str, *, state_dir: str | None,
            owner: str, secrets: list[str] | None = None, opener: Opener = open_transport,
            backup: bool = True, key: str | None = None, lock_wait: float = 30.0) -> dict[str, Any]:
    """Back up the running configuration and compute the owned-section drift (nothing is changed).

    Takes the device's push lock (as gateway_push): a drift check never reads a device in the middle
    of a push, and a push waits for the check."""
    state = state_of(state_dir, conn, key)
    try:
        with state.lock(lock_wait):
            return _collect(platform, transport, conn, intended_path, state=state, owner=owner, secrets=secrets,
                            opener=opener, backup=backup)
    except DeviceBusyError as exc:
        return {"items": [], "ignored": [], "checks": [], "backup": {}, "facts": {}, "unreachable": False,
                "errors": [f"{exc}: drift not checked"]}


def _collect(platform: str, transport: str | None, conn: ConnParams, intended_path: str, *, state: PushState,
             owner: str, secrets: list[str] | None, opener: Opener, backup: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"items": [], "ignored": [], "checks": [], "backup": {}, "errors": [], "facts": {},
                              "unreachable": False}
    with open(intended_path, encoding="utf-8") as fh:
        intended = fh.read()
    known = artifact_secrets([intended]) + list(secrets or []) + conn.secrets()
    applied = state.applied()
    previous = applied["intended"] if applied and applied.get("owner") == owner else None
    pending = state.pending()
    if pending:
        result["facts"]["pending_push"] = f"push {pending.get('token')} ({pending.get('state')}) is not confirmed yet"
    result["facts"]["applied_before"] = previous is not None
    try:
        t = opener(platform, transport, conn, known)
    except (ConnectError, AuthenticationError) as exc:
        result.update(unreachable=True, error=mask_marked(exc.message, known))
        return result
    try:
        change = t.diff(intended, "merge", previous)
    except TransportError as exc:
        result["errors"].append(mask_marked(exc.message, known))
        return result
    finally:
        t.close()
    name = t.name
    result["facts"]["transport"] = name
    if backup:
        ext = "xml" if name == "netconf" else "txt"
        text = mask_marked(t.mask(change.running), known)
        left = unmasked_secrets(text)
        if left:
            result["errors"].append(f"backup not written: {len(left)} line(s) look like secrets but could not be "
                                    f"masked ({'; '.join(left[:3])})")
        else:
            result["backup"][f"running-config.{ext}"] = text
    build = os.path.dirname(intended_path)
    how = {"netmiko": "configure terminal (then write memory after verification)",
           "netconf": f"edit-config merge of {build}/netconf.xml, commit confirmed",
           "napalm": "load_merge_candidate + commit_config(revert_in)"}.get(name, name)
    conflicts = set(change.conflicts)
    if change.changed and name == "netmiko":
        for header, diff, cmds in split_sections(change.text_diff, change.commands):
            drift_of_ours = header in conflicts and applied_before(header, previous, name)
            result["items"].append({
                "id": f"drift.running.{_area(header, platform)}.{re.sub(r'[^a-z0-9]+', '_', header.lower()).strip('_')[:60]}",
                "area": _area(header, platform) if "adjust-mss" not in diff else "mss", "kind": "running", "object": header,
                "title": f"'{header}' differs from the rendered configuration"
                + (" (stowpath's section, edited on the device)" if drift_of_ours else ""),
                "diff": mask_marked(diff, known), "commands": [mask_marked(c, known) for c in cmds],
                "changes": [mask_marked(ln.strip(), known) for ln in diff.splitlines() if ln.strip()[:2] in ("+ ", "- ")],
                "how": how})
    elif change.changed:
        result["items"].append({
            "id": f"drift.running.{platform}.{name}", "area": "config", "kind": "running",
            "object": f"{platform} running configuration",
            "title": f"the device's configuration differs from the rendered {os.path.basename(intended_path)}",
            "diff": mask_marked(change.text_diff, known), "commands": [mask_marked(c, known) for c in change.commands],
            "changes": [mask_marked(c, known) for c in change.commands], "how": how})
    for c in sorted(conflicts):
        if not applied_before(c, previous, name):
            result["items"].append({
                "id": f"drift.conflict.{re.sub(r'[^a-z0-9]+', '_', c.lower()).strip('_')[:60]}", "area": "conflict",
                "kind": "running", "object": c,
                "title": f"'{c}' exists with stowpath's name but was not written by stowpath for {owner}",
                "diff": "", "commands": [], "changes": ["not remediated automatically: rename/remove it on the device"],
                "how": "manual"})
    result["facts"]["notes"] = [mask_marked(n, known) for n in change.notes]
    return result
