"""linux_strongswan gateways: how to read their state, and parsers of swanctl / FRR / nft output.

The parsers turn device output into the platform-neutral shapes of ``verify/model.py``; the
evaluators in ``verify/`` never see platform text. Everything here is pure (text in, data out) except
the ``collect_*`` functions, which take a ``run(argv) -> (rc, stdout, stderr)`` callable so the same
code runs inside an Ansible module on the device or in a test against the lab.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any, Callable, Iterator

Run = Callable[[list[str]], "tuple[int, str, str]"]

LIST_SAS = ["swanctl", "--list-sas", "--raw"]
LIST_CONNS = ["swanctl", "--list-conns", "--raw"]
TUNNEL_INTERFACE = "ipsec0"
# Production data plane: one XFRM interface per tunnel (if_id = the tunnel's interface number).
XFRM_PREFIX = "xfrm-"
XFRM_MTU = 1436

_TOKEN = re.compile(r"[{}\[\]]|[^\s{}\[\]]+")


class ParseError(ValueError):
    """Device output that is not what the parser expects (the message quotes it briefly)."""


# ---------------------------------------------------------------- swanctl --raw (vici messages)
def parse_vici_raw(text: str) -> list[tuple[str, dict[str, Any]]]:
    """``swanctl ... --raw`` output: one vici message per line, ``<name> {k=v sub {..} list=[a b]}``.

    Returns ``[(message_name, body_dict), ...]`` (e.g. ``("list-sa event", {...})``).
    """
    messages: list[tuple[str, dict[str, Any]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or "{" not in line:
            continue
        head, _, rest = line.partition("{")
        tokens = _TOKEN.findall("{" + rest)
        body, pos = _parse_section(tokens, 1)
        if pos != len(tokens):
            raise ParseError(f"trailing data in swanctl output: {line[:120]!r}")
        messages.append((head.strip(), body))
    return messages


def _parse_section(tokens: list[str], pos: int) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    while pos < len(tokens):
        tok = tokens[pos]
        if tok == "}":
            return out, pos + 1
        if tok.endswith("=") and pos + 1 < len(tokens) and tokens[pos + 1] == "[":
            items, pos = [], pos + 2
            while pos < len(tokens) and tokens[pos] != "]":
                items.append(tokens[pos])
                pos += 1
            out[tok[:-1]] = items
            pos += 1
        elif pos + 1 < len(tokens) and tokens[pos + 1] == "{":
            out[tok], pos = _parse_section(tokens, pos + 2)
        elif "=" in tok and not _continues(out):
            key, _, value = tok.partition("=")
            out[key] = value
            pos += 1
        else:  # a value with spaces (e.g. a DN identity "C=CH, O=Example"): glue it to the previous key
            if out and isinstance(out[list(out)[-1]], str):
                out[list(out)[-1]] += " " + tok
            pos += 1
    raise ParseError("unbalanced braces in swanctl output")


def _continues(section: dict[str, Any]) -> bool:
    """The previous value ends with a comma: the next token belongs to it (DN with spaces)."""
    if not section:
        return False
    last = section[list(section)[-1]]
    return isinstance(last, str) and last.endswith(",")


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _vici_sections(text: str, event: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(name, section)`` of every named section of the ``event`` messages of a ``--raw`` output."""
    for name, body in parse_vici_raw(text):
        if name == event:
            yield from ((key, value) for key, value in body.items() if isinstance(value, dict))


def parse_list_sas(text: str) -> list[dict[str, Any]]:
    """``swanctl --list-sas --raw`` -> observed tunnels (verify/model.py ``TunnelState``)."""
    tunnels = []
    for ike_name, ike in _vici_sections(text, "list-sa event"):
        children = []
        for child in (ike.get("child-sas") or {}).values():
            if not isinstance(child, dict):
                continue
            children.append({
                "name": child.get("name"), "state": child.get("state"), "reqid": _int(child.get("reqid")),
                "mode": child.get("mode"), "encap": child.get("encap") == "yes",
                "local_ts": list(child.get("local-ts") or []), "remote_ts": list(child.get("remote-ts") or []),
                "bytes_in": _int(child.get("bytes-in")), "bytes_out": _int(child.get("bytes-out")),
                "packets_in": _int(child.get("packets-in")), "packets_out": _int(child.get("packets-out")),
                "installed_s": _int(child.get("install-time")),
                "encryption": child.get("encr-alg"), "integrity": child.get("integ-alg")})
        tunnels.append({
            "name": ike_name, "ike_state": ike.get("state"), "ike_version": _int(ike.get("version")),
            "local_outside": ike.get("local-host"), "remote_outside": ike.get("remote-host"),
            "established_s": _int(ike.get("established")),
            "encryption": ike.get("encr-alg"), "integrity": ike.get("integ-alg"), "dh_group": ike.get("dh-group"),
            "children": children})
    return tunnels


def parse_list_conns(text: str) -> list[dict[str, Any]]:
    """``swanctl --list-conns --raw`` -> configured tunnels: name, addresses, children with selectors."""
    conns = []
    for conn_name, conn in _vici_sections(text, "list-conn event"):
        children = [{"name": cname, "local_ts": list(c.get("local-ts") or []),
                     "remote_ts": list(c.get("remote-ts") or [])}
                    for cname, c in (conn.get("children") or {}).items() if isinstance(c, dict)]
        conns.append({"name": conn_name, "local_outside": list(conn.get("local_addrs") or []),
                      "remote_outside": list(conn.get("remote_addrs") or []),
                      "version": conn.get("version"), "children": children})
    return conns


def collect_tunnels(run: Run) -> tuple[str, str]:
    """Read the gateway's IKE/CHILD SAs and loaded connections (vici via swanctl)."""
    outputs = []
    for cmd in (LIST_SAS, LIST_CONNS):
        rc, out, err = run(cmd)
        if rc != 0:
            raise ParseError(f"{' '.join(cmd)} failed (rc {rc}): {(err or out).strip()[:300]} "
                             "(is charon running and its vici socket /run/charon.vici there?)")
        outputs.append(out)
    return outputs[0], outputs[1]


# ---------------------------------------------------------------- FRR JSON
def _json(text: str, what: str) -> Any:
    text = text.strip()
    if not text:
        return {}
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ParseError(f"{what}: not JSON ({text[:160]!r})") from exc


def _uptime_s(peer: dict[str, Any]) -> float | None:
    ms = peer.get("peerUptimeMsec")
    return round(ms / 1000.0, 1) if isinstance(ms, (int, float)) else None


def parse_bgp_summary(text: str) -> dict[str, Any]:
    """``show bgp ipv4 unicast summary json`` -> ``{"local_asn", "router_id", "neighbors": {addr: ...}}``.

    An empty object (no BGP instance) gives ``local_asn None`` and no neighbors.
    """
    data = _json(text, "show bgp summary json")
    if "ipv4Unicast" in data:  # "show bgp summary json" without AFI wraps per address family
        data = data["ipv4Unicast"]
    neighbors = {}
    for addr, p in (data.get("peers") or {}).items():
        neighbors[addr] = {
            "address": addr, "remote_as": p.get("remoteAs"), "state": p.get("state"),
            "uptime_s": _uptime_s(p) if p.get("state") == "Established" else None,
            "prefixes_received": p.get("pfxRcd", p.get("prefixReceivedCount")),
            "prefixes_sent": p.get("pfxSnt"), "description": p.get("desc"),
            "connections_dropped": p.get("connectionsDropped")}
    return {"local_asn": data.get("as"), "router_id": data.get("routerId"), "neighbors": neighbors}


def parse_bgp_neighbor_routes(text: str) -> list[str]:
    """``show bgp ipv4 unicast neighbors X routes json`` (accepted from X) -> prefixes."""
    data = _json(text, "show bgp neighbors routes json")
    return sorted((data.get("routes") or {}).keys())


def parse_bgp_advertised(text: str) -> list[str]:
    """``show bgp ipv4 unicast neighbors X advertised-routes json`` -> prefixes."""
    data = _json(text, "show bgp neighbors advertised-routes json")
    return sorted((data.get("advertisedRoutes") or {}).keys())


def parse_ip_route(text: str) -> list[dict[str, Any]]:
    """``show ip route json`` -> ``[{prefix, protocol, selected, installed, interfaces, nexthops}]``."""
    data = _json(text, "show ip route json")
    routes = []
    for prefix, entries in data.items():
        for e in entries if isinstance(entries, list) else []:
            hops = e.get("nexthops") or []
            routes.append({
                "prefix": prefix, "protocol": e.get("protocol"), "selected": bool(e.get("selected")),
                "installed": bool(e.get("installed")),
                "interfaces": sorted({h["interfaceName"] for h in hops if h.get("interfaceName") and h.get("active")}),
                "nexthops": [h.get("ip") or h.get("interfaceName") for h in hops if h.get("active")]})
    return routes


def split_json(text: str) -> list[str]:
    """vtysh prints one JSON document per ``-c``: split the concatenation back into documents."""
    decoder, out, pos = json.JSONDecoder(), [], 0
    text = text.strip()
    while pos < len(text):
        _, end = decoder.raw_decode(text, pos)
        out.append(text[pos:end])
        pos = end
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def bgp_commands(neighbors: list[str]) -> list[str]:
    """The vtysh commands :func:`collect_bgp` sends (one ``vtysh`` call, one ``-c`` each)."""
    cmds = ["show bgp ipv4 unicast summary json", "show ip route json"]
    for n in neighbors:
        ipaddress.ip_address(n)  # never put anything but an address into a vtysh command
        cmds += [f"show bgp ipv4 unicast neighbors {n} routes json",
                 f"show bgp ipv4 unicast neighbors {n} advertised-routes json"]
    return cmds


def bgp_argv(neighbors: list[str]) -> list[str]:
    return ["vtysh", *[a for c in bgp_commands(neighbors) for a in ("-c", c)]]


def parse_bgp(out: str, neighbors: list[str]) -> dict[str, Any]:
    """The output of :func:`bgp_argv` -> summary, per-neighbor accepted/advertised prefixes, routing table.

    Routes of a neighbor count only while its session is Established.
    """
    cmds = bgp_commands(neighbors)
    try:
        docs = split_json(out)
    except ValueError as exc:
        raise ParseError(f"vtysh: not JSON ({out.strip()[:160]!r})") from exc
    if len(docs) != len(cmds):
        raise ParseError(f"vtysh answered {len(docs)} of {len(cmds)} commands")
    summary = parse_bgp_summary(docs[0])
    received: dict[str, list[str]] = {}
    advertised: dict[str, list[str]] = {}
    for i, n in enumerate(neighbors):
        if summary["neighbors"].get(n, {}).get("state") == "Established":
            received[n] = parse_bgp_neighbor_routes(docs[2 + 2 * i])
            advertised[n] = parse_bgp_advertised(docs[3 + 2 * i])
    return {"summary": summary, "received": received, "advertised": advertised, "routes": parse_ip_route(docs[1])}


def collect_bgp(run: Run, neighbors: list[str]) -> dict[str, Any]:
    """BGP summary, per-neighbor accepted/advertised prefixes and the routing table (FRR JSON), in one
    vtysh call (the verification modules and the drift check both read BGP through this)."""
    argv = bgp_argv(neighbors)
    rc, out, err = run(argv)
    if rc != 0:
        raise ParseError(f"vtysh failed (rc {rc}): {(err or out).strip()[:300]} (is FRR running?)")
    return parse_bgp(out, neighbors)


# ---------------------------------------------------------------- nftables (facts for firewall checks)
def parse_nft_counters(text: str) -> list[dict[str, Any]]:
    """``nft -j list ruleset`` -> rules that carry a counter: ``[{table, chain, handle, verdict, packets, bytes}]``."""
    data = _json(text, "nft -j list ruleset")
    rules = []
    for item in data.get("nftables", []):
        rule = item.get("rule")
        if not rule:
            continue
        packets = nbytes = None
        verdict = None
        for expr in rule.get("expr", []):
            if "counter" in expr:
                packets, nbytes = expr["counter"].get("packets"), expr["counter"].get("bytes")
            for v in ("accept", "drop", "reject"):
                if v in expr:
                    verdict = v
        if packets is not None:
            rules.append({"table": rule.get("table"), "chain": rule.get("chain"), "handle": rule.get("handle"),
                          "verdict": verdict, "packets": packets, "bytes": nbytes})
    return rules


# ---------------------------------------------------------------- the platform spec
def _runner(query: Any) -> Run:
    """A ``run(argv)`` over the transport's generic query executor (commands run on the gateway)."""
    import shlex

    def run(argv: list[str]) -> tuple[int, str, str]:
        cmd = shlex.join(argv)
        return 0, query([cmd])[cmd], ""

    return run


def read_tunnels(query: Any, exp: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    sas_text, conns_text = collect_tunnels(_runner(query))
    return parse_list_sas(sas_text), parse_list_conns(conns_text)


def read_bgp(query: Any, exp: dict[str, Any]) -> dict[str, Any]:
    addrs = [n["address"] for n in exp.get("neighbors") or []] if exp.get("routing", "bgp") == "bgp" else []
    return collect_bgp(_runner(query), addrs)


def xfrm_interface(tunnel: Any) -> str:
    """The XFRM interface of one tunnel (kernel data plane)."""
    return f"{XFRM_PREFIX}{tunnel['name']}"


def link_interfaces(site: Any) -> list[str]:
    """The route interfaces of the tunnels (one XFRM interface per tunnel with the kernel data plane,
    kernel-libipsec's TUN device with libipsec) or the DX VLAN interface."""
    if site.get("connection_type") == "dx" or site.get("dx"):
        return [str((site.get("dx") or {}).get("vlan_interface") or "")]
    linux = site.get("linux") or {}
    # a site model without the key predates the kernel data plane: it has the libipsec layout
    if linux.get("ipsec_dataplane", "libipsec") == "kernel" and site.get("tunnels"):
        return [xfrm_interface(t) for t in site["tunnels"]]
    return [str(linux.get("tunnel_interface") or TUNNEL_INTERFACE)]


def mask(text: str, secrets: Any = ()) -> str:
    from ..redact import mask_secrets

    return mask_secrets(text, secrets)


def _spec() -> Any:
    from ..crypto_policy import DH_NAMES, ENCRYPTION, INTEGRITY
    from . import PlatformSpec, SiteVar, StateRecipe, TransportSpec

    return PlatformSpec(
        name="linux_strongswan",
        title="Linux gateway: strongSwan (swanctl) + FRR + nftables",
        runs_on="device",
        artifacts=("swanctl.conf", "frr.conf", "nftables.conf"),
        default_transport="linux",
        transports={"linux": TransportSpec(artifact=("swanctl.conf", "frr.conf", "nftables.conf"), port=22)},
        owned=("/etc/swanctl/conf.d/stowpath.conf (connections stowpath-*)", "/etc/frr/frr.conf (FRR integrated config)",
               "/etc/nftables.d/stowpath.nft (table inet stowpath), included from /etc/nftables.conf"),
        mask=mask,
        link_interfaces=link_interfaces,
        state={"linux": StateRecipe(tunnels=read_tunnels, bgp=read_bgp)},
        crypto={"ike_encryption": {e: e for e in ENCRYPTION}, "esp_encryption": {e: e for e in ENCRYPTION},
                "ike_integrity": {i: i for i in INTEGRITY}, "esp_integrity": {i: i for i in INTEGRITY},
                "dh": dict(DH_NAMES)},
        site_section="linux",
        site_vars={"linux_ipsec_dataplane": SiteVar("ipsec_dataplane", "kernel", "dataplane"),
                   "linux_tunnel_interface": SiteVar("tunnel_interface", TUNNEL_INTERFACE, "interface"),
                   "ipsec_udp_encap": SiteVar("udp_encap", None, "bool")},
    )


SPEC = _spec()
