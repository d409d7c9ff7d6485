"""One drift result per gateway, whatever the platform, and its verdict.

A collector (``drift_linux`` on the gateway, ``drift_vendor`` on the controller) returns
``{"items": [...], "ignored": [...], "checks": [...], "backup": {...}, "errors": [...]}`` where an
item is one owned section that drifted (see :func:`.linux.item`) and ``checks`` are runtime checks in
the shape of :mod:`..checks`. :func:`verdict` turns that into ``in_sync`` / ``drifted`` /
``unreachable`` and :func:`as_checks` into report checks (group ``drift``, plus the runtime ones).
"""

from __future__ import annotations

from typing import Any

from ..checks import check

IN_SYNC, DRIFTED, UNREACHABLE = "in_sync", "drifted", "unreachable"
STATUSES = (IN_SYNC, DRIFTED, UNREACHABLE)


def runtime_problems(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runtime checks that count as drift: failed ones, and warnings (a certificate about to expire)."""
    return [c for c in checks if c.get("status") in ("fail", "warn")]


def verdict(host: dict[str, Any]) -> str:
    if host.get("unreachable"):
        return UNREACHABLE
    if host.get("items") or runtime_problems(host.get("checks") or []) or host.get("errors"):
        return DRIFTED
    return IN_SYNC


def summary(host: dict[str, Any]) -> str:
    """One line for the fleet table and the play output."""
    status = verdict(host)
    if status == UNREACHABLE:
        return f"unreachable: {host.get('error') or 'no answer'}"
    parts = []
    if host.get("items"):
        areas = sorted({a for i in host["items"] for a in i.get("areas") or [i["area"]]})
        parts.append(f"{len(host['items'])} owned section(s) drifted ({', '.join(areas)})")
    problems = runtime_problems(host.get("checks") or [])
    if problems:
        parts.append(f"{len(problems)} runtime problem(s): " + ", ".join(c["id"] for c in problems))
    if host.get("errors"):
        parts.append(f"{len(host['errors'])} collection error(s)")
    return "; ".join(parts) or "in sync"


def as_checks(host: dict[str, Any]) -> list[dict[str, Any]]:
    """Report checks for one gateway: reachability, one per owned section, the runtime checks."""
    name = host.get("host", "?")
    if host.get("unreachable"):
        return [check(f"drift.{name}.reachable", "drift", f"{name} answers for the drift check", "fail",
                      cause=f"unreachable: {host.get('error') or 'no answer'}",
                      action="check the management path (SSH/NETCONF), credentials and that the device is up")]
    out = [check(f"drift.{name}.reachable", "drift", f"{name} answers for the drift check", "pass")]
    if not host.get("items"):
        out.append(check(f"drift.{name}.config", "drift", "stowpath's sections match the intended configuration",
                         "pass", detail={"ignored": host.get("ignored") or []}))
    for i in host.get("items") or []:
        out.append(check(
            f"{i['id']}@{name}", "drift", i["title"], "fail",
            detail={"object": i["object"], "kind": i["kind"], "area": i["area"], "diff": i["diff"],
                    "remediation": i["commands"], "changes": i["changes"]},
            cause=f"drift: {'; '.join(i['changes'][:5]) or i['title']}",
            action="remediate: ansible-playbook playbooks/drift-check.yml -l " + name + " -e remediate=true"))
    for err in host.get("errors") or []:
        out.append(check(f"drift.{name}.collect", "drift", "the device state could be read completely", "fail",
                         cause=err, action="check the daemons on the gateway"))
    for c in host.get("checks") or []:
        out.append(dict(c, id=f"{c['id']}@{name}"))
    return out
