"""The change plan: what a push would do to one gateway, for a change advisory board, without changing it.

``build_plan`` is pure: it takes the validated site (masked), the platform spec, the intended artifact(s)
and what the device runs now (read through the transport, or a saved ``show running-config``), and
returns a dict: the exact commands or diff (secrets masked), every pre-existing line or object the change
replaces or depends on (the platform spec's ``preflight``), the conflicts that would stop the push with
their fix, the expected impact, the verification and rollback plans and the estimated duration.
``render`` (``plan/render.py``) writes it as Markdown, HTML and JSON.
"""

from __future__ import annotations

import difflib
import re
import time
from typing import Any, Mapping

from ..redact import mask_structure
from .benchmarks import estimate

BLOCKING, SHARED, DEPENDS, INFO = "blocking", "shared", "depends", "info"
SEVERITY_ORDER = {BLOCKING: 0, SHARED: 1, DEPENDS: 2, INFO: 3}


def finding(fid: str, severity: str, obj: str, change: str, impact: str = "", fix: str = "",
            lines: list[str] | None = None) -> dict[str, Any]:
    return {"id": fid, "severity": severity, "object": obj, "lines": lines or [], "change": change,
            "impact": impact, "fix": fix}


def _is_cli_text(text: Any) -> bool:
    return isinstance(text, str) and not text.lstrip().startswith("<")


def _cli_change(spec: Any, running: str, intended: str, mode: str, previous: str | None) -> dict[str, Any]:
    """Commands, diff, conflicts and the exact hand rollback from the platform's CLI planner."""
    planner = spec.cli
    prev = previous if _is_cli_text(previous) else None
    rem = planner.remediation(running, intended, mode, prev)
    rollback: list[str] = []
    if rem.commands:
        before = planner.parse(running)
        after = before.future(planner.parse("\n".join(c for c in rem.commands if c.strip() != "exit")))
        future_text = "\n".join(after.dump_simple())
        rollback = planner.restore_commands(future_text, running, rem.scope, intended)
    return {"commands": rem.commands, "diff": planner.unified(rem.diff), "conflicts": rem.conflicts,
            "notes": rem.notes, "scope": rem.scope, "rollback_commands": rollback}


def _file_change(running: Mapping[str, str], intended: Mapping[str, str], paths: Mapping[str, str]) -> dict[str, Any]:
    """File diffs for platforms whose artifacts are whole files on the device."""
    diff: list[str] = []
    for name, text in intended.items():
        where = paths.get(name, name)
        old = running.get(name) or ""
        diff += difflib.unified_diff(old.splitlines(True), text.splitlines(True), where, where, n=2)
    return {"commands": [], "diff": "".join(diff), "conflicts": [], "notes": [], "scope": sorted(intended),
            "rollback_commands": []}


def _conflict_findings(conflicts: list[str], mode: str) -> list[dict[str, Any]]:
    """Blocking findings from the planner's conflicts: an object name, or ``object (what and how to fix)``."""
    if mode != "merge":
        return []
    out = []
    for c in conflicts:
        m = re.match(r"^(.*?) \((.*)\)$", c, re.S)
        if m:
            out.append(finding("conflict", BLOCKING, m.group(1), m.group(2),
                               "the push stops (merge mode) before changing anything",
                               "as described, or set gateway_push_mode: replace to overwrite it (the board must "
                               "approve the overwrite)"))
        else:
            out.append(finding("conflict", BLOCKING, c, "an object with stowpath's name exists with other content and "
                               "was not written by stowpath", "the push stops (merge mode) before changing anything",
                               "rename or remove the facility's object, or set gateway_push_mode: replace to overwrite "
                               "it (the board must approve the overwrite)"))
    return out


def _not_in_conflicts(findings: list[dict[str, Any]], conflicts: list[str]) -> list[dict[str, Any]]:
    """Drop a shared-line finding the planner already reports as a conflict (same section and line)."""
    def covered(f: dict[str, Any]) -> bool:
        head = f["object"].split(" / ")[0]
        return bool(f["lines"]) and any(c.startswith(f"{head}: {f['lines'][0].strip()}") for c in conflicts)

    return [f for f in findings if not covered(f)]


def verification_plan(site: Mapping[str, Any], imaging: bool) -> list[str]:
    steps = []
    for t in site.get("tunnels") or []:
        steps.append(f"tunnel {t['name']} to {t['remote_outside']}: IKE SA ESTABLISHED with an installed CHILD SA")
    if site.get("dx"):
        steps.append(f"Direct Connect VIF {site['dx'].get('vif_id')} on {site['dx'].get('vlan_interface')} up")
    if site.get("routing") == "bgp" or site.get("dx"):
        steps.append(f"BGP with AS {site.get('cloud_asn')} Established on every link; routes to "
                     f"{', '.join(site.get('accept_prefixes') or [])} received, {', '.join(site['lan']['cidrs'])} "
                     "advertised")
    else:
        steps.append("static routes to the DICOMweb range through the tunnels")
    steps.append(f"path from the LAN to {site['dicomweb']['host']}: ping, ICMP traceroute through the link, path MTU "
                 f"vs the MSS clamp ({site.get('tcp_mss') or 'none'})")
    steps.append(f"firewall: TCP {site['dicomweb']['port']} to {', '.join(site['dicomweb']['cidrs'])} allowed, "
                 "other ports blocked")
    if imaging:
        steps.append("TLS/mTLS handshake and HTTP request, STOW-RS upload of a synthetic instance, QIDO-RS, "
                     "a PACS-driven send confirmed on the cloud")
    steps.append("the push is confirmed only when every network check passes; otherwise it is rolled back")
    return steps


def rollback_plan(transport: str, confirm_timeout: int, rollback_commands: list[str],
                  device_side_rollback: bool) -> dict[str, Any]:
    if device_side_rollback:
        automatic = (f"commit confirmed with a {confirm_timeout} s timer: unless stowpath confirms after the "
                     "verification, the device reverts by itself")
    elif transport == "linux":
        automatic = ("byte-identical snapshot of the files stowpath writes and reload of what changed, on any "
                     "failed step (snapshot in /var/lib/stowpath/backups/)")
    else:
        automatic = ("the running configuration is saved before the change; on a failed step stowpath sends the "
                     "restore commands below; 'write memory' only after the verification passed (a reload also "
                     "reverts an unconfirmed change)")
    return {"automatic": automatic, "by_hand": rollback_commands,
            "procedure": "docs/real-router.md, 'Roll back by hand'"}


def impact(findings: list[dict[str, Any]], site: Mapping[str, Any], changed: bool) -> list[str]:
    out = [f"{f['object']}: {f['impact']}" for f in findings if f["severity"] in (BLOCKING, SHARED) and f["impact"]]
    if not changed:
        return ["none: the device already matches (no change)"]
    if not out:
        out.append("none expected on existing traffic: the change only adds stowpath's own objects "
                   "(new tunnels and BGP sessions to the cloud come up; no existing session resets)")
    links = len(site.get("tunnels") or []) or (1 if site.get("dx") else 0)
    out.append(f"{links} new link(s) to the cloud; DICOMweb traffic from {', '.join(site['lan']['cidrs'])} to "
               f"{', '.join(site['dicomweb']['cidrs'])} moves to them once BGP (or the static routes) is up")
    return out


def build_plan(site: Mapping[str, Any], spec: Any, transport: str, intended: Any, running: Any, *,
               source: str, mode: str = "merge", previous: str | None = None, secrets: list[str] | None = None,
               change: Any = None, confirm_timeout: int = 300, imaging: bool = False,
               device_side_rollback: bool = False, file_paths: Mapping[str, str] | None = None,
               unread_reason: str = "") -> dict[str, Any]:
    """The change plan of one gateway (see the module docstring). Everything returned is masked.

    ``running``: the device's configuration (CLI text, XML, or ``{artifact: file text}``), None when it
    could not be read (``unread_reason``). ``change``: a transport's ``Change`` when the transport computed
    the diff itself (NETCONF, NAPALM). ``source``: where ``running`` came from (``device``, a file path).
    """
    secrets = [s for s in (secrets or []) if s]
    masked_site = dict(site)
    findings: list[dict[str, Any]] = []
    notes: list[str] = []
    result: dict[str, Any] = {"commands": [], "diff": "", "conflicts": [], "notes": [], "scope": [],
                              "rollback_commands": []}
    if running is None:
        notes.append(f"the device's configuration was not read ({unread_reason or 'no source'}): the plan shows the "
                     "whole intended configuration; give -e running_config_file=PATH (a saved 'show running-config') "
                     "or run against the device to see the exact change")
        text = intended if isinstance(intended, str) else "\n".join(f"# {k}\n{v}" for k, v in intended.items())
        result["commands"] = text.splitlines()
    elif change is not None:
        result.update(commands=list(change.commands), diff=change.text_diff, conflicts=list(change.conflicts),
                      notes=list(change.notes), scope=list(change.scope))
    elif isinstance(intended, str) and spec.cli is not None and _is_cli_text(running):
        result.update(_cli_change(spec, running, intended, mode, previous))
    elif isinstance(intended, Mapping) and isinstance(running, Mapping):
        result.update(_file_change(running, intended, file_paths or {}))
    else:
        notes.append("this platform's configuration cannot be compared offline: run the plan against the device")
    if isinstance(running, str) and _is_cli_text(running) and isinstance(intended, str) and spec.preflight:
        findings += spec.preflight(running, intended, site)
    elif running is not None and spec.preflight:
        notes.append("the shared-line review needs the CLI running configuration: pass -e running_config_file=PATH "
                     "(a saved 'show running-config')")
    findings = _conflict_findings(result["conflicts"], mode) + _not_in_conflicts(findings, result["conflicts"])
    findings.sort(key=lambda f: SEVERITY_ORDER.get(f["severity"], 9))
    changed = bool(result["commands"] or result["diff"])
    blocking = [f for f in findings if f["severity"] == BLOCKING]
    plan = {
        "site_name": site.get("site_name"), "host": site.get("hostname"), "platform": spec.name,
        "platform_title": spec.title, "transport": transport, "mode": mode, "source": source,
        "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "status": "blocked" if blocking else ("change" if changed else "no_change"),
        "summary": {"commands": len([c for c in result["commands"] if c.strip() not in ("", "exit")]),
                    "blocking": len(blocking), "shared": sum(f["severity"] == SHARED for f in findings),
                    "depends": sum(f["severity"] == DEPENDS for f in findings)},
        "commands": result["commands"], "diff": result["diff"], "findings": findings,
        "impact": impact(findings, masked_site, changed),
        "verification": verification_plan(masked_site, imaging),
        "rollback": rollback_plan(transport, confirm_timeout, result["rollback_commands"], device_side_rollback),
        "duration": estimate(transport, changed, masked_site, confirm_timeout),
        "notes": notes + result["notes"] + list(site.get("warnings") or []),
        "owned": list(spec.owned),
    }
    masked = mask_structure(plan, secrets)
    for key in ("commands",):
        masked[key] = [spec.mask(c, secrets) for c in masked[key]]
    masked["diff"] = spec.mask(masked["diff"], secrets)
    masked["rollback"]["by_hand"] = [spec.mask(c, secrets) for c in masked["rollback"]["by_hand"]]
    for f in masked["findings"]:
        f["lines"] = [spec.mask(ln, secrets) for ln in f["lines"]]
    return masked
