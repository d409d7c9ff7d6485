"""What verification expects, derived from the site model, and the neutral shapes it compares.

Observed shapes (produced by every platform driver):

* ``TunnelState``: ``{name, ike_state ("ESTABLISHED"...), ike_version, local_outside, remote_outside,
  established_s, children: [{name, state ("INSTALLED"...), reqid, local_ts: [cidr], remote_ts: [cidr],
  bytes_in, bytes_out, packets_in, packets_out}]}``
* ``ConfiguredTunnel``: ``{name, local_outside: [ip], remote_outside: [ip], children: [{name, local_ts, remote_ts}]}``
* BGP: ``{"summary": {local_asn, router_id, neighbors: {addr: {address, remote_as, state, uptime_s,
  prefixes_received, prefixes_sent}}}, "received": {addr: [prefix]}, "advertised": {addr: [prefix]},
  "routes": [{prefix, protocol, selected, installed, interfaces: [ifname], nexthops: [..]}]}``
"""

from __future__ import annotations

import ipaddress
from typing import Any, Mapping


def _cidrs(values: Any) -> list[str]:
    return [str(ipaddress.ip_network(str(v), strict=False)) for v in values or []]


def link_interfaces(site: Mapping[str, Any]) -> list[str]:
    """Interfaces the cloud traffic must leave through (the platform spec names them)."""
    from ..platforms import DEFAULT_PLATFORM, get

    return [i for i in get(site.get("gateway_platform") or DEFAULT_PLATFORM).link_interfaces(site) if i]


def expected(site: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the four verification modules expect, from the (masked) site model."""
    ctype = site.get("connection_type") or ("dx" if site.get("dx") else "vpn")
    tunnels = [{
        "name": t["name"], "local_outside": t.get("local_outside"), "remote_outside": t["remote_outside"],
        "local_inside": t.get("local_inside"), "remote_inside": t.get("remote_inside"),
        "inside_cidr": t.get("inside_cidr")} for t in site.get("tunnels") or []]
    neighbors: list[dict[str, Any]] = []
    link_cidrs: list[str] = []
    if ctype == "dx" and site.get("dx"):
        dx = site["dx"]
        neighbors.append({"name": "dx", "address": dx["remote_address"], "remote_as": site.get("cloud_asn")})
        link_cidrs.append(str(ipaddress.ip_network(f"{dx['local_address']}/{dx['prefixlen']}", strict=False)))
    else:
        for t in tunnels:
            if site.get("routing", "bgp") == "bgp" and t.get("remote_inside"):
                neighbors.append({"name": t["name"], "address": t["remote_inside"], "remote_as": site.get("cloud_asn")})
            if t.get("inside_cidr"):
                link_cidrs.append(str(t["inside_cidr"]))
    dicomweb = site.get("dicomweb") or {}
    lan = site.get("lan") or {}
    return {
        "site_name": site.get("site_name"), "hostname": site.get("hostname"),
        "platform": site.get("gateway_platform"), "connection_type": ctype,
        "routing": site.get("routing", "bgp"), "tunnels": tunnels, "neighbors": neighbors,
        # the DICOMweb ranges must arrive inside whatever prefix the cloud advertises (the VPC CIDR)
        "receive": _cidrs(dicomweb.get("cidrs") or site.get("accept_prefixes")),
        "accept": [("{prefix}" if a.get("exact") else "{prefix} or longer").format(**a)
                   for a in site.get("accept_routes") or []]
        or [f"{c} or longer" for c in _cidrs(site.get("accept_prefixes"))],
        "advertise": _cidrs(lan.get("cidrs")), "cloud_cidrs": _cidrs(dicomweb.get("cidrs")),
        "link_interfaces": link_interfaces(site), "link_cidrs": link_cidrs,
        "tcp_mss": site.get("tcp_mss"), "target_host": dicomweb.get("host"), "target_port": dicomweb.get("port", 443),
        "lan_interface": lan.get("interface"),
    }


def in_any(address: str, cidrs: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(c, strict=False) for c in cidrs)


def covers(selectors: list[str], cidr_or_ip: str) -> bool:
    """True when one traffic selector contains ``cidr_or_ip`` entirely."""
    want = ipaddress.ip_network(cidr_or_ip, strict=False)
    for sel in selectors:
        try:
            net = ipaddress.ip_network(sel.split("[")[0], strict=False)
        except ValueError:
            continue
        if want.version == net.version and want.subnet_of(net):  # type: ignore[arg-type]
            return True
    return False
