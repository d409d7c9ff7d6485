"""Cisco IOS-XE operational state over NETCONF (``<get>`` with subtree filters) -> the neutral shapes of
:mod:`..verify.model`.

Models (as published for IOS-XE 16.12 / 17.x in YangModels/yang ``vendor/cisco/xe/<release>/``):

* ``Cisco-IOS-XE-crypto-oper`` (``crypto-oper-data``): ``crypto-ikev2-sa`` / ``crypto-ikev1-sa`` (IKE SAs),
  ``crypto-ipsec-ident`` (one entry per protected interface with its inbound/outbound ESP SAs);
* ``Cisco-IOS-XE-bgp-oper`` (``bgp-state-data``): ``neighbors``, ``address-families`` (local AS, router id)
  and ``bgp-route-vrfs`` (per-neighbor received / advertised prefixes, from ``Cisco-IOS-XE-bgp-route-oper``);
* ``ietf-routing`` 2015-05-25 with Cisco's deviations (``routing-state``): the RIB.

``answers`` maps each query string to the ``<data>`` reply (``ncclient``'s ``data_xml``; an ``<rpc-reply>``
is accepted too).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Iterable, Mapping

CRYPTO_NS = "http://cisco.com/ns/yang/Cisco-IOS-XE-crypto-oper"
BGP_NS = "http://cisco.com/ns/yang/Cisco-IOS-XE-bgp-oper"
RT_NS = "urn:ietf:params:xml:ns:yang:ietf-routing"

CRYPTO_QUERY = (f'<crypto-oper-data xmlns="{CRYPTO_NS}"><crypto-ikev2-sa/><crypto-ikev1-sa/>'
                "<crypto-ipsec-ident/></crypto-oper-data>")
BGP_QUERY = f'<bgp-state-data xmlns="{BGP_NS}"><neighbors/><address-families/><bgp-route-vrfs/></bgp-state-data>'
RIB_QUERY = (f'<routing-state xmlns="{RT_NS}"><routing-instance><name>default</name><ribs/>'
             "</routing-instance></routing-state>")

SA_STATES = {
    "crypto-sa-status-active": "ESTABLISHED",
    "crypto-sa-status-pending": "CONNECTING",
    "crypto-sa-status-standby": "STANDBY",
    "crypto-ipsec-sa-status-down": "DOWN",
}
FSM_STATES = {
    "fsm-idle": "Idle", "fsm-connect": "Connect", "fsm-active": "Active", "fsm-opensent": "OpenSent",
    "fsm-openconfirm": "OpenConfirm", "fsm-established": "Established", "fsm-nonnegotiated": "NonNegotiated",
}
UPTIME_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1, "y": 31536000}


# ---------------------------------------------------------------- XML helpers
def parse_xml(text: str | bytes) -> Any:
    """Parse a reply with a parser that resolves no entities and fetches nothing."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_comments=True, remove_pis=True)
    return etree.fromstring(text.encode() if isinstance(text, str) else text, parser=parser)


def _data(text: str | bytes | None) -> Any | None:
    return parse_xml(text) if text and str(text).strip() else None


def _all(root: Any | None, ns: str, path: str) -> list[Any]:
    """Elements at ``path`` ("a/b/c", every step in namespace ``ns``) anywhere under ``root``."""
    if root is None:
        return []
    steps = "/".join(f"n:{s}" for s in path.split("/"))
    return list(root.xpath(f"//{steps}", namespaces={"n": ns}))


def _text(el: Any | None, ns: str, path: str) -> str | None:
    if el is None:
        return None
    steps = "/".join(f"n:{s}" for s in path.split("/"))
    found = el.xpath(f"{steps}/text()", namespaces={"n": ns})
    return str(found[0]).strip() if found else None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _answer(answers: Mapping[str, str], root_tag: str) -> list[Any]:
    """Parsed replies of every query whose filter asks for ``root_tag``."""
    return [_data(reply) for query, reply in answers.items() if f"<{root_tag}" in query]


def _local_id(value: str | None) -> str | None:
    """An identityref/enum value without its prefix (``rt-ext:bgp`` -> ``bgp``)."""
    return value.split(":", 1)[-1] if value else value


# ---------------------------------------------------------------- tunnels
def tunnel_queries(exp: Mapping[str, Any]) -> list[str]:
    """Subtree filters for the IKE and IPsec SAs (``Cisco-IOS-XE-crypto-oper``)."""
    return [CRYPTO_QUERY]


def _cidr(addr: str | None, mask: str | None) -> str | None:
    if not addr:
        return None
    try:
        return str(ipaddress.ip_network(f"{addr}/{mask or '255.255.255.255'}", strict=False))
    except ValueError:
        return None


def _short(value: str | None, prefix: str) -> str | None:
    return value[len(prefix):] if value and value.startswith(prefix) else value


def _child_state(ident_data: Any) -> str:
    """INSTALLED when both ESP SAs are active; NO_SA without ESP SAs; else the worst SA status."""
    states = [_text(ident_data, CRYPTO_NS, f"{d}/sa-status") for d in ("inbound-esp-sa", "outbound-esp-sa")]
    spis = [_int(_text(ident_data, CRYPTO_NS, f"{d}/spi")) for d in ("inbound-esp-sa", "outbound-esp-sa")]
    if all(s is None for s in states) or not any(spis):
        return "NO_SA"
    if all(s == "crypto-sa-status-active" for s in states):
        return "INSTALLED"
    worst = next((s for s in states if s != "crypto-sa-status-active"), None)
    return {"crypto-sa-status-pending": "INSTALLING", "crypto-sa-status-standby": "STANDBY"}.get(str(worst), "DOWN")


def parse_ipsec_ident(ident: Any) -> dict[str, Any]:
    """One ``crypto-ipsec-ident`` entry -> a neutral child SA (with the outside addresses for matching)."""
    data = ident.find(f"{{{CRYPTO_NS}}}ident-data")
    local_ts = _cidr(_text(data, CRYPTO_NS, "local-ident-addr"), _text(data, CRYPTO_NS, "local-ident-mask"))
    remote_ts = _cidr(_text(data, CRYPTO_NS, "remote-ident-addr"), _text(data, CRYPTO_NS, "remote-ident-mask"))
    return {
        "name": _text(ident, CRYPTO_NS, "interface"),
        "state": _child_state(data) if data is not None else "NO_SA",
        "reqid": None,
        "spi_in": _int(_text(data, CRYPTO_NS, "inbound-esp-sa/spi")),
        "spi_out": _int(_text(data, CRYPTO_NS, "outbound-esp-sa/spi")),
        "local_ts": [local_ts] if local_ts else [], "remote_ts": [remote_ts] if remote_ts else [],
        "local_outside": _text(data, CRYPTO_NS, "local-endpt-addr"),
        "remote_outside": _text(data, CRYPTO_NS, "remote-endpt-addr"),
        "mtu": _int(_text(data, CRYPTO_NS, "plaintext-mtu")),
        "bytes_in": None, "bytes_out": None, "packets_in": None, "packets_out": None,
    }


def parse_ike_sa(entry: Any, version: int) -> dict[str, Any]:
    """One ``crypto-ikev2-sa`` / ``crypto-ikev1-sa`` entry -> a neutral IKE SA without children."""
    sa = entry.find(f"{{{CRYPTO_NS}}}sa-data")
    status = _text(sa, CRYPTO_NS, "sa-status")
    return {
        "sa_id": _text(entry, CRYPTO_NS, "sa-id"),
        "ike_state": SA_STATES.get(str(status), str(status).upper() if status else "UNKNOWN"),
        "ike_version": version,
        "local_outside": _text(sa, CRYPTO_NS, "local-ip-addr"),
        "remote_outside": _text(sa, CRYPTO_NS, "remote-ip-addr"),
        "established_s": None,
        "lifetime_s": _int(_text(sa, CRYPTO_NS, "lifetime")),
        "encryption": _short(_text(sa, CRYPTO_NS, "encr-alg"), "crypto-encr-alg-"),
        "integrity": _short(_text(sa, CRYPTO_NS, "hash-algo"), "crypto-hash-alg-auth-"),
        "dh_group": _short(_text(sa, CRYPTO_NS, "dh-group"), "crypto-dh-grouptype-"),
        "fvrf": _text(sa, CRYPTO_NS, "fvrf"),
    }


def _attach(sa: dict[str, Any], children: list[dict[str, Any]]) -> dict[str, Any]:
    """The IKE SA with the IPsec identities to the same peer (and from the same local address)."""
    mine = [c for c in children if c["remote_outside"] == sa["remote_outside"]
            and (not c["local_outside"] or not sa["local_outside"] or c["local_outside"] == sa["local_outside"])]
    name = mine[0]["name"] if len(mine) == 1 and mine[0]["name"] else f"ikev{sa['ike_version']}-sa-{sa['sa_id']}"
    return {**sa, "name": name, "children": mine}


def parse_tunnels(answers: Mapping[str, str], exp: Mapping[str, Any]) -> list[dict[str, Any]]:
    """IKE SAs with their IPsec SAs as ``TunnelState`` dicts (route-based VTIs: 0.0.0.0/0 selectors)."""
    roots = _answer(answers, "crypto-oper-data")
    children = [parse_ipsec_ident(i) for r in roots for i in _all(r, CRYPTO_NS, "crypto-oper-data/crypto-ipsec-ident")]
    sas = [parse_ike_sa(e, 2) for r in roots for e in _all(r, CRYPTO_NS, "crypto-oper-data/crypto-ikev2-sa")]
    sas += [parse_ike_sa(e, 1) for r in roots for e in _all(r, CRYPTO_NS, "crypto-oper-data/crypto-ikev1-sa")]
    return [_attach(sa, children) for sa in sas]


# ---------------------------------------------------------------- BGP and routes
def bgp_queries(exp: Mapping[str, Any]) -> list[str]:
    """Subtree filters for BGP neighbors, the per-neighbor routes (``Cisco-IOS-XE-bgp-oper``) and the RIB."""
    return [BGP_QUERY, RIB_QUERY]


def uptime_seconds(text: str | None) -> int | None:
    """IOS uptime strings: ``00:05:12``, ``1d02h``, ``2w3d``, ``1y2w``; ``never`` -> None."""
    if not text or text.strip().lower() in ("never", ""):
        return None
    t = text.strip()
    if re.fullmatch(r"\d+:\d{2}:\d{2}", t):
        h, m, s = (int(x) for x in t.split(":"))
        return h * 3600 + m * 60 + s
    parts = re.findall(r"(\d+)([ywdhms])", t)
    if not parts or "".join(n + u for n, u in parts) != t:
        return None
    return sum(int(n) * UPTIME_UNITS[u] for n, u in parts)


def _unicast_default(el: Any, key: str = "afi-safi") -> bool:
    return _text(el, BGP_NS, key) in (None, "ipv4-unicast") and _text(el, BGP_NS, "vrf-name") in (None, "default")


def parse_neighbor(nb: Any) -> dict[str, Any]:
    state = _text(nb, BGP_NS, "session-state")
    return {
        "address": _text(nb, BGP_NS, "neighbor-id"),
        "remote_as": _int(_text(nb, BGP_NS, "as")),
        "state": FSM_STATES.get(str(state), state),
        "uptime_s": uptime_seconds(_text(nb, BGP_NS, "up-time")),
        "prefixes_received": _int(_text(nb, BGP_NS, "prefix-activity/received/current-prefixes")),
        "prefixes_sent": _int(_text(nb, BGP_NS, "prefix-activity/sent/current-prefixes")),
        "description": _text(nb, BGP_NS, "description"),
    }


def _bgp_summary(root: Any | None) -> dict[str, Any]:
    afs = [a for a in _all(root, BGP_NS, "bgp-state-data/address-families/address-family") if _unicast_default(a)]
    neighbors = [parse_neighbor(n) for n in _all(root, BGP_NS, "bgp-state-data/neighbors/neighbor")
                 if _unicast_default(n)]
    return {"local_asn": _int(_text(afs[0], BGP_NS, "local-as")) if afs else None,
            "router_id": _text(afs[0], BGP_NS, "router-id") if afs else None,
            "neighbors": {n["address"]: n for n in neighbors if n["address"]}}


def _neighbor_routes(root: Any | None, nbr_filter: str) -> dict[str, list[str]]:
    """``{neighbor: [prefix]}`` from ``bgp-route-vrfs`` (vrf default, ipv4-unicast) for one neighbor filter."""
    out: dict[str, list[str]] = {}
    for vrf in _all(root, BGP_NS, "bgp-state-data/bgp-route-vrfs/bgp-route-vrf"):
        if _text(vrf, BGP_NS, "vrf") not in (None, "default"):
            continue
        for af in vrf.xpath("n:bgp-route-afs/n:bgp-route-af", namespaces={"n": BGP_NS}):
            if _text(af, BGP_NS, "afi-safi") != "ipv4-unicast":
                continue
            for rn in af.xpath("n:bgp-route-neighbors/n:bgp-route-neighbor", namespaces={"n": BGP_NS}):
                prefixes = rn.xpath(
                    f"n:bgp-neighbor-route-filters/n:bgp-neighbor-route-filter[n:nbr-fltr='{nbr_filter}']"
                    "/n:bgp-neighbor-route-entries/n:bgp-neighbor-route-entry/n:prefix/text()",
                    namespaces={"n": BGP_NS})
                out.setdefault(str(_text(rn, BGP_NS, "nbr-id")), []).extend(_prefixes(prefixes))
    return out


def _prefixes(values: Iterable[Any]) -> list[str]:
    out = []
    for v in values:
        try:
            out.append(str(ipaddress.ip_network(str(v).strip(), strict=False)))
        except ValueError:
            continue
    return out


def parse_route(route: Any) -> dict[str, Any]:
    """One ``routing-state`` RIB route -> the neutral route (``active``: selected and in the FIB)."""
    active = route.find(f"{{{RT_NS}}}active") is not None
    ifname = _text(route, RT_NS, "next-hop/outgoing-interface")
    nexthop = _text(route, RT_NS, "next-hop/next-hop-address")
    dest = _prefixes([_text(route, RT_NS, "destination-prefix") or ""])
    return {"prefix": dest[0] if dest else None,
            "protocol": _local_id(_text(route, RT_NS, "source-protocol")),
            "selected": active, "installed": active,
            "interfaces": [ifname] if ifname else [], "nexthops": [nexthop] if nexthop else [],
            "distance": _int(_text(route, RT_NS, "route-preference")),
            "metric": _int(_text(route, RT_NS, "metric"))}


def resolve_interfaces(routes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Routes whose next hop is an address only (eBGP) get the interface of the connected route covering it."""
    connected = [(ipaddress.ip_network(r["prefix"]), r["interfaces"]) for r in routes
                 if r["protocol"] == "direct" and r["interfaces"] and r["prefix"]]
    out = []
    for r in routes:
        if not r["interfaces"] and r["nexthops"]:
            try:
                hop = ipaddress.ip_address(r["nexthops"][0])
            except ValueError:
                out.append(r)
                continue
            match = sorted((n for n in connected if hop in n[0]), key=lambda n: n[0].prefixlen, reverse=True)
            r = {**r, "interfaces": list(match[0][1]) if match else []}
        out.append(r)
    return out


def _routes(root: Any | None) -> list[dict[str, Any]]:
    routes = []
    for inst in _all(root, RT_NS, "routing-state/routing-instance"):
        if _text(inst, RT_NS, "name") not in (None, "default"):
            continue
        for rib in inst.xpath("n:ribs/n:rib", namespaces={"n": RT_NS}):
            if _local_id(_text(rib, RT_NS, "address-family")) not in (None, "ipv4"):
                continue
            routes += [parse_route(r) for r in rib.xpath("n:routes/n:route", namespaces={"n": RT_NS})]
    return resolve_interfaces([r for r in routes if r["prefix"]])


def parse_bgp(answers: Mapping[str, str], exp: Mapping[str, Any]) -> dict[str, Any]:
    """The BGP shape of :mod:`..verify.model`: summary, received / advertised prefixes, routes."""
    bgp_roots = [r for r in _answer(answers, "bgp-state-data") if r is not None]
    rib_roots = [r for r in _answer(answers, "routing-state") if r is not None]
    summary: dict[str, Any] = {"local_asn": None, "router_id": None, "neighbors": {}}
    received: dict[str, list[str]] = {}
    advertised: dict[str, list[str]] = {}
    for root in bgp_roots:
        part = _bgp_summary(root)
        summary["local_asn"] = summary["local_asn"] or part["local_asn"]
        summary["router_id"] = summary["router_id"] or part["router_id"]
        summary["neighbors"].update(part["neighbors"])
        for addr, got in _neighbor_routes(root, "bgp-nrf-post-received").items():
            received.setdefault(addr, []).extend(got)
        for addr, got in _neighbor_routes(root, "bgp-nrf-post-advertised").items():
            advertised.setdefault(addr, []).extend(got)
    routes = [r for root in rib_roots for r in _routes(root)]
    return {"summary": summary, "received": received, "advertised": advertised, "routes": routes}
