"""Firewall layer: what on the facility gateway drops traffic from ``lan_cidrs`` to the cloud, and whose
rule it is (stowpath's own table/ACL/policy, or someone else's).

Evidence in: nftables JSON (``nft -j list ruleset``) on a Linux gateway, or parsed ACL/policy rows
(``{owner, name, action, text, hits}``) from a router. Findings out.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from .causes import finding

OWN_TABLE = "stowpath"
OWN_PREFIXES = ("STOWPATH", "stowpath")
FORWARD_HOOKS = ("forward", "prerouting", "postrouting")


def _nets(value: Any) -> list[ipaddress.IPv4Network] | None:
    """Networks an nft match's right-hand side names, or None when it is not an address match."""
    items = value.get("set") if isinstance(value, dict) and "set" in value else [value]
    out = []
    for item in items or []:
        if isinstance(item, dict) and "prefix" in item:
            item = f"{item['prefix'].get('addr')}/{item['prefix'].get('len')}"
        elif isinstance(item, dict) and "range" in item:
            lo, hi = item["range"]
            out.extend(ipaddress.summarize_address_range(ipaddress.ip_address(lo), ipaddress.ip_address(hi)))
            continue
        try:
            out.append(ipaddress.ip_network(str(item), strict=False))
        except ValueError:
            return None
    return out  # type: ignore[return-value]


def _ports(value: Any) -> list[int] | None:
    items = value.get("set") if isinstance(value, dict) and "set" in value else [value]
    ports: list[int] = []
    for item in items or []:
        if isinstance(item, int):
            ports.append(item)
        elif isinstance(item, dict) and "range" in item:
            lo, hi = item["range"]
            ports.extend(range(int(lo), int(hi) + 1))
        elif isinstance(item, str) and item.isdigit():
            ports.append(int(item))
        elif item == "https":
            ports.append(443)
        else:
            return None
    return ports


def rule_hits_flow(rule: dict[str, Any], lan: list[str], cloud: list[str], port: int) -> bool:
    """Could this nft rule match a new TCP ``port`` connection from ``lan`` to ``cloud``? Unknown matches
    (interfaces, marks, sets by name) count as "could"."""
    lan_n = [ipaddress.ip_network(c) for c in lan]
    cloud_n = [ipaddress.ip_network(c) for c in cloud]
    for expr in rule.get("expr", []):
        m = expr.get("match")
        if not m:
            continue
        left, right, op = m.get("left") or {}, m.get("right"), m.get("op", "==")
        payload = left.get("payload") if isinstance(left, dict) else None
        if payload:
            field, proto = payload.get("field"), payload.get("protocol")
            if proto in ("tcp", "th") and field == "dport":
                ports = _ports(right)
                if ports is not None and ((port in ports) != (op in ("==", "in"))):
                    return False
            elif proto in ("udp",):
                return False
            elif proto == "ip" and field in ("saddr", "daddr"):
                nets = _nets(right)
                if nets is None:
                    continue
                ours = lan_n if field == "saddr" else cloud_n
                hit = any(a.overlaps(b) for a in ours for b in nets)
                if hit != (op in ("==", "in")):
                    return False
        meta = left.get("meta") if isinstance(left, dict) else None
        if meta and meta.get("key") == "l4proto" and isinstance(right, str) and (right != "tcp") == (op == "=="):
            return False
        ct = left.get("ct") if isinstance(left, dict) else None
        if ct and ct.get("key") == "state":
            states = right if isinstance(right, list) else (right.get("set") if isinstance(right, dict) else [right])
            if "new" not in (states or []) and op in ("==", "in"):
                return False
    return True


def _verdict(rule: dict[str, Any]) -> str | None:
    for expr in rule.get("expr", []):
        for v in ("drop", "reject", "accept"):
            if v in expr:
                return v
    return None


def _counter(rule: dict[str, Any]) -> int | None:
    for expr in rule.get("expr", []):
        if "counter" in expr:
            return int(expr["counter"].get("packets") or 0)
    return None


def _rule_text(rule: dict[str, Any]) -> str:
    bits = []
    for expr in rule.get("expr", []):
        if "match" in expr:
            m = expr["match"]
            left = m.get("left")
            key = (left.get("payload") or left.get("meta") or left.get("ct") or {}) if isinstance(left, dict) else {}
            name = " ".join(str(v) for v in key.values()) or json.dumps(left)
            bits.append(f"{name} {m.get('op')} {json.dumps(m.get('right'))}")
        elif "counter" in expr:
            bits.append(f"counter packets {expr['counter'].get('packets')}")
        else:
            bits.extend(k for k in expr if k in ("drop", "reject", "accept"))
    return " ".join(bits)


def evaluate_nft(ruleset_json: str, lan: list[str], cloud: list[str], port: int = 443) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Findings from the gateway's nftables ruleset (JSON)."""
    data = json.loads(ruleset_json or "{}")
    chains: dict[tuple[str, str, str], dict[str, Any]] = {}
    rules: list[dict[str, Any]] = []
    for item in data.get("nftables", []):
        if "chain" in item:
            c = item["chain"]
            chains[(c.get("family"), c.get("table"), c.get("name"))] = c
        elif "rule" in item:
            rules.append(item["rule"])
    findings: list[dict[str, Any]] = []
    foreign: list[str] = []
    own_drops: list[str] = []
    accepted: set[tuple[str, str, str]] = set()  # chains where an earlier rule accepts the flow
    for r in rules:
        chain = chains.get((r.get("family"), r.get("table"), r.get("chain"))) or {}
        hook = chain.get("hook")
        verdict = _verdict(r)
        where = f"table {r.get('family')} {r.get('table')} chain {r.get('chain')} (hook {hook or 'none'})"
        if r.get("table") == OWN_TABLE:
            packets = _counter(r)
            if verdict == "drop" and packets:
                own_drops.append(f"{where}: {r.get('comment') or _rule_text(r)}: {packets} packets")
            continue
        key = (r.get("family"), r.get("table"), r.get("chain"))
        if hook not in FORWARD_HOOKS or key in accepted:
            continue
        if verdict == "accept" and rule_hits_flow(r, lan, cloud, port):
            accepted.add(key)
            continue
        if verdict not in ("drop", "reject"):
            continue
        if rule_hits_flow(r, lan, cloud, port):
            foreign.append(f"{where} handle {r.get('handle')}: {_rule_text(r)}"
                           + (f' comment "{r["comment"]}"' if r.get("comment") else ""))
    for (fam, table, name), c in chains.items():
        if table != OWN_TABLE and c.get("hook") in FORWARD_HOOKS and c.get("policy") == "drop" and \
                (fam, table, name) not in accepted:
            foreign.append(f"table {fam} {table} chain {name}: policy drop on hook {c.get('hook')} "
                           "(everything not accepted there is dropped)")
    if foreign:
        tables = sorted({f.split(" chain ")[0] for f in foreign})
        findings.append(finding("firewall.foreign_rule_drops_443",
                                f"{', '.join(tables)} (not stowpath's) drops TCP {port} from {', '.join(lan)} "
                                f"to {', '.join(cloud)}", foreign, tables=tables))
    if own_drops:
        findings.append(finding("firewall.stowpath_drops", "stowpath's table dropped packets (counters since load)",
                                own_drops))
    return findings, {"foreign_drop_rules": foreign, "stowpath_drops": own_drops}


_ACL_ROW = re.compile(r"^\s*(\d+)?\s*(deny|permit|reject|discard)\b(.*?)(?:\((\d+) match(?:es)?\))?\s*$", re.I)


def parse_acl_hits(text: str) -> list[dict[str, Any]]:
    """IOS-XE ``show access-lists`` -> ``[{acl, seq, action, text, hits}]``."""
    rows, acl = [], None
    for line in text.splitlines():
        head = re.match(r"^(?:Extended|Standard) IP access list (\S+)", line)
        if head:
            acl = head.group(1)
            continue
        m = _ACL_ROW.match(line)
        if m and acl:
            rows.append({"acl": acl, "seq": m.group(1), "action": m.group(2).lower(), "text": line.strip(),
                         "hits": int(m.group(4) or 0)})
    return rows


def evaluate_acls(rows: list[dict[str, Any]], port: int = 443) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Findings from router ACL/policy rows: a deny that covers TCP ``port`` (or all IP) with hits, in an
    ACL/policy stowpath does not own."""
    foreign, own = [], []
    for r in rows:
        if r["action"] not in ("deny", "reject", "discard") or not r.get("hits"):
            continue
        text = r["text"].lower()
        covers = (f"eq {port}" in text or "eq 443" in text or " https" in text or re.search(r"\bdeny ip\b", text)
                  or "any any" in text)
        line = f"{r['acl']}: {r['text']}"
        if str(r["acl"]).startswith(OWN_PREFIXES):
            own.append(line)
        elif covers:
            foreign.append(line)
    findings = []
    if foreign:
        findings.append(finding("firewall.foreign_rule_drops_443",
                                f"ACL/policy {', '.join(sorted({f.split(':')[0] for f in foreign}))} (not stowpath's) "
                                f"denies TCP {port} traffic", foreign))
    if own:
        findings.append(finding("firewall.stowpath_drops", "stowpath's ACLs denied packets", own))
    return findings, {"foreign_drop_rules": foreign, "stowpath_drops": own}
