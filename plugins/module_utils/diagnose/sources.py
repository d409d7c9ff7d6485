"""Where the gateway's evidence comes from: the platform spec's state readers (tunnels, BGP) plus the
device's own logs, BGP error details, forwarding route and firewall counters, read through the same
query executor (``transport.query``). Nothing is changed on the device.

Log dialects: ``charon`` (a gateway the modules run on: charon's log file or journal, FRR JSON, kernel
log, nftables JSON), ``ios`` (routers whose NAPALM driver is ``ios``: ``show logging``, ``show ip bgp
neighbors``, ``show access-lists``), ``kmd`` (the other routers: ``show log kmd``, ``show log messages``,
``show security policies hit-count``).
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from typing import Any, Callable

from .firewall import evaluate_acls, evaluate_nft, parse_acl_hits
from .routing import route_from_table

Query = Callable[[list[str]], "dict[str, Any]"]

CHARON_LOG_FILES = ("/run/charon.log", "/var/log/charon.log", "/var/log/strongswan.log")
STRONGSWAN_CONF = ("/etc/strongswan.conf",)
JOURNAL_UNITS = ("strongswan", "strongswan-starter", "charon-systemd")
LOG_LINES = 800

ROUTER_COMMANDS = {
    "ios": {"ike_log": "show logging", "bgp_detail": "show ip bgp neighbors", "firewall": "show access-lists"},
    "kmd": {"ike_log": "show log kmd", "bgp_detail": "show log messages | match bgp",
            "firewall": "show security policies hit-count"},
}


def dialect_of(spec: Any) -> str:
    if spec.runs_on == "device":
        return "charon"
    return "ios" if (spec.napalm or {}).get("driver") == "ios" else "kmd"


def _try(query: Query, cmd: str) -> tuple[str | None, str | None]:
    try:
        out = query([cmd])[cmd]
    except Exception as exc:  # noqa: BLE001 - a missing log or tool is evidence too, never a crash
        return None, f"{cmd}: {getattr(exc, 'message', exc)}"
    return (out if isinstance(out, str) else json.dumps(out)), None


def charon_log_files(query: Query, extra: list[str]) -> list[str]:
    """Log files named in strongswan.conf's filelog sections, the usual places, and ``extra``."""
    files: list[str] = list(extra)
    for conf in STRONGSWAN_CONF:
        text, _ = _try(query, shlex.join(["cat", conf]))
        for m in re.finditer(r"filelog\s*\{(.*?)\n\s*\}\s*\n", text or "", re.S):
            files += re.findall(r"^\s*path\s*=\s*(\S+)", m.group(1), re.M)
            files += [p for p in re.findall(r"^\s*(/\S+)\s*\{", m.group(1), re.M)]
    return list(dict.fromkeys(files + list(CHARON_LOG_FILES)))


def collect_logs(query: Query, dialect: str, log_files: list[str], lines: int = LOG_LINES) -> tuple[list[str], list[str], list[str]]:
    """``(IKE log lines, BGP/kernel log lines, notes)``."""
    notes: list[str] = []
    if dialect != "charon":
        cmds = ROUTER_COMMANDS[dialect]
        ike, err = _try(query, cmds["ike_log"])
        if err:
            notes.append(err)
        bgp, err2 = _try(query, cmds["bgp_detail"])
        if err2:
            notes.append(err2)
        return (ike or "").splitlines()[-lines:], (bgp or "").splitlines()[-lines:], notes
    ike_lines: list[str] = []
    for path in charon_log_files(query, log_files):
        text, err = _try(query, shlex.join(["tail", "-n", str(lines), path]))
        if text:
            ike_lines = text.splitlines()
            notes.append(f"IKE log: {path}")
            break
    if not ike_lines:
        units = [a for u in JOURNAL_UNITS for a in ("-u", u)]
        text, err = _try(query, shlex.join(["journalctl", *units, "-n", str(lines), "--no-pager", "-o", "short"]))
        ike_lines = [x for x in (text or "").splitlines() if not x.startswith("-- ")]
        notes.append("IKE log: journald" if ike_lines else f"no IKE log found ({err or 'journal empty'})")
    kern, _ = _try(query, shlex.join(["dmesg"]))
    kernel = [x for x in (kern or "").splitlines() if "MD5" in x or "md5" in x][-40:]
    return ike_lines, kernel, notes


def frr_details(query: Query, neighbors: list[str]) -> dict[str, dict[str, Any]]:
    """Per neighbor: state, last reset/NOTIFICATION, messages received, whether an MD5 key is set."""
    text, _ = _try(query, shlex.join(["vtysh", "-c", "show bgp neighbors json"]))
    try:
        data = json.loads(text or "{}")
    except ValueError:
        data = {}
    running, _ = _try(query, shlex.join(["vtysh", "-c", "show running-config"]))
    out: dict[str, dict[str, Any]] = {}
    for addr in neighbors:
        ipaddress.ip_address(addr)
        n = data.get(addr) or {}
        stats = n.get("messageStats") or {}
        out[addr] = {
            "state": n.get("bgpState"), "last_reset": n.get("lastResetDueTo"),
            "last_notification": n.get("lastNotificationReason") or n.get("lastErrorCodeSubcode"),
            "messages_received": stats.get("totalRecv"),
            "connections_established": n.get("connectionsEstablished"),
            "password": bool(re.search(rf"^\s*neighbor {re.escape(addr)} password ", running or "", re.M)),
        }
    return out


def ios_details(text: str, neighbors: list[str]) -> dict[str, dict[str, Any]]:
    """``show ip bgp neighbors``: state and "Last reset ..." per neighbor."""
    out: dict[str, dict[str, Any]] = {}
    blocks = re.split(r"(?m)^BGP neighbor is ", text or "")
    for b in blocks:
        addr = b.split(",", 1)[0].strip()
        if addr in neighbors:
            state = re.search(r"BGP state = (\w+)", b)
            reset = re.search(r"Last reset (.*)", b)
            notif = re.search(r"(?i)notification (?:received|sent).*", b)
            out[addr] = {"state": state.group(1) if state else None, "last_reset": reset.group(1).strip() if reset else None,
                         "last_notification": notif.group(0).strip() if notif else None,
                         "password": "MD5" in b or "password" in b.lower()}
    return out


def linux_route(query: Query, target: str) -> dict[str, Any]:
    ipaddress.ip_address(target)
    text, err = _try(query, shlex.join(["ip", "-j", "route", "get", target]))
    if err or not text:
        return {"target": target, "error": err or "no answer"}
    try:
        r = (json.loads(text) or [{}])[0]
    except ValueError:
        return {"target": target, "error": text[:200]}
    table, _ = _try(query, shlex.join(["vtysh", "-c", f"show ip route {target} json"]))
    prefix = protocol = None
    try:
        zebra = json.loads(table or "{}")
        prefix = next(iter(zebra), None)
        protocol = (zebra.get(prefix) or [{}])[0].get("protocol") if prefix else None
    except ValueError:
        pass
    return {"target": target, "dev": r.get("dev"), "gateway": r.get("gateway"), "prefix": prefix,
            "protocol": protocol}


def collect_gateway(spec: Any, transport: str, query: Query, exp: dict[str, Any], log_files: list[str],
                    target: str | None) -> dict[str, Any]:
    """Everything the gateway, routing and firewall layers look at (raw evidence, not yet judged)."""
    dialect = dialect_of(spec)
    ev: dict[str, Any] = {"dialect": dialect, "notes": []}
    try:
        recipe = spec.state_for(transport)
    except ValueError as exc:
        recipe = None
        ev["notes"].append(str(exc))
    if recipe is not None and exp.get("tunnels"):
        try:
            ev["observed"], ev["configured"] = recipe.tunnels(query, exp)
        except Exception as exc:  # noqa: BLE001 - reported as evidence
            ev["notes"].append(f"tunnel state: {getattr(exc, 'message', exc)}")
    if recipe is not None:
        try:
            ev["bgp"] = recipe.bgp(query, exp)
        except Exception as exc:  # noqa: BLE001
            ev["notes"].append(f"BGP state: {getattr(exc, 'message', exc)}")
    ike, other, notes = collect_logs(query, dialect, log_files)
    ev.update(ike_log=ike, bgp_log=other)
    ev["notes"] += notes
    neighbors = [n["address"] for n in exp.get("neighbors") or []]
    if dialect == "charon":
        ev["bgp_details"] = frr_details(query, neighbors) if neighbors else {}
        ev["route"] = linux_route(query, target) if target else None
        rules, err = _try(query, shlex.join(["nft", "-j", "list", "ruleset"]))
        ev["firewall"] = {"kind": "nft", "text": rules or ""}
        if err:
            ev["notes"].append(err)
    else:
        ev["bgp_details"] = ios_details("\n".join(other), neighbors) if dialect == "ios" else {}
        ev["route"] = route_from_table((ev.get("bgp") or {}).get("routes") or [], target) if target else None
        text, err = _try(query, ROUTER_COMMANDS[dialect]["firewall"])
        ev["firewall"] = {"kind": "acl", "text": text or ""}
        if err:
            ev["notes"].append(err)
    return ev


def judge_firewall(fw: dict[str, Any], exp: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    lan, cloud, port = exp.get("advertise") or [], exp.get("cloud_cidrs") or [], int(exp.get("target_port") or 443)
    if fw.get("kind") == "nft":
        try:
            return evaluate_nft(fw.get("text") or "{}", lan, cloud, port)
        except ValueError:
            return [], {"note": "nft -j output not readable"}
    return evaluate_acls(parse_acl_hits(fw.get("text") or ""), port)
