"""What the lab cloud accepts, and the tunnel/BGP state a SIMULATED router would reach with it.

Used by the IOS-XE CLI SIMULATOR (``iosxe_sim.py``) and the NETCONF simulator's operational data to
answer show commands from a state that follows both the router's configuration and the lab cloud.
Nothing here is Cisco code; it is a model of the outcome, not of the protocols.

Stable API::

    load_cloud(state_dir="/run/stowpath-lab") -> cloud
    evaluate(device_cfg, cloud) -> {"tunnels": {name: TunnelOutcome}, "neighbors": {addr: NeighborOutcome}}

``cloud`` (read on every call from the lab's live files, so ``lab.py cloud-break vpn`` is seen)::

    {"asn": 64512, "router_id": "192.0.2.61", "prefixes": ["203.0.113.128/26"],
     "endpoints": ["192.0.2.61", "192.0.2.188"],             # the cloud's VPN outside addresses
     "tunnels": [{"name": "cgw-tun1", "cloud_outside": "192.0.2.61", "customer_outside": "198.51.100.24",
                  "psk": "...", "cloud_inside": "169.254.x.1", "customer_inside": "169.254.x.2",
                  "inside_cidr": "169.254.x.0/30", "customer_asn": 65020}, ...]}

Sources: ``<state>/dev/aws/etc-swanctl/swanctl.conf`` (endpoints, PSKs, cloud inside addresses: the
file ``cloud-break vpn`` rewrites), ``<state>/dev/aws/etc-frr/frr.conf`` (ASN, advertised networks,
neighbors and the inside /30s), ``<state>/params.json`` (fallback for the inside addresses).

``device_cfg`` (the router's configuration reduced to neutral data)::

    {"tunnels": [{"name": "Tunnel1", "destination": "192.0.2.61", "source": "198.51.100.24",
                  "psk": "..." | None, "inside_address": "169.254.x.2", "inside_prefixlen": 30,
                  "shutdown": False}],
     "bgp": None | {"asn": 65020, "router_id": "...", "networks": ["203.0.113.0/26"],
                    "neighbors": [{"address": "169.254.x.1", "remote_as": 64512, "shutdown": False,
                                   "policy_in": Policy, "policy_out": Policy}]}}

    Policy = None (accept everything) | [{"action": "permit"|"deny", "match": None | [PrefixListEntry]}]
             evaluated in order like a route-map; no term matches -> deny. A plain prefix-list filter is
             [{"action": "permit", "match": entries}].
    PrefixListEntry = {"action": "permit"|"deny", "prefix": "10.0.0.0/8", "ge": int|None, "le": int|None}

Outcomes::

    TunnelOutcome   = {"ike": "up"|"down", "child": "up"|"down", "reason": str|None,
                       "local_outside", "remote_outside", "cloud": the matching cloud tunnel or None}
    NeighborOutcome = {"state": "Established"|"Active"|"Idle", "reason": str|None, "tunnel": name|None,
                       "prefixes_received": [cidr], "prefixes_sent": [cidr]}
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Any

DEFAULT_STATE = "/run/stowpath-lab"


# ---------------------------------------------------------------- reading the lab cloud
def parse_swanctl(text: str) -> dict[str, Any]:
    """A swanctl.conf (nested ``name { key = value }``) -> nested dicts; values stay strings."""
    root: dict[str, Any] = {}
    stack = [root]
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.endswith("{"):
            child: dict[str, Any] = {}
            stack[-1][line[:-1].strip()] = child
            stack.append(child)
        elif line == "}":
            if len(stack) > 1:
                stack.pop()
        elif "=" in line:
            key, _, value = line.partition("=")
            stack[-1][key.strip()] = value.strip().strip('"')
    return root


def parse_frr(text: str) -> dict[str, Any]:
    """The parts of the cloud's frr.conf the model needs: ASN, router-id, networks, neighbors, /30s."""
    out: dict[str, Any] = {"asn": None, "router_id": None, "networks": [], "neighbors": {}, "addresses": []}
    for raw in text.splitlines():
        line = raw.strip()
        if m := re.fullmatch(r"router bgp (\d+)", line):
            out["asn"] = int(m.group(1))
        elif m := re.fullmatch(r"bgp router-id (\S+)", line):
            out["router_id"] = m.group(1)
        elif m := re.fullmatch(r"network (\S+/\d+)", line):
            out["networks"].append(str(ipaddress.ip_network(m.group(1), strict=False)))
        elif m := re.fullmatch(r"neighbor (\S+) remote-as (\d+)", line):
            out["neighbors"][m.group(1)] = int(m.group(2))
        elif m := re.fullmatch(r"ip address (\S+/\d+)", line):
            out["addresses"].append(m.group(1))
    return out


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _inside(cloud_inside: str, frr: dict[str, Any], params_tunnels: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    """(inside_cidr, customer_inside) for a cloud inside address: from frr.conf, else params.json."""
    ip = ipaddress.ip_address(cloud_inside)
    for a in frr["addresses"]:
        iface = ipaddress.ip_interface(a)
        if iface.ip == ip:
            peer = next((n for n in frr["neighbors"] if ipaddress.ip_address(n) in iface.network and
                         ipaddress.ip_address(n) != ip), None)
            return str(iface.network), peer
    for t in params_tunnels:
        if t.get("cloud_inside") == cloud_inside:
            return t.get("inside_cidr"), t.get("customer_inside")
    return None, None


def load_cloud(state_dir: str = DEFAULT_STATE) -> dict[str, Any]:
    """What the lab cloud currently accepts (see the module docstring); empty tunnels without a lab."""
    base = Path(state_dir)
    swan = parse_swanctl(_read(base / "dev" / "aws" / "etc-swanctl" / "swanctl.conf"))
    frr = parse_frr(_read(base / "dev" / "aws" / "etc-frr" / "frr.conf"))
    try:
        params = json.loads(_read(base / "params.json") or "{}")
    except ValueError:
        params = {}
    sites = [params.get("vpn") or {}] + list((params.get("fleet") or {}).values())
    params_tunnels = [t for s in sites for t in s.get("tunnels") or []]
    secrets = {(s.get("id-cloud"), s.get("id-customer")): s.get("secret")
               for s in (swan.get("secrets") or {}).values() if isinstance(s, dict)}
    tunnels = []
    for name, conn in (swan.get("connections") or {}).items():
        if not isinstance(conn, dict):
            continue
        cloud_outside, customer_outside = conn.get("local_addrs"), conn.get("remote_addrs")
        child = next((c for c in (conn.get("children") or {}).values() if isinstance(c, dict)), {})
        local_ts = [s.strip() for s in str(child.get("local_ts", "")).split(",") if s.strip()]
        cloud_inside = next((s.split("/")[0] for s in local_ts if s.endswith("/32")), None)
        if cloud_inside is None:  # 0.0.0.0/0 selectors (like AWS): the inside address is in params.json
            cloud_inside = next((t.get("cloud_inside") for t in params_tunnels if t.get("cloud_outside") ==
                                 cloud_outside and t.get("customer_outside") == customer_outside), None)
        inside_cidr, customer_inside = _inside(cloud_inside, frr, params_tunnels) if cloud_inside else (None, None)
        tunnels.append({
            "name": name, "cloud_outside": cloud_outside, "customer_outside": customer_outside,
            "psk": secrets.get((cloud_outside, customer_outside)), "cloud_inside": cloud_inside,
            "customer_inside": customer_inside, "inside_cidr": inside_cidr,
            "customer_asn": frr["neighbors"].get(customer_inside) if customer_inside else None})
    return {"asn": frr["asn"], "router_id": frr["router_id"], "prefixes": frr["networks"],
            "endpoints": sorted({t["cloud_outside"] for t in tunnels if t["cloud_outside"]}), "tunnels": tunnels}


# ---------------------------------------------------------------- the outcome
def prefix_list_permits(entries: list[dict[str, Any]], prefix: str) -> bool:
    """IOS prefix-list semantics: first matching entry decides; ``ge``/``le`` widen the length range."""
    net = ipaddress.ip_network(prefix, strict=False)
    for e in entries:
        base = ipaddress.ip_network(e["prefix"], strict=False)
        if net.version != base.version or not net.subnet_of(base):  # type: ignore[arg-type]
            continue
        lo = e.get("ge") or base.prefixlen
        hi = e.get("le") or (e.get("ge") and net.max_prefixlen) or base.prefixlen
        if lo <= net.prefixlen <= hi:
            return e["action"] == "permit"
    return False


def policy_permits(policy: list[dict[str, Any]] | None, prefix: str) -> bool:
    """A route-map-like policy (see the module docstring); ``None`` accepts everything."""
    if policy is None:
        return True
    for term in policy:
        if term.get("match") is None or prefix_list_permits(term["match"], prefix):
            return term["action"] == "permit"
    return False


def _tunnel_outcome(t: dict[str, Any], cloud: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"ike": "down", "child": "down", "reason": None, "local_outside": t.get("source"),
                           "remote_outside": t.get("destination"), "cloud": None}
    dest, src = t.get("destination"), t.get("source")
    if t.get("shutdown"):
        out["reason"] = "interface administratively down"
    elif dest not in cloud["endpoints"]:
        out["reason"] = f"no IKE response from {dest}: not a cloud VPN endpoint"
    else:
        ct = next((c for c in cloud["tunnels"] if c["cloud_outside"] == dest and c["customer_outside"] == src), None)
        if ct is None:
            out["reason"] = f"the cloud endpoint {dest} has no VPN for the customer gateway {src}"
        elif not t.get("psk"):
            out["reason"] = f"authentication: no pre-shared key configured for {dest}"
        elif t["psk"] != ct["psk"]:
            out["reason"] = f"authentication failed with {dest}: pre-shared key mismatch"
            out["cloud"] = ct
        else:
            out.update(ike="up", cloud=ct)
            if t.get("inside_address") != ct["customer_inside"]:
                out["reason"] = (f"IPsec SA refused: inside address {t.get('inside_address')} is not the cloud's "
                                 f"customer inside address {ct['customer_inside']}")
            else:
                out["child"] = "up"
    return out


def _neighbor_outcome(n: dict[str, Any], bgp: dict[str, Any], tunnels: list[dict[str, Any]],
                      outcomes: dict[str, dict[str, Any]], cloud: dict[str, Any]) -> dict[str, Any]:
    addr = n["address"]
    out: dict[str, Any] = {"state": "Active", "reason": None, "tunnel": None, "prefixes_received": [],
                           "prefixes_sent": []}
    link = next((t for t in tunnels if t.get("inside_address") and ipaddress.ip_address(addr) in
                 ipaddress.ip_interface(f"{t['inside_address']}/{t.get('inside_prefixlen') or 30}").network), None)
    if n.get("shutdown"):
        return {**out, "state": "Idle", "reason": "neighbor shut down"}
    if link is None:
        return {**out, "reason": f"no connected route to {addr}"}
    out["tunnel"] = link["name"]
    tun = outcomes[link["name"]]
    ct = tun.get("cloud")
    if tun["ike"] != "up" or tun["child"] != "up":
        return {**out, "reason": f"tunnel {link['name']} is down: {tun['reason']}"}
    if ct is None or addr != ct["cloud_inside"]:
        return {**out, "reason": f"{addr} is not the cloud's inside address on {link['name']}"}
    if n.get("remote_as") != cloud["asn"]:
        return {**out, "state": "Idle",
                "reason": f"OPEN refused: the cloud's ASN is {cloud['asn']}, not {n.get('remote_as')}"}
    if ct.get("customer_asn") is not None and bgp.get("asn") != ct["customer_asn"]:
        return {**out, "state": "Idle",
                "reason": f"OPEN refused by the cloud: it expects AS {ct['customer_asn']}, not {bgp.get('asn')}"}
    return {**out, "state": "Established",
            "prefixes_received": [p for p in cloud["prefixes"] if policy_permits(n.get("policy_in"), p)],
            "prefixes_sent": [p for p in bgp.get("networks") or [] if policy_permits(n.get("policy_out"), p)]}


def evaluate(device_cfg: dict[str, Any], cloud: dict[str, Any]) -> dict[str, Any]:
    """Per tunnel and per BGP neighbor, what the device would see with this cloud (module docstring)."""
    tunnels = device_cfg.get("tunnels") or []
    outcomes = {t["name"]: _tunnel_outcome(t, cloud) for t in tunnels}
    bgp = device_cfg.get("bgp") or {}
    neighbors = {n["address"]: _neighbor_outcome(n, bgp, tunnels, outcomes, cloud) for n in bgp.get("neighbors") or []}
    return {"tunnels": outcomes, "neighbors": neighbors}


__all__ = ["evaluate", "load_cloud", "parse_frr", "parse_swanctl", "policy_permits", "prefix_list_permits"]
