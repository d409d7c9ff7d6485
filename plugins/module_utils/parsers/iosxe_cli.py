"""Cisco IOS-XE over the CLI (netmiko): which show commands read tunnel and BGP state, and parsers that
turn their text into the platform-neutral shapes of ``verify/model.py``.

Public API (called by the platform registry for ``cisco_iosxe`` + ``netmiko``)::

    tunnel_queries(exp) -> [command]          parse_tunnels(answers, exp) -> [TunnelState]
    bgp_queries(exp) -> [command]             parse_bgp(answers, exp) -> BGP collection

``exp`` is :func:`verify.model.expected`; ``answers`` maps every query to the device's text.
Parsing uses ntc-templates (TextFSM) wherever a template exists; the few hand-written parts are marked.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

SESSION_DETAIL = "show crypto session detail"
BGP_SUMMARY = "show ip bgp summary"
IP_ROUTE = "show ip route"
UP_IKE = "ESTABLISHED"
UP_CHILD = "INSTALLED"
NO_CHILD = "NO_ACTIVE_SA"
PROTOCOLS = {"B": "bgp", "S": "static", "C": "connected", "L": "local", "O": "ospf", "D": "eigrp", "i": "isis",
             "R": "rip", "M": "mobile", "m": "omp", "n": "nat", "o": "odr", "U": "static", "l": "lisp"}
_DURATION = re.compile(r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?")


class ParseError(ValueError):
    """Device output that is not what the parser expects (the message quotes it briefly)."""


# ---------------------------------------------------------------- small helpers
def _ntc(command: str, text: str) -> list[dict[str, Any]]:
    from ntc_templates.parse import parse_output

    try:
        return parse_output(platform="cisco_ios", command=command, data=text)
    except Exception as exc:  # TextFSM raises its own error types
        raise ParseError(f"{command}: unexpected output ({text.strip()[:160]!r}): {exc}") from exc


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def duration_s(text: str | None) -> int | None:
    """IOS uptimes: ``11:12:24``, ``3d18h``, ``7w0d``, ``1y10w`` -> seconds; ``never``/empty -> None."""
    text = (text or "").strip()
    m = re.fullmatch(r"(\d+):(\d\d):(\d\d)", text)
    if m:
        return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3))
    m = _DURATION.fullmatch(text)
    if not text or not m:
        return None
    y, w, d, h = (int(g or 0) for g in m.groups())
    return ((y * 365 + w * 7 + d) * 24 + h) * 3600


def asn(text: Any) -> int | None:
    """``65020`` or asdot ``64000.2017`` -> asplain integer."""
    s = str(text or "").strip()
    if re.fullmatch(r"\d+", s):
        return int(s)
    m = re.fullmatch(r"(\d+)\.(\d+)", s)
    return int(m.group(1)) * 65536 + int(m.group(2)) if m else None


def _cidr(addr: str, mask: str) -> str:
    return str(ipaddress.ip_network(f"{addr}/{mask}", strict=False))


def prefix(network: str) -> str:
    """A BGP table network: ``10.1.0.0/16``, or a classful ``192.168.1.0`` (IOS omits classful masks)."""
    if "/" in network:
        return str(ipaddress.ip_network(network, strict=False))
    first = int(network.split(".")[0])
    length = 8 if first < 128 else 16 if first < 192 else 24
    return str(ipaddress.ip_network(f"{network}/{length}", strict=False))


# ---------------------------------------------------------------- tunnels
def tunnel_queries(exp: dict[str, Any]) -> list[str]:
    """One command shows every crypto session (IKE SA, IPsec flow, SA count, packet counters)."""
    return [SESSION_DETAIL]


def _session_extras(text: str) -> list[dict[str, Any]]:
    """Hand-written: the ntc template keeps neither the IKE version nor the packet counters of
    ``show crypto session detail``; read them per ``Interface:`` block, in output order."""
    blocks = re.split(r"(?m)^(?=Interface: )", text)
    extras = []
    for block in blocks:
        m = re.match(r"Interface: (\S+)", block)
        if not m:
            continue
        version = re.search(r"^\s+IKE(?:v(\d))? SA:", block, re.M)
        dec = re.findall(r"#pkts dec'ed (\d+)", block)
        enc = re.findall(r"#pkts enc'ed (\d+)", block)
        extras.append({"interface": m.group(1),
                       "ike_version": int(version.group(1) or 1) if version else None,
                       "packets_in": sum(int(x) for x in dec) if dec else None,
                       "packets_out": sum(int(x) for x in enc) if enc else None})
    return extras


def _selector(host: str, mask: str | None) -> str:
    return _cidr(host, mask) if mask else f"{host}/32"


def _session_to_tunnel(rec: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    status = rec.get("session_status") or ""
    ike_active = rec.get("ikev1_status") == "Active"  # the template's name; it holds IKEv1 and IKEv2 SA state
    ike_up = ike_active and status.startswith("UP") and status != "UP-NO-IKE"
    children = []
    if rec.get("src_host"):
        active = _int(rec.get("active_sa")) or 0
        children.append({
            "name": rec["interface"], "state": UP_CHILD if ike_up and active > 0 else NO_CHILD,
            "reqid": None, "active_sas": active,
            "local_ts": [_selector(rec["src_host"], rec.get("src_mask"))],
            "remote_ts": [_selector(rec["dst_host"], rec.get("dst_mask"))],
            "bytes_in": None, "bytes_out": None,  # IOS shows packet counters only
            "packets_in": extra.get("packets_in"), "packets_out": extra.get("packets_out")})
    return {
        "name": rec["interface"], "ike_state": UP_IKE if ike_up else status or "DOWN",
        "session_status": status, "ike_version": extra.get("ike_version"),
        "local_outside": rec.get("local_ip") or None, "remote_outside": rec.get("peer"),
        "established_s": duration_s(rec.get("uptime")) if ike_up else None,
        "profile": rec.get("profile") or None, "children": children}


def parse_session_detail(text: str) -> list[dict[str, Any]]:
    """``show crypto session detail`` -> TunnelState list (verify/model.py), one per session."""
    records = _ntc(SESSION_DETAIL, text)
    extras = {e["interface"]: e for e in _session_extras(text)}
    return [_session_to_tunnel(r, extras.get(r["interface"], {})) for r in records]


def parse_tunnels(answers: dict[str, str], exp: dict[str, Any]) -> list[dict[str, Any]]:
    """The device's crypto sessions as ``TunnelState`` dicts, matched by ``evaluate_tunnels`` on the peer."""
    return parse_session_detail(answers.get(SESSION_DETAIL) or "")


# ---------------------------------------------------------------- BGP and routes
def routes_query(address: str) -> str:
    return f"show ip bgp neighbors {ipaddress.ip_address(address)} routes"


def advertised_query(address: str) -> str:
    return f"show ip bgp neighbors {ipaddress.ip_address(address)} advertised-routes"


def bgp_queries(exp: dict[str, Any]) -> list[str]:
    """BGP summary, per expected neighbor the accepted and advertised routes, and the routing table."""
    queries: list[str] = []
    if exp.get("routing") == "bgp" and exp.get("neighbors"):
        queries.append(BGP_SUMMARY)
        for n in exp["neighbors"]:
            queries += [routes_query(n["address"]), advertised_query(n["address"])]
    return queries + [IP_ROUTE]


def parse_bgp_summary(text: str) -> dict[str, Any]:
    """``show ip bgp summary`` -> ``{local_asn, router_id, neighbors}``; only the IPv4 unicast family
    (``show ip bgp all summary`` output is accepted too). No BGP: ``local_asn None``."""
    rows = [r for r in _ntc(BGP_SUMMARY, text) if r.get("address_family") in ("", None, "IPv4 Unicast")]
    neighbors: dict[str, dict[str, Any]] = {}
    for r in rows:
        raw = (r.get("state_or_prefixes_received") or "").strip()
        up = raw.isdigit()
        addr = r["bgp_neighbor"]
        neighbors[addr] = {
            "address": addr, "remote_as": asn(r.get("neighbor_as")),
            "state": "Established" if up else raw.split()[0] if raw else None, "state_detail": raw,
            "uptime_s": duration_s(r.get("up_down")) if up else None,
            "prefixes_received": int(raw) if up else None, "prefixes_sent": None,
            "messages_received": _int(r.get("messages_received")), "messages_sent": _int(r.get("messages_sent"))}
    first = rows[0] if rows else None
    if first is None:
        m = re.search(r"BGP router identifier (\S+), local AS number (\S+)", text)
        return {"local_asn": asn(m.group(2)) if m else None, "router_id": m.group(1) if m else None,
                "neighbors": {}}
    return {"local_asn": asn(first.get("local_as")), "router_id": first.get("router_id"), "neighbors": neighbors}


def parse_bgp_table(text: str) -> list[str]:
    """``show ip bgp neighbors X routes`` / ``advertised-routes`` -> sorted prefixes.

    Both print the same BGP table layout; the ntc template indexed for ``advertised-routes`` parses
    both (the ``neighbors X routes`` form has no template of its own in the index)."""
    if "Network" not in text:  # "% No such neighbor ...", or nothing for a neighbor that is not up
        return []
    rows = _ntc("show ip bgp neighbors 192.0.2.1 advertised-routes", text)
    return sorted({prefix(r["network"]) for r in rows if r.get("network")},
                  key=lambda p: ipaddress.ip_network(p))


def _resolve_interfaces(nexthop: str, routes: list[dict[str, Any]], depth: int = 0) -> list[str]:
    """Hand-written: IOS prints a BGP route's next hop without an interface (recursive); the interface
    is the one of the longest route that contains the next hop (as the router resolves it)."""
    try:
        ip = ipaddress.ip_address(nexthop)
    except ValueError:
        return []
    best = None
    for r in routes:
        net = ipaddress.ip_network(r["prefix"])
        if ip.version == net.version and ip in net and (best is None or net.prefixlen > best[0]):
            best = (net.prefixlen, r)
    if best is None:
        return []
    route = best[1]
    if route["interfaces"] or depth >= 3:
        return list(route["interfaces"])
    return sorted({i for h in route["nexthops"] for i in _resolve_interfaces(h, routes, depth + 1)})


def parse_ip_route(text: str) -> list[dict[str, Any]]:
    """``show ip route`` -> ``[{prefix, protocol, selected, installed, interfaces, nexthops}]``.

    ``show ip route`` lists the routes installed in the RIB (the selected ones), so both flags are true."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for r in _ntc(IP_ROUTE, text):
        if not r.get("network") or not r.get("prefix_length"):
            continue
        pfx = _cidr(r["network"], r["prefix_length"])
        code = (r.get("protocol") or "").rstrip("*")
        route = merged.setdefault((pfx, code), {
            "prefix": pfx, "protocol": PROTOCOLS.get(code, code), "selected": True, "installed": True,
            "interfaces": [], "nexthops": [], "distance": _int(r.get("distance")), "uptime_s": duration_s(r.get("uptime"))})
        if r.get("nexthop_if") and r["nexthop_if"] not in route["interfaces"]:
            route["interfaces"].append(r["nexthop_if"])
        if r.get("nexthop_ip") and r["nexthop_ip"] not in route["nexthops"]:
            route["nexthops"].append(r["nexthop_ip"])
    routes = list(merged.values())
    for route in routes:
        if not route["interfaces"] and route["nexthops"]:
            route["interfaces"] = sorted({i for h in route["nexthops"] for i in _resolve_interfaces(h, routes)})
    return routes


def parse_bgp(answers: dict[str, str], exp: dict[str, Any]) -> dict[str, Any]:
    """The BGP collection of verify/model.py from the answers to :func:`bgp_queries`."""
    summary = parse_bgp_summary(answers[BGP_SUMMARY]) if answers.get(BGP_SUMMARY) is not None else \
        {"local_asn": None, "router_id": None, "neighbors": {}}
    received: dict[str, list[str]] = {}
    advertised: dict[str, list[str]] = {}
    for n in exp.get("neighbors") or []:
        addr = n["address"]
        if summary["neighbors"].get(addr, {}).get("state") != "Established":
            continue
        received[addr] = parse_bgp_table(answers.get(routes_query(addr)) or "")
        advertised[addr] = parse_bgp_table(answers.get(advertised_query(addr)) or "")
        summary["neighbors"][addr]["prefixes_sent"] = len(advertised[addr])
    routes = parse_ip_route(answers.get(IP_ROUTE) or "")
    return {"summary": summary, "received": received, "advertised": advertised, "routes": routes}


__all__ = ["ParseError", "bgp_queries", "parse_bgp", "parse_bgp_summary", "parse_bgp_table", "parse_ip_route",
           "parse_session_detail", "parse_tunnels", "tunnel_queries"]
