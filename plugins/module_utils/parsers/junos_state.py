"""Junos (SRX) runtime state for verification: tunnels (IKE + IPsec SAs) and BGP, over NAPALM or NETCONF.

Both transports read the tunnels as Junos XML: NAPALM runs ``show ... | display xml`` through ``cli()``
(the reply is the same ``<rpc-reply>`` document the NETCONF RPC returns), so one XML parser serves both.
BGP over NAPALM uses NAPALM's own getters (``get_bgp_neighbors_detail``, ``get_route_to``); over NETCONF
the BGP summary / neighbor / route RPC replies.

Queries are strings. ``getter:NAME`` or ``getter:NAME:ARG`` asks the executor for a NAPALM getter (the
answer is the getter's returned dict; :func:`split_getter` splits the spelling, the argument may contain
``:``), anything else is a CLI command (NAPALM) or an RPC document (NETCONF) whose answer is its text.
Answers are ``{query: answer}``; the parsers return the neutral shapes of ``verify/model.py``.

No maintained parser covers these replies with the fields verification needs: ntc-templates and
ttp_templates have no IKE/IPsec SA templates, PyEZ's op tables (``bgpTable``, ``RouteTable``) carry
neither the peer state nor the active flag. The XML readers below are therefore hand-written XPath over
the safe lxml parser (no entities, no network, no DTD).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Iterable

GETTER = "getter:"
BGP_DETAIL_GETTER = "getter:get_bgp_neighbors_detail"
ROUTE_GETTER = "getter:get_route_to:"

IKE_CLI = "show security ike security-associations detail | display xml"
IPSEC_CLI = "show security ipsec security-associations | display xml"
ADVERTISED_CLI = "show route advertising-protocol bgp {neighbor} | display xml"

IKE_RPC = "<get-ike-security-associations-information><detail/></get-ike-security-associations-information>"
IPSEC_RPC = "<get-security-associations-information/>"
BGP_SUMMARY_RPC = "<get-bgp-summary-information/>"
BGP_NEIGHBOR_RPC = "<get-bgp-neighbor-information/>"
ROUTE_RPC = "<get-route-information><destination>{prefix}</destination><detail/></get-route-information>"
ADVERTISED_RPC = ("<get-route-information><advertising-protocol-name>bgp</advertising-protocol-name>"
                  "<neighbor>{neighbor}</neighbor></get-route-information>")

# Junos IKE SA states -> the neutral TunnelState vocabulary (verify/tunnels.py)
IKE_STATES = {"UP": "ESTABLISHED"}
# A route-based VPN bound to st0 without proxy-identity negotiates 0.0.0.0/0 <-> 0.0.0.0/0; the brief
# IPsec reply does not repeat the selectors, the detail reply does (sa-local-identity / sa-remote-identity).
ROUTE_BASED_TS = ["0.0.0.0/0"]
# RPC errors that only mean "nothing of this kind exists on the device"
EMPTY_ERRORS = re.compile(r"not configured|not running", re.I)
JUNOS_NS = "http://xml.juniper.net/junos/*/junos"
IDENTITY_NET = re.compile(r"=\s*([0-9A-Fa-f:.]+(?:/\d+)?)\s*\)?\s*$")


class ParseError(ValueError):
    """A reply that is not what the parser expects (the message quotes it briefly)."""


# ---------------------------------------------------------------- queries
def _address(value: Any) -> str:
    """Only a literal IP address ever goes into a command or an RPC."""
    return str(ipaddress.ip_address(str(value)))


def _prefix(value: Any) -> str:
    return str(ipaddress.ip_network(str(value), strict=False))


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _route_prefixes(exp: dict[str, Any]) -> list[str]:
    return _unique(_prefix(p) for p in [*(exp.get("cloud_cidrs") or []), *(exp.get("receive") or [])])


def _neighbors(exp: dict[str, Any]) -> list[str]:
    if exp.get("routing", "bgp") != "bgp":
        return []
    return _unique(_address(n["address"]) for n in exp.get("neighbors") or [])


def split_getter(query: str) -> tuple[str, list[str]] | None:
    """``getter:NAME[:ARG]`` -> ``(NAME, [ARG])``; None for a CLI command or an RPC."""
    if not query.startswith(GETTER):
        return None
    name, _, arg = query[len(GETTER):].partition(":")
    return name, ([arg] if arg else [])


def tunnel_queries(exp: dict[str, Any]) -> list[str]:
    """NAPALM ``cli()`` commands that read the IKE and IPsec SAs."""
    return [IKE_CLI, IPSEC_CLI]


def bgp_queries(exp: dict[str, Any]) -> list[str]:
    """NAPALM getters (peer state, routes to the cloud CIDRs) and the advertised routes per neighbor."""
    queries = [BGP_DETAIL_GETTER] if _neighbors(exp) else []
    queries += [ROUTE_GETTER + p for p in _route_prefixes(exp)]
    queries += [ADVERTISED_CLI.format(neighbor=n) for n in _neighbors(exp)]
    return queries


def netconf_tunnel_queries(exp: dict[str, Any]) -> list[str]:
    """Junos RPCs that read the IKE SAs (detail) and the IPsec SAs."""
    return [IKE_RPC, IPSEC_RPC]


def netconf_bgp_queries(exp: dict[str, Any]) -> list[str]:
    """Junos RPCs: BGP summary and neighbors, routes to the cloud CIDRs, routes advertised per neighbor."""
    neighbors = _neighbors(exp)
    queries = [BGP_SUMMARY_RPC, BGP_NEIGHBOR_RPC] if neighbors else []
    queries += [ROUTE_RPC.format(prefix=p) for p in _route_prefixes(exp)]
    queries += [ADVERTISED_RPC.format(neighbor=n) for n in neighbors]
    return queries


# ---------------------------------------------------------------- XML helpers
def _local(tag: Any) -> str:
    if not isinstance(tag, str):
        return ""
    tag = tag.split("}", 1)[-1]
    return tag.split(":", 1)[-1]


def parse_xml(text: str) -> Any:
    """Junos reply text -> lxml root with namespace prefixes dropped from every tag (safe parser)."""
    from lxml import etree

    start = text.find("<")
    if start < 0:
        raise ParseError(f"not a Junos XML reply: {text.strip()[:160]!r}")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True, load_dtd=False,
                             huge_tree=False, remove_pis=True)
    body = text[start:].strip()
    try:
        root = etree.fromstring(body.encode(), parser=parser)
    except etree.XMLSyntaxError as exc:
        if "junos" not in str(exc) or body.startswith("<?"):
            raise ParseError(f"not a Junos XML reply ({exc}): {text.strip()[:160]!r}") from exc
        # a reply body without its <rpc-reply> wrapper keeps junos:style but lost the prefix declaration
        root = etree.fromstring(f'<rpc-reply xmlns:junos="{JUNOS_NS}">{body}</rpc-reply>'.encode(), parser=parser)
    for el in root.iter():
        if isinstance(el.tag, str):
            el.tag = _local(el.tag)
    return root


def _text(el: Any, path: str) -> str | None:
    found = el.find(path)
    if found is None or found.text is None:
        return None
    value = found.text.strip()
    return value or None


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _reply(answer: Any, what: str) -> Any | None:
    """Parsed reply, or None when the device says the feature is not configured / not running."""
    if answer is None:
        raise ParseError(f"{what}: no answer")
    root = parse_xml(str(answer))
    errors = [el for el in root.iter() if _local(el.tag) in ("rpc-error", "error")]
    if errors:
        message = " ".join(" ".join(t.strip() for t in e.itertext() if t.strip()) for e in errors)
        if EMPTY_ERRORS.search(message):
            return None
        raise ParseError(f"{what}: the device answered an error: {message[:300]}")
    output = root.find(".//output") if root.tag != "output" else root
    if output is not None and EMPTY_ERRORS.search(output.text or ""):
        return None
    return root


def _identity(value: str | None) -> list[str]:
    """``ipv4_subnet(any:0,[0..7]=0.0.0.0/0)`` / ``ipv4(any:0,[0..3]=10.0.0.1)`` -> ``["0.0.0.0/0"]``."""
    if not value:
        return []
    match = IDENTITY_NET.search(value)
    if not match:
        return []
    try:
        return [_prefix(match.group(1))]
    except ValueError:
        return []


# ---------------------------------------------------------------- tunnels (XML, both transports)
def _ike_sa(sa: Any, remote: str | None, gw: str | None, index: str | None) -> dict[str, Any]:
    state = (_text(sa, "ike-sa-state") or "").upper()
    exchange = _text(sa, "ike-sa-exchange-type") or ""
    lifetime = re.search(r"(\d+)", _text(sa, "ike-sa-lifetime") or "")
    return {
        "name": gw or (f"ike-sa-{index}" if index else remote),
        "ike_state": IKE_STATES.get(state, state or None),
        "ike_version": 2 if "v2" in exchange.lower() else (1 if exchange else None),
        "local_outside": _text(sa, "ike-sa-local-address"),
        "remote_outside": remote,
        "established_s": None,
        "lifetime_remaining_s": int(lifetime.group(1)) if lifetime else None,
        "role": _text(sa, "ike-sa-role"),
        "index": _int(index),
        "children": [],
    }


def parse_ike_xml(text: str) -> list[dict[str, Any]]:
    """IKE SA reply (brief or detail style) -> TunnelState dicts without children."""
    root = _reply(text, "IKE security associations")
    if root is None:
        return []
    sas = []
    for block in root.iter("ike-security-associations-block"):  # detail style
        remote, gw, index = (_text(block, "ike-sa-remote-address"), _text(block, "ike-gw-name"),
                             _text(block, "ike-sa-index"))
        for sa in block.findall("ike-security-associations"):
            sas.append(_ike_sa(sa, remote, gw, index))
    for sa in root.iter("ike-security-associations"):  # brief style: the address sits in the SA itself
        parent = sa.getparent()
        if parent is not None and parent.tag == "ike-security-associations-block":
            continue
        sas.append(_ike_sa(sa, _text(sa, "ike-sa-remote-address"), _text(sa, "ike-gw-name"),
                           _text(sa, "ike-sa-index")))
    return sas


def _child(block: Any) -> dict[str, Any]:
    sas = block.findall("ipsec-security-associations")
    first = sas[0] if sas else block

    def field(name: str) -> str | None:
        return _text(block, name) or _text(first, name)

    state = (_text(block, "sa-block-state") or "").lower()
    live = [sa for sa in sas if (_text(sa, "sa-spi") or "0").strip("0") and _text(sa, "sa-direction") in ("<", ">")]
    installed = state == "up" and (live or not sas)
    local_ts = _identity(field("sa-local-identity")) or ROUTE_BASED_TS
    remote_ts = _identity(field("sa-remote-identity")) or ROUTE_BASED_TS
    index = field("sa-tunnel-index")
    return {
        "name": field("sa-vpn-name") or (f"tunnel-{index}" if index else None),
        "state": "INSTALLED" if installed else (state.upper() or "DOWN"),
        "reqid": _int(index),
        "remote_gateway": field("sa-remote-gateway"),
        "bind_interface": _text(block, ".//sa-bind-interface"),
        "local_ts": local_ts, "remote_ts": remote_ts,
        "spi_in": next((_text(sa, "sa-spi") for sa in live if _text(sa, "sa-direction") == "<"), None),
        "spi_out": next((_text(sa, "sa-spi") for sa in live if _text(sa, "sa-direction") == ">"), None),
        "encryption": field("sa-esp-encryption-algorithm"), "integrity": field("sa-hmac-algorithm"),
        "bytes_in": None, "bytes_out": None, "packets_in": None, "packets_out": None,
    }


def parse_ipsec_xml(text: str) -> list[dict[str, Any]]:
    """IPsec SA reply (brief or detail style) -> one child per SA block (tunnel), with its remote gateway."""
    root = _reply(text, "IPsec security associations")
    if root is None:
        return []
    return [_child(block) for block in root.iter("ipsec-security-associations-block")]


def combine_tunnels(ike: list[dict[str, Any]], children: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Attach each IPsec tunnel to the IKE SA with the same remote gateway."""
    tunnels = []
    for sa in ike:
        mine = [dict(c) for c in children if c.get("remote_gateway") == sa.get("remote_outside")]
        tunnels.append({**sa, "children": mine if sa.get("ike_state") == "ESTABLISHED" else []})
    return tunnels


def _tunnels(ike_answer: Any, ipsec_answer: Any) -> list[dict[str, Any]]:
    return combine_tunnels(parse_ike_xml(ike_answer), parse_ipsec_xml(ipsec_answer))


def parse_tunnels(answers: dict[str, Any], exp: dict[str, Any]) -> list[dict[str, Any]]:
    """Answers to :func:`tunnel_queries` -> ``TunnelState`` list for ``evaluate_tunnels``."""
    return _tunnels(answers.get(IKE_CLI), answers.get(IPSEC_CLI))


def netconf_parse_tunnels(answers: dict[str, Any], exp: dict[str, Any]) -> list[dict[str, Any]]:
    """Answers to :func:`netconf_tunnel_queries` -> ``TunnelState`` list."""
    return _tunnels(answers.get(IKE_RPC), answers.get(IPSEC_RPC))


# ---------------------------------------------------------------- routes (XML, both transports)
def _rt_prefix(rt: Any) -> str | None:
    dest = _text(rt, "rt-destination")
    if not dest:
        return None
    length = _text(rt, "rt-prefix-length")
    try:
        return _prefix(f"{dest}/{length}" if length and "/" not in dest else dest)
    except ValueError:
        return None


def parse_route_xml(text: str) -> list[dict[str, Any]]:
    """``route-information`` reply -> ``[{prefix, protocol, selected, installed, interfaces, nexthops,
    learned_from}]`` (one entry per ``rt-entry``)."""
    root = _reply(text, "route information")
    if root is None:
        return []
    routes = []
    for rt in root.iter("rt"):
        prefix = _rt_prefix(rt)
        if prefix is None:
            continue
        for entry in rt.findall("rt-entry"):
            active = entry.find("current-active") is not None or (_text(entry, "active-tag") or "") == "*"
            hops = entry.findall("nh")
            chosen = [h for h in hops if h.find("selected-next-hop") is not None] or hops
            routes.append({
                "prefix": prefix, "protocol": _text(entry, "protocol-name"), "selected": active,
                "installed": active,
                "interfaces": sorted({v for h in chosen for v in [_text(h, "via") or _text(h, "nh-local-interface")]
                                      if v}),
                "nexthops": [t for h in chosen for t in [_text(h, "to")] if t],
                "learned_from": _text(entry, "learned-from") or _text(entry, "peer-id"),
            })
    return routes


def parse_advertised_xml(text: str) -> list[str]:
    """``show route advertising-protocol bgp X`` reply -> advertised prefixes."""
    return sorted({r["prefix"] for r in parse_route_xml(text)})


def _received(routes: list[dict[str, Any]], neighbors: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for n in neighbors:
        got = {r["prefix"] for r in routes if str(r.get("protocol") or "").upper() == "BGP"
               and (n in (r.get("nexthops") or []) or r.get("learned_from") == n)}
        out[n] = sorted(got)
    return out


# ---------------------------------------------------------------- BGP over NAPALM (getter dicts)
def _peer_address(value: Any) -> str:
    return str(value or "").split("+", 1)[0]


def summary_from_napalm_detail(detail: dict[str, Any] | None) -> dict[str, Any]:
    """``get_bgp_neighbors_detail()`` -> ``{"local_asn", "router_id", "neighbors"}`` (global table only)."""
    peers = [p for plist in ((detail or {}).get("global") or {}).values() for p in plist or []]
    neighbors = {}
    for p in peers:
        addr = _peer_address(p.get("remote_address"))
        state = p.get("connection_state")
        neighbors[addr] = {
            "address": addr, "remote_as": p.get("remote_as"), "state": state, "uptime_s": None,
            "prefixes_received": p.get("accepted_prefix_count", p.get("received_prefix_count")),
            "prefixes_sent": p.get("advertised_prefix_count"), "flap_count": p.get("flap_count"),
            "last_event": p.get("last_event")}
    local_asn = next((p.get("local_as") for p in peers if p.get("local_as")), None)
    return {"local_asn": local_asn, "router_id": None, "neighbors": neighbors}


def routes_from_napalm(route_to: dict[str, Any] | None) -> list[dict[str, Any]]:
    """``get_route_to()`` -> neutral routes (one per next hop, as NAPALM lists them)."""
    routes = []
    for prefix, entries in (route_to or {}).items():
        for e in entries or []:
            attrs = e.get("protocol_attributes") or {}
            routes.append({
                "prefix": _prefix(prefix), "protocol": e.get("protocol"),
                "selected": bool(e.get("current_active")), "installed": bool(e.get("current_active")),
                "interfaces": [e["outgoing_interface"]] if e.get("outgoing_interface") else [],
                "nexthops": [e["next_hop"]] if e.get("next_hop") else [],
                "learned_from": attrs.get("remote_address")})
    return routes


def _unique_routes(routes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen, out = set(), []
    for r in routes:
        key = (r["prefix"], r.get("protocol"), r.get("selected"), tuple(r.get("interfaces") or []),
               tuple(r.get("nexthops") or []))
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def parse_bgp(answers: dict[str, Any], exp: dict[str, Any]) -> dict[str, Any]:
    """Answers to :func:`bgp_queries` -> the neutral BGP collection for ``evaluate_bgp``."""
    neighbors = _neighbors(exp)
    summary = summary_from_napalm_detail(answers.get(BGP_DETAIL_GETTER)) if neighbors else \
        {"local_asn": None, "router_id": None, "neighbors": {}}
    routes = _unique_routes([r for p in _route_prefixes(exp)
                             for r in routes_from_napalm(answers.get(ROUTE_GETTER + p))])
    established = [n for n in neighbors if summary["neighbors"].get(n, {}).get("state") == "Established"]
    advertised = {n: parse_advertised_xml(answers[ADVERTISED_CLI.format(neighbor=n)]) for n in established}
    return {"summary": summary, "received": _received(routes, established), "advertised": advertised,
            "routes": routes}


# ---------------------------------------------------------------- BGP over NETCONF (XML)
def _rib_count(peer: Any, name: str) -> int | None:
    for rib in peer.findall("bgp-rib"):
        if (_text(rib, "name") or "") in ("inet.0", ""):
            return _int(_text(rib, name))
    return None


def parse_bgp_summary_xml(text: str) -> dict[str, Any]:
    """``<get-bgp-summary-information/>`` reply -> ``{"neighbors": {addr: ...}}`` (state, AS, uptime, counts)."""
    root = _reply(text, "BGP summary")
    neighbors: dict[str, Any] = {}
    for peer in root.iter("bgp-peer") if root is not None else []:
        addr = _peer_address(_text(peer, "peer-address"))
        elapsed = peer.find("elapsed-time")
        state = _text(peer, "peer-state")
        neighbors[addr] = {
            "address": addr, "remote_as": _int(_text(peer, "peer-as")), "state": state,
            "uptime_s": _int(elapsed.get("seconds")) if elapsed is not None and state == "Established" else None,
            "prefixes_received": _rib_count(peer, "accepted-prefix-count"), "prefixes_sent": None,
            "flap_count": _int(_text(peer, "flap-count"))}
    return {"neighbors": neighbors, "configured": root is not None}


def parse_bgp_neighbor_xml(text: str) -> dict[str, Any]:
    """``<get-bgp-neighbor-information/>`` reply -> ``{"local_asn", "router_id", "neighbors"}``."""
    root = _reply(text, "BGP neighbors")
    neighbors: dict[str, Any] = {}
    local_asn = router_id = None
    for peer in root.iter("bgp-peer") if root is not None else []:
        addr = _peer_address(_text(peer, "peer-address"))
        local_asn = local_asn or _int(_text(peer, "local-as"))
        router_id = router_id or _text(peer, "local-id")
        neighbors[addr] = {
            "address": addr, "remote_as": _int(_text(peer, "peer-as")), "state": _text(peer, "peer-state"),
            "uptime_s": None, "prefixes_received": _rib_count(peer, "accepted-prefix-count"),
            "prefixes_sent": _rib_count(peer, "advertised-prefix-count"), "last_error": _text(peer, "last-error")}
    return {"local_asn": local_asn, "router_id": router_id, "neighbors": neighbors}


def merge_bgp_summaries(summary: dict[str, Any], detail: dict[str, Any]) -> dict[str, Any]:
    """Summary (state, uptime) completed by the neighbor detail (local AS, router id, advertised counts)."""
    neighbors = {}
    for addr in _unique([*summary["neighbors"], *detail["neighbors"]]):
        s, d = summary["neighbors"].get(addr, {}), detail["neighbors"].get(addr, {})
        merged = {**d, **{k: v for k, v in s.items() if v is not None}}
        merged["prefixes_sent"] = d.get("prefixes_sent")
        neighbors[addr] = merged
    return {"local_asn": detail["local_asn"], "router_id": detail["router_id"], "neighbors": neighbors}


def netconf_parse_bgp(answers: dict[str, Any], exp: dict[str, Any]) -> dict[str, Any]:
    """Answers to :func:`netconf_bgp_queries` -> the neutral BGP collection for ``evaluate_bgp``."""
    neighbors = _neighbors(exp)
    if neighbors:
        summary = merge_bgp_summaries(parse_bgp_summary_xml(answers.get(BGP_SUMMARY_RPC)),
                                      parse_bgp_neighbor_xml(answers.get(BGP_NEIGHBOR_RPC)))
    else:
        summary = {"local_asn": None, "router_id": None, "neighbors": {}}
    routes = _unique_routes([r for p in _route_prefixes(exp)
                             for r in parse_route_xml(answers.get(ROUTE_RPC.format(prefix=p)))])
    established = [n for n in neighbors if summary["neighbors"].get(n, {}).get("state") == "Established"]
    advertised = {n: parse_advertised_xml(answers[ADVERTISED_RPC.format(neighbor=n)]) for n in established}
    return {"summary": summary, "received": _received(routes, established), "advertised": advertised,
            "routes": routes}
