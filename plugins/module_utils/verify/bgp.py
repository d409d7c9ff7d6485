"""BGP and routing verification: neighbors Established, cloud CIDR received and routed over the link,
LAN prefixes advertised."""

from __future__ import annotations

import ipaddress
from typing import Any, Mapping

from ..checks import check
from .model import expected

STATE_CAUSES = {
    "Idle": "the session is Idle: neighbor not started, shut down, or no route to it",
    "Connect": "TCP 179 to the neighbor does not complete",
    "Active": "TCP 179 to the neighbor does not complete",
    "OpenSent": "the BGP OPEN is not accepted (ASN mismatch or unsupported capability)",
    "OpenConfirm": "the BGP OPEN is not accepted (ASN mismatch or hold time)",
}


def _net(p: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(p, strict=False)


def _covered(prefix: str, wanted: str) -> bool:
    """``prefix`` is ``wanted`` or more specific ("orlonger")."""
    a, b = _net(prefix), _net(wanted)
    return a.version == b.version and a.subnet_of(b)  # type: ignore[arg-type]


def _carries(prefix: str, wanted: str) -> bool:
    """A route for ``prefix`` carries (part of) ``wanted``: it covers it or lies inside it."""
    a, b = _net(prefix), _net(wanted)
    return a.version == b.version and (a.subnet_of(b) or b.subnet_of(a))  # type: ignore[arg-type]


def _state_cause(state: str | None, ctype: str, addr: str) -> tuple[str, str]:
    base = STATE_CAUSES.get(str(state), f"the session is {state}")
    if ctype == "dx":
        return (f"BGP not established with {addr}: {base} (Direct Connect: MD5 key mismatch, wrong VIF "
                "address or VLAN, or the VIF is down)",
                "compare the BGP MD5 key and the VIF addresses/VLAN with the vendor file; ping the peer address")
    return (f"BGP not established with {addr}: {base} (VPN: tunnel down, inside address missing on the "
            "tunnel interface, or firewall dropping TCP 179)",
            f"check tunnel_status first, then ping {addr} from the gateway's inside address")


def evaluate_bgp(exp: dict[str, Any], observed: dict[str, Any], duration_s: float = 0.0
                 ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``exp`` is :func:`model.expected`; ``observed`` the platform driver's BGP collection."""
    checks: list[dict[str, Any]] = []
    summary = observed.get("summary") or {"neighbors": {}}
    seen = summary.get("neighbors") or {}
    ctype = exp.get("connection_type", "vpn")
    neighbors = []
    if exp.get("routing") == "bgp" and exp.get("neighbors"):
        if summary.get("local_asn") is None:
            checks.append(check("network.bgp", "network", "BGP is configured on the gateway", "fail", duration_s,
                                {}, "BGP not configured: the gateway has no BGP instance",
                                "push the gateway configuration"))
    for n in exp.get("neighbors") or [] if exp.get("routing") == "bgp" else []:
        addr, name = n["address"], n["name"]
        nb = seen.get(addr)
        detail: dict[str, Any] = {"name": name, "address": addr, "expected_remote_as": n.get("remote_as"),
                                  "state": nb.get("state") if nb else None,
                                  "remote_as": nb.get("remote_as") if nb else None,
                                  "uptime_s": nb.get("uptime_s") if nb else None,
                                  "prefixes_received": nb.get("prefixes_received") if nb else None,
                                  "prefixes_sent": nb.get("prefixes_sent") if nb else None}
        title = f"BGP neighbor {addr} ({name}) Established"
        if nb is None:
            checks.append(check(f"network.bgp.{name}", "network", title, "fail", duration_s, detail,
                                f"BGP not established: neighbor {addr} is not configured on the gateway",
                                "push the gateway configuration"))
        elif n.get("remote_as") and nb.get("remote_as") not in (None, n["remote_as"]):
            checks.append(check(f"network.bgp.{name}", "network", title, "fail", duration_s, detail,
                                f"neighbor {addr} is configured with remote AS {nb.get('remote_as')}, the cloud's "
                                f"ASN is {n['remote_as']}", "use the ASN from the vendor file"))
        elif nb.get("state") != "Established":
            cause, action = _state_cause(nb.get("state"), ctype, addr)
            checks.append(check(f"network.bgp.{name}", "network", title, "fail", duration_s, detail, cause, action))
        else:
            checks.append(check(f"network.bgp.{name}", "network", title, "pass", duration_s, detail))
            got = observed.get("received", {}).get(addr, [])
            missing = [w for w in exp.get("receive", []) if not any(_carries(p, w) for p in got)]
            accepts = exp.get("accept") or []
            rdetail = {"neighbor": addr, "received": got, "expected": exp.get("receive", []), "missing": missing,
                       "inbound_filter_accepts": accepts}
            checks.append(check(
                f"network.bgp.{name}.received", "network", f"Cloud prefixes received from {addr}",
                "fail" if missing else "pass", duration_s, rdetail,
                f"route missing: {', '.join(missing)} not received from {addr} in any accepted prefix that covers "
                "it (the cloud does not advertise it, or the inbound filter (route-map/prefix-list *FROM-CLOUD*, Junos stowpath-import) "
                f"rejects what it advertises; the filter accepts {', '.join(accepts) or 'nothing'})"
                if missing else None,
                "compare what the cloud advertises (often the VPC CIDR, a supernet of the DICOMweb range) with "
                "accept_prefixes / accept_min_prefixlen" if missing else None))
            sent = observed.get("advertised", {}).get(addr, [])
            absent = [w for w in exp.get("advertise", []) if w not in sent]
            extra = [p for p in sent if not any(_covered(p, w) for w in exp.get("advertise", []))]
            adetail = {"neighbor": addr, "advertised": sent, "expected": exp.get("advertise", []),
                       "missing": absent, "unexpected": extra}
            if absent:
                astatus, acause, aaction = ("fail", f"LAN prefixes {', '.join(absent)} not advertised to {addr}: the "
                                            "cloud has no route back (network statement missing, prefix not in the "
                                            "routing table, or an outbound filter)",
                                            "advertise lan_cidrs to the cloud")
            elif extra:
                astatus, acause, aaction = ("warn", f"advertising more than the LAN to {addr}: {', '.join(extra)} "
                                            "(the cloud may drop or mis-route them)",
                                            "filter outbound advertisements to lan_cidrs")
            else:
                astatus, acause, aaction = "pass", None, None
            checks.append(check(f"network.bgp.{name}.advertised", "network", f"LAN prefixes advertised to {addr}",
                                astatus, duration_s, adetail, acause, aaction))
        neighbors.append(detail)
    # the cloud CIDRs must be routed (selected + installed) over the link
    routes = observed.get("routes") or []
    link_ifs = set(exp.get("link_interfaces") or [])
    route_facts = []
    for cidr in exp.get("cloud_cidrs", []):
        matching = [r for r in routes if _carries(r["prefix"], cidr)
                    and (_net(r["prefix"]).prefixlen > 0 or link_ifs & set(r.get("interfaces") or []))]
        active = [r for r in matching if r.get("selected") and r.get("installed")]
        # whatever prefix carries the range: the most specific covering route, and every more specific
        # route inside the range, must leave through the link
        covering = sorted((r for r in active if _covered(cidr, r["prefix"])), key=lambda r: -_net(r["prefix"]).prefixlen)
        carrying = covering[:1] + [r for r in active if not _covered(cidr, r["prefix"])]
        on_link = [r for r in carrying if not link_ifs or link_ifs & set(r.get("interfaces") or [])]
        via_link = on_link if on_link and len(on_link) == len(carrying) else []
        detail = {"cidr": cidr, "routes": matching, "link_interfaces": sorted(link_ifs)}
        title = f"Route to {cidr} installed via {', '.join(sorted(link_ifs)) or 'the link'}"
        if via_link:
            status, cause, action = "pass", None, None
        elif active:
            ifs = sorted({i for r in carrying for i in r.get("interfaces") or []} - link_ifs)
            status, cause, action = ("fail", f"route to {cidr} goes via {', '.join(ifs)}, not the link: traffic to "
                                     "the cloud would leave unprotected", "remove the competing route")
        elif matching:
            status, cause, action = ("fail", f"route to {cidr} present but not installed in the forwarding table",
                                     "check the next hop / tunnel interface state")
        else:
            status, cause, action = ("fail", f"route missing: no route to {cidr} (BGP not received or static "
                                     "route not added)", "check bgp_status / the static routes for dicomweb_cidrs")
        route_facts.append({"cidr": cidr, "ok": status == "pass",
                            "interfaces": sorted({i for r in active for i in r.get("interfaces") or []}),
                            "protocols": sorted({str(r.get("protocol")) for r in active})})
        checks.append(check(f"network.route.{cidr}", "network", title, status, duration_s, detail, cause, action))
    facts = {"neighbors": neighbors, "routes": route_facts,
             "established_count": sum(1 for n in neighbors if n["state"] == "Established"),
             "expected_count": len(neighbors), "local_asn": summary.get("local_asn"),
             "all_established": all(n["state"] == "Established" for n in neighbors)}
    return checks, facts


#: The options of bgp_status that override parts of the site's expectation.
OVERRIDES = ("neighbors", "receive", "advertise", "cloud_cidrs", "link_interfaces")


def bgp_expectations(site: Mapping[str, Any] | None, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """What BGP verification expects: the site's :func:`model.expected` (a BGP VPN without prefixes when
    there is no site), with every non-None entry of ``overrides`` (keys :data:`OVERRIDES`) replacing its
    part; explicit ``neighbors`` mean BGP routing. Raises ``ValueError`` for a neighbor without ``address``."""
    exp = expected(site) if site else {"routing": "bgp", "connection_type": "vpn", "receive": [],
                                       "advertise": [], "cloud_cidrs": [], "link_interfaces": []}
    for key in OVERRIDES:
        if overrides.get(key) is not None:
            exp[key] = overrides[key]
    if overrides.get("neighbors") is not None:
        exp["routing"] = "bgp"
    for n in exp.get("neighbors") or []:
        if not n.get("address"):
            raise ValueError(f"neighbor {n!r} has no address")
        n.setdefault("name", n["address"])
    return exp
