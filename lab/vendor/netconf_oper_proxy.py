#!/usr/bin/env python3
"""NETCONF state SIMULATOR for the lab's IOS-XE NETCONF target (not IOS-XE).

netconfd (yuma123) serves Cisco's native configuration models but no operational data. This relay sits
between sshd's ``Subsystem netconf`` and the real ``netconf-subsystem``/netconfd and passes every message
through unchanged, EXCEPT ``<get>`` RPCs whose subtree filter asks for ``crypto-oper-data``
(Cisco-IOS-XE-crypto-oper), ``bgp-state-data`` (Cisco-IOS-XE-bgp-oper) or ``routing-state``
(ietf-routing): those it answers itself, from the running configuration (read from netconfd with a
``<get-config>`` on the same session) evaluated against the lab cloud by ``lab/vendor/cloud_state.py``.

Two modes:

    netconf_oper_proxy.py relay --ncx-sockname PORT@SOCK --state-socket PATH
        run by sshd as the NETCONF user (system python, stdlib only); RFC 6242 framing (end-of-message
        before/without base:1.1, chunked after a base:1.1 hello exchange)
    netconf_oper_proxy.py state-server --socket PATH [--state-dir /run/stowpath-lab]
        run as root by netconf_iosxe.py (the lab state is root-only); converts the native XML config to a
        neutral device_cfg, calls cloud_state.evaluate() and builds the <data> reply

XML from clients is parsed with the standard library after refusing any DTD (no entity can be declared).
"""

from __future__ import annotations

import argparse
import importlib.util
import ipaddress
import json
import os
import queue
import re
import socket
import socketserver
import subprocess
import sys
import threading
import zlib
from pathlib import Path
from typing import Any, BinaryIO, Callable
from xml.etree import ElementTree as ET

NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
NATIVE_NS = "http://cisco.com/ns/yang/Cisco-IOS-XE-native"
CRYPTO_CFG_NS = "http://cisco.com/ns/yang/Cisco-IOS-XE-crypto"
TUNNEL_NS = "http://cisco.com/ns/yang/Cisco-IOS-XE-tunnel"
BGP_CFG_NS = "http://cisco.com/ns/yang/Cisco-IOS-XE-bgp"
ROUTE_MAP_NS = "http://cisco.com/ns/yang/Cisco-IOS-XE-route-map"
CRYPTO_NS = "http://cisco.com/ns/yang/Cisco-IOS-XE-crypto-oper"
BGP_NS = "http://cisco.com/ns/yang/Cisco-IOS-XE-bgp-oper"
RT_NS = "urn:ietf:params:xml:ns:yang:ietf-routing"
RT_EXT_NS = "urn:cisco:params:xml:ns:yang:cisco-routing-ext"
BASE11 = "urn:ietf:params:netconf:base:1.1"
OPER_ROOTS = {f"{{{CRYPTO_NS}}}crypto-oper-data": "crypto", f"{{{BGP_NS}}}bgp-state-data": "bgp",
              f"{{{RT_NS}}}routing-state": "rib"}
OPER_CAPABILITIES = (
    f"{CRYPTO_NS}?module=Cisco-IOS-XE-crypto-oper&amp;revision=2021-03-01",
    f"{BGP_NS}?module=Cisco-IOS-XE-bgp-oper&amp;revision=2020-11-01",
    f"{RT_NS}?module=ietf-routing&amp;revision=2015-05-25",
)
INTERNAL_ID = "stowpath-oper-sim-"
EOM = b"]]>]]>"
MAX_MESSAGE = 64 * 1024 * 1024
DEFAULT_STATE_DIR = "/run/stowpath-lab"
DH_GROUPS = {"one": "group1", "two": "group2", "five": "group5", "fourteen": "group14", "fifteen": "group15",
             "sixteen": "group16", "nineteen": "group19", "twenty": "group20", "twenty-one": "group21",
             "twenty-four": "group24"}
FSM = {"idle": "fsm-idle", "connect": "fsm-connect", "active": "fsm-active", "opensent": "fsm-opensent",
       "openconfirm": "fsm-openconfirm", "established": "fsm-established"}


# ================================================================ safe XML
def parse_xml(data: bytes | str) -> ET.Element:
    """Parse untrusted XML with the standard library, refusing DTDs (so no entity can be declared)."""
    raw = data.encode() if isinstance(data, str) else data
    if b"<!DOCTYPE" in raw.upper() or b"<!ENTITY" in raw.upper():
        raise ValueError("DTDs are not accepted")
    return ET.fromstring(raw)


def local(tag: str) -> str:
    return tag.split("}", 1)[1] if tag.startswith("{") else tag


def q(ns: str, *names: str) -> str:
    return "/".join(f"{{{ns}}}{n}" for n in names)


def text(el: ET.Element | None, path: str) -> str | None:
    found = el.find(path) if el is not None else None
    return found.text.strip() if found is not None and found.text and found.text.strip() else None


# ================================================================ RFC 6242 framing
class Framer:
    """Reads whole NETCONF messages from a byte stream; ``chunked`` is asked once per message."""

    def __init__(self, stream: BinaryIO, chunked: Callable[[], bool]) -> None:
        self.stream = stream
        self.chunked = chunked
        self.buf = b""

    def _fill(self) -> bool:
        data = os.read(self.stream.fileno(), 65536)
        if not data:
            return False
        self.buf += data
        if len(self.buf) > MAX_MESSAGE:
            raise ValueError("message too large")
        return True

    def read(self) -> bytes | None:
        while not self.buf.strip():
            if not self._fill():
                return None
        return self._read_chunked() if self.chunked() else self._read_eom()

    def _read_eom(self) -> bytes | None:
        while EOM not in self.buf:
            if not self._fill():
                return None
        msg, self.buf = self.buf.split(EOM, 1)
        return msg.strip()

    def _read_chunked(self) -> bytes | None:
        out, pos = b"", 0
        while True:
            m = re.compile(rb"\s*\n#(\d+|#)\n").match(self.buf, pos)
            if m is None:
                if not self._fill():
                    return None
                continue
            if m.group(1) == b"#":
                self.buf = self.buf[m.end():]
                return out
            size = int(m.group(1))
            while len(self.buf) < m.end() + size:
                if not self._fill():
                    return None
            out += self.buf[m.end():m.end() + size]
            pos = m.end() + size


def frame(msg: bytes, chunked: bool) -> bytes:
    if chunked:
        return b"\n#%d\n" % len(msg) + msg + b"\n##\n"
    return msg + EOM


# ================================================================ relay (runs as the NETCONF user)
class Session:
    def __init__(self, client_out: BinaryIO, server_in: BinaryIO, state_socket: str) -> None:
        self.client_out, self.server_in = client_out, server_in
        self.state_socket = state_socket
        self.hellos: dict[str, set[str]] = {}
        self.lock_client, self.lock_server = threading.Lock(), threading.Lock()
        self.internal: queue.Queue[bytes] = queue.Queue()
        self.counter = 0

    def base11(self) -> bool:
        return len(self.hellos) == 2 and all(BASE11 in caps for caps in self.hellos.values())

    def to_client(self, msg: bytes, hello: bool = False) -> None:
        with self.lock_client:
            self.client_out.write(frame(msg, False if hello else self.base11()))
            self.client_out.flush()

    def to_server(self, msg: bytes, hello: bool = False) -> None:
        with self.lock_server:
            self.server_in.write(frame(msg, False if hello else self.base11()))
            self.server_in.flush()

    def running_config(self) -> bytes:
        self.counter += 1
        rpc = (f'<rpc xmlns="{NC_NS}" message-id="{INTERNAL_ID}{self.counter}"><get-config><source><running/>'
               f'</source><filter type="subtree"><native xmlns="{NATIVE_NS}"/></filter></get-config></rpc>')
        self.to_server(rpc.encode())
        return self.internal.get(timeout=60)

    def ask_state(self, config: bytes, wanted: list[str]) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(60)
            s.connect(self.state_socket)
            s.sendall(json.dumps({"config": config.decode(errors="replace"), "want": wanted}).encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        return json.loads(buf or b"{}")


def capabilities(msg: bytes) -> set[str]:
    try:
        root = parse_xml(msg)
    except (ValueError, ET.ParseError):
        return set()
    return {(c.text or "").strip() for c in root.iter() if local(c.tag) == "capability"}


def add_oper_capabilities(hello: bytes) -> bytes:
    """Advertise the operational models this simulator answers (like a real device's hello)."""
    text_ = hello.decode(errors="replace")
    m = re.search(r"</(\w+:)?capabilities>", text_)
    if not m:
        return hello
    prefix = m.group(1) or ""
    extra = "".join(f"<{prefix}capability>{c}</{prefix}capability>" for c in OPER_CAPABILITIES)
    return (text_[:m.start()] + extra + text_[m.start():]).encode()


def oper_request(msg: bytes) -> tuple[ET.Element, list[str]] | None:
    """(rpc element, wanted subtrees) when ``msg`` is a <get> asking only for simulated oper subtrees."""
    if b"get" not in msg or not any(root.split("}")[1].encode() in msg for root in OPER_ROOTS):
        return None
    try:
        rpc = parse_xml(msg)
    except (ValueError, ET.ParseError):
        return None
    op = next(iter(rpc), None)
    if local(rpc.tag) != "rpc" or op is None or op.tag != f"{{{NC_NS}}}get":
        return None
    flt = op.find(f"{{{NC_NS}}}filter")
    if flt is None or flt.get("type", "subtree") != "subtree" or not len(flt):
        return None
    wanted = [OPER_ROOTS.get(child.tag) for child in flt]
    if not all(wanted):
        return None
    return rpc, [w for w in wanted if w]


def rpc_reply(rpc: ET.Element, body: str) -> bytes:
    attrs = "".join(f' {k}="{_escape(v)}"' for k, v in rpc.attrib.items() if not k.startswith("{"))
    return f'<rpc-reply xmlns="{NC_NS}"{attrs}>{body}</rpc-reply>'.encode()


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def rpc_error(message: str) -> str:
    return ("<rpc-error><error-type>application</error-type><error-tag>operation-failed</error-tag>"
            f"<error-severity>error</error-severity><error-message>{_escape(message)}</error-message></rpc-error>")


def answer(session: Session, rpc: ET.Element, wanted: list[str]) -> None:
    try:
        reply = parse_xml(session.running_config())
        data = reply.find(f"{{{NC_NS}}}data")
        config = ET.tostring(data, encoding="unicode") if data is not None else "<data/>"
        result = session.ask_state(config.encode(), wanted)
        body = result["data"] if "data" in result else rpc_error(str(result.get("error", "state unavailable")))
    except (OSError, ValueError, KeyError, ET.ParseError, queue.Empty) as exc:
        body = rpc_error(f"operational state simulator: {exc}")
    session.to_client(rpc_reply(rpc, body))


def client_loop(session: Session, framer: Framer) -> None:
    while (msg := framer.read()) is not None:
        if "client" not in session.hellos:
            session.hellos["client"] = capabilities(msg)
            session.to_server(msg, hello=True)
            continue
        req = oper_request(msg)
        if req is None:
            session.to_server(msg)
        else:
            answer(session, *req)


def server_loop(session: Session, framer: Framer) -> None:
    while (msg := framer.read()) is not None:
        if "server" not in session.hellos:
            session.hellos["server"] = capabilities(msg)
            session.to_client(add_oper_capabilities(msg), hello=True)
        elif f'message-id="{INTERNAL_ID}'.encode() in msg[:512]:
            session.internal.put(msg)
        else:
            session.to_client(msg)


def relay(ncx_sockname: str, state_socket: str, subsystem: str) -> int:
    child = subprocess.Popen([subsystem, f"--ncxserver-sockname={ncx_sockname}"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, bufsize=0)
    assert child.stdin is not None and child.stdout is not None
    session = Session(sys.stdout.buffer, child.stdin, state_socket)
    server = threading.Thread(target=server_loop, args=(session, Framer(child.stdout, session.base11)),
                              daemon=True)
    server.start()
    try:
        client_loop(session, Framer(sys.stdin.buffer, session.base11))
    except (OSError, ValueError):
        pass
    finally:
        try:
            child.stdin.close()
        except OSError:
            pass
    server.join(timeout=5)
    child.terminate()
    return 0


# ================================================================ native config -> device_cfg
def _prefix(addr: str | None, mask: str | None) -> str | None:
    if not addr:
        return None
    try:
        return str(ipaddress.ip_interface(f"{addr}/{mask or '255.255.255.255'}"))
    except ValueError:
        return None


def _ikev2_profiles(native: ET.Element) -> dict[str, ET.Element]:
    return {text(p, q(CRYPTO_CFG_NS, "name")) or "": p
            for p in native.findall(q(NATIVE_NS, "crypto") + "/" + q(CRYPTO_CFG_NS, "ikev2", "profile"))}


def _ipsec_profiles(native: ET.Element) -> dict[str, ET.Element]:
    return {text(p, q(CRYPTO_CFG_NS, "name")) or "": p
            for p in native.findall(q(NATIVE_NS, "crypto") + "/" + q(CRYPTO_CFG_NS, "ipsec", "profile"))}


def _keyring_psk(native: ET.Element, keyring: str | None, peer: str | None) -> str | None:
    for ring in native.findall(q(NATIVE_NS, "crypto") + "/" + q(CRYPTO_CFG_NS, "ikev2", "keyring")):
        if keyring and text(ring, q(CRYPTO_CFG_NS, "name")) != keyring:
            continue
        for p in ring.findall(q(CRYPTO_CFG_NS, "peer")):
            if text(p, q(CRYPTO_CFG_NS, "address", "ipv4", "ipv4-address")) == peer:
                return text(p, q(CRYPTO_CFG_NS, "pre-shared-key", "key"))
    return None


def _interface_address(native: ET.Element, ifname: str | None) -> str | None:
    m = re.fullmatch(r"([A-Za-z-]+)([\d/.]+)", ifname or "")
    if not m:
        return None
    for itf in native.findall(q(NATIVE_NS, "interface", m.group(1))):
        if text(itf, q(NATIVE_NS, "name")) == m.group(2):
            return text(itf, q(NATIVE_NS, "ip", "address", "primary", "address"))
    return None


def _proposal(native: ET.Element) -> dict[str, str | None]:
    prop = native.find(q(NATIVE_NS, "crypto") + "/" + q(CRYPTO_CFG_NS, "ikev2", "proposal"))
    if prop is None:
        return {}
    first = {k: next((local(c.tag) for c in prop.findall(q(CRYPTO_CFG_NS, k, "*"))), None)
             for k in ("encryption", "group", "integrity")}
    return {"encryption": first["encryption"], "integrity": first["integrity"],
            "dh_group": DH_GROUPS.get(str(first["group"]), first["group"])}


def tunnel_config(native: ET.Element, tun: ET.Element) -> dict[str, Any]:
    """One ``interface Tunnel N`` with what its protection profile says (source address, PSK)."""
    t = tun.find(q(TUNNEL_NS, "tunnel"))
    name = f"Tunnel{text(tun, q(NATIVE_NS, 'name'))}"
    dest = text(t, q(TUNNEL_NS, "destination", "ipaddress-or-host"))
    src_if = text(t, q(TUNNEL_NS, "source"))
    ipsec_name = text(t, q(TUNNEL_NS, "protection") + "/" + q(CRYPTO_CFG_NS, "ipsec", "profile"))
    ipsec = _ipsec_profiles(native).get(ipsec_name or "")
    ike_name = text(ipsec, q(CRYPTO_CFG_NS, "set", "ikev2-profile"))
    ike = _ikev2_profiles(native).get(ike_name or "")
    source = (text(ike, q(CRYPTO_CFG_NS, "match", "address", "local", "ip"))
              or text(ike, q(CRYPTO_CFG_NS, "identity", "local", "address"))
              or _interface_address(native, src_if))
    inside = _prefix(text(tun, q(NATIVE_NS, "ip", "address", "primary", "address")),
                     text(tun, q(NATIVE_NS, "ip", "address", "primary", "mask")))
    shutdown = tun.find(q(NATIVE_NS, "shutdown")) is not None
    return {"name": name, "destination": dest, "source": source, "source_interface": src_if,
            "psk": _keyring_psk(native, text(ike, q(CRYPTO_CFG_NS, "keyring", "local")), dest),
            "inside_address": inside.split("/")[0] if inside else None, "inside_cidr": inside,
            "inside_prefixlen": int(inside.split("/")[1]) if inside else None,
            "ipsec_profile": ipsec_name, "ikev2_profile": ike_name, "shutdown": shutdown,
            "protected": ipsec is not None and ike is not None}


def _prefix_lists(native: ET.Element) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for pl in native.findall(q(NATIVE_NS, "ip", "prefix-list", "prefixes")):
        entries = []
        for seq in pl.findall(q(NATIVE_NS, "seq")):
            for action in ("permit", "deny"):
                a = seq.find(q(NATIVE_NS, action))
                if a is not None:
                    entries.append({"seq": int(text(seq, q(NATIVE_NS, "no")) or 0), "action": action,
                                    "prefix": text(a, q(NATIVE_NS, "ip")), "ge": _int(text(a, q(NATIVE_NS, "ge"))),
                                    "le": _int(text(a, q(NATIVE_NS, "le")))})
        out[text(pl, q(NATIVE_NS, "name")) or ""] = sorted(entries, key=lambda e: e["seq"])
    return out


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _route_map_policies(native: ET.Element, plists: dict[str, list[dict[str, Any]]]
                        ) -> dict[str, list[dict[str, Any]]]:
    """Route-maps as cloud_state policies: ordered terms ``{action, match: prefix-list entries | None}``."""
    out: dict[str, list[dict[str, Any]]] = {}
    for rm in native.findall(q(NATIVE_NS, "route-map")):
        terms = []
        for seq in rm.findall(q(ROUTE_MAP_NS, "route-map-without-order-seq")):
            names = [el.text.strip() for el in seq.iter(q(ROUTE_MAP_NS, "prefix-list")) if el.text]
            known = [n for n in names if n in plists]
            match = [e for n in known for e in plists[n]] if known else None
            terms.append((_int(text(seq, q(ROUTE_MAP_NS, "seq_no"))) or 0,
                          {"action": text(seq, q(ROUTE_MAP_NS, "operation")) or "permit", "match": match}))
        out[text(rm, q(NATIVE_NS, "name")) or ""] = [t for _, t in sorted(terms, key=lambda x: x[0])]
    return out


def _network(with_mask: ET.Element) -> str | None:
    try:
        return str(ipaddress.ip_network(f"{text(with_mask, q(BGP_CFG_NS, 'number'))}/"
                                         f"{text(with_mask, q(BGP_CFG_NS, 'mask'))}", strict=False))
    except ValueError:
        return None


def bgp_config(native: ET.Element) -> dict[str, Any] | None:
    bgp = native.find(q(NATIVE_NS, "router") + "/" + q(BGP_CFG_NS, "bgp"))
    if bgp is None:
        return None
    policies = _route_map_policies(native, _prefix_lists(native))
    uni = bgp.find(q(BGP_CFG_NS, "address-family", "no-vrf", "ipv4", "ipv4-unicast"))
    af_neighbors = {text(n, q(BGP_CFG_NS, "id")): n for n in (uni.findall(q(BGP_CFG_NS, "neighbor"))
                                                               if uni is not None else [])}
    neighbors = []
    for n in bgp.findall(q(BGP_CFG_NS, "neighbor")):
        addr = text(n, q(BGP_CFG_NS, "id"))
        af = af_neighbors.get(addr)
        maps = {text(r, q(BGP_CFG_NS, "inout")): text(r, q(BGP_CFG_NS, "route-map-name"))
                for r in (af.findall(q(BGP_CFG_NS, "route-map")) if af is not None else [])}
        neighbors.append({"address": addr, "remote_as": _int(text(n, q(BGP_CFG_NS, "remote-as"))),
                          "description": text(n, q(BGP_CFG_NS, "description")),
                          "activated": af is not None and af.find(q(BGP_CFG_NS, "activate")) is not None,
                          "shutdown": n.find(q(BGP_CFG_NS, "shutdown")) is not None,
                          "password": text(n, q(BGP_CFG_NS, "password", "text")),
                          "route_map_in": maps.get("in"), "route_map_out": maps.get("out"),
                          "policy_in": _policy(policies, maps.get("in")),
                          "policy_out": _policy(policies, maps.get("out"))})
    networks = [n for n in (_network(w) for w in (uni.findall(q(BGP_CFG_NS, "network", "with-mask"))
                                                   if uni is not None else [])) if n]
    return {"asn": _int(text(bgp, q(BGP_CFG_NS, "id"))),
            "router_id": text(bgp, q(BGP_CFG_NS, "bgp", "router-id", "ip-id")),
            "neighbors": neighbors, "networks": networks}


def _policy(policies: dict[str, list[dict[str, Any]]], name: str | None) -> list[dict[str, Any]] | None:
    """No route-map: accept all; a route-map that does not exist: IOS denies everything."""
    if not name:
        return None
    return policies.get(name, [])


def static_routes(native: ET.Element) -> list[dict[str, Any]]:
    out = []
    for r in native.findall(q(NATIVE_NS, "ip", "route", "ip-route-interface-forwarding-list")):
        prefix = _prefix(text(r, q(NATIVE_NS, "prefix")), text(r, q(NATIVE_NS, "mask")))
        fwd = [text(f, q(NATIVE_NS, "fwd")) for f in r.findall(q(NATIVE_NS, "fwd-list"))]
        if prefix:
            out.append({"prefix": str(ipaddress.ip_interface(prefix).network), "interfaces": [f for f in fwd if f]})
    return out


def device_config(config_xml: str) -> dict[str, Any]:
    """The running configuration (native model) reduced to the neutral device_cfg of cloud_state."""
    root = parse_xml(config_xml)
    native = root if local(root.tag) == "native" else root.find(f"{{{NATIVE_NS}}}native")
    if native is None:
        return {"tunnels": [], "bgp": None, "static_routes": [], "ike": {}}
    tunnels = [tunnel_config(native, t) for t in native.findall(q(NATIVE_NS, "interface", "Tunnel"))]
    return {"tunnels": tunnels, "bgp": bgp_config(native), "static_routes": static_routes(native),
            "ike": _proposal(native)}


# ================================================================ state -> oper XML (the fixtures' shape)
def _el(parent: ET.Element, name: str, value: Any = None) -> ET.Element:
    el = ET.SubElement(parent, name)
    if value is not None:
        el.text = str(value)
    return el


def _spi(*parts: Any) -> int:
    return 0x10000000 + zlib.crc32("|".join(str(p) for p in parts).encode()) % 0xE0000000


def _tunnel_state(states: dict[str, Any], tun: dict[str, Any]) -> dict[str, Any]:
    for key in (tun["name"], tun.get("destination")):
        if key in states:
            return states[key]
    return {"ike": "down", "child": "down", "reason": "not evaluated"}


def crypto_data(cfg: dict[str, Any], states: dict[str, Any]) -> ET.Element:
    """``crypto-oper-data``: IKEv2 SAs for tunnels whose IKE is up, one ipsec-ident per tunnel."""
    root = ET.Element("crypto-oper-data", xmlns=CRYPTO_NS)
    ike = cfg.get("ike") or {}
    tunnels = [t for t in cfg["tunnels"] if t.get("protected") and t.get("destination")]
    for t in tunnels:
        _ident(root, t, _tunnel_state(states, t), ike)
    sa_id = 0
    for t in tunnels:
        if _tunnel_state(states, t).get("ike") != "up":
            continue
        sa_id += 1
        _ikev2_sa(root, sa_id, t, ike)
    return root


def _ikev2_sa(root: ET.Element, sa_id: int, t: dict[str, Any], ike: dict[str, Any]) -> None:
    sa = _el(root, "crypto-ikev2-sa")
    _el(sa, "sa-id", sa_id)
    data = _el(sa, "sa-data")
    _el(data, "sa-id", sa_id)
    _el(data, "sa-status", "crypto-sa-status-active")
    _el(data, "local-ip-addr", t.get("source"))
    _el(data, "local-port", 500)
    _el(data, "remote-ip-addr", t["destination"])
    _el(data, "remote-port", 500)
    _el(data, "dh-group", f"crypto-dh-grouptype-{ike.get('dh_group') or 'group14'}")
    _el(data, "ivrf", "none")
    _el(data, "fvrf", "none")
    _el(data, "lifetime", 86400)
    _el(data, "hash-algo", "crypto-hash-alg-auth-hmac-" + str(ike.get("integrity") or "sha256"))
    _el(data, "encr-alg", "crypto-encr-alg-aes-cbc")
    _el(data, "my-auth-method", "crypto-ikev2-auth-psk")
    _el(data, "peer-auth-method", "crypto-ikev2-auth-psk")


def _ident(root: ET.Element, t: dict[str, Any], st: dict[str, Any], ike: dict[str, Any]) -> None:
    ident = _el(root, "crypto-ipsec-ident")
    _el(ident, "interface", t["name"])
    data = _el(ident, "ident-data")
    _el(data, "protected-vrf", 0)
    for side in ("local", "remote"):
        _el(data, f"{side}-ident-addr", "0.0.0.0")
        _el(data, f"{side}-ident-mask", "0.0.0.0")
        _el(data, f"{side}-ident-protocol", 0)
    _el(data, "plaintext-mtu", 1438)
    _el(data, "local-endpt-addr", t.get("source"))
    _el(data, "remote-endpt-addr", t["destination"])
    if st.get("ike") != "up" or st.get("child") != "up":
        return
    _el(data, "dh-group", f"crypto-dh-grouptype-{ike.get('dh_group') or 'group14'}")
    for direction in ("inbound", "outbound"):
        esp = _el(data, f"{direction}-esp-sa")
        _el(esp, "spi", _spi(t["name"], t.get("destination"), t.get("psk"), direction))
        _el(esp, "dir", f"crypto-dir-{direction}")
        _el(esp, "protocol", "crypto-prot-esp")
        _el(esp, "flow-id", int(re.sub(r"\D", "", t["name"]) or 0) * 2 - (direction == "inbound"))
        _el(esp, "sa-status", "crypto-sa-status-active")
        _el(esp, "transform-set", "crypto-transform-esp-aes-cbc-256 crypto-transform-esp-hmac-sha256")


def _fsm(state: Any) -> str:
    s = str(state or "idle").lower().replace("fsm-", "")
    return FSM.get(s, "fsm-idle")


def _nb_state(states: dict[str, Any], addr: str) -> dict[str, Any]:
    return states.get(addr) or {"state": "Idle", "prefixes_received": [], "prefixes_sent": []}


def _prefix_list(value: Any) -> list[str]:
    return [str(ipaddress.ip_network(str(v), strict=False)) for v in value] if isinstance(value, list) else []


def _count(value: Any) -> int:
    return len(value) if isinstance(value, list) else int(value or 0)


def bgp_data(cfg: dict[str, Any], states: dict[str, Any]) -> ET.Element:
    """``bgp-state-data``: neighbors, the ipv4-unicast address family and per-neighbor routes."""
    root = ET.Element("bgp-state-data", xmlns=BGP_NS)
    bgp = cfg.get("bgp")
    if not bgp:
        return root
    nbs = [n for n in bgp["neighbors"] if n.get("address")]
    neighbors = _el(root, "neighbors")
    for n in nbs:
        _bgp_neighbor(neighbors, n, _nb_state(states, n["address"]))
    afs = _el(_el(root, "address-families"), "address-family")
    _el(afs, "afi-safi", "ipv4-unicast")
    _el(afs, "vrf-name", "default")
    _el(afs, "router-id", bgp.get("router_id") or "0.0.0.0")
    summaries = _el(afs, "bgp-neighbor-summaries")
    for n in nbs:
        st = _nb_state(states, n["address"])
        s = _el(summaries, "bgp-neighbor-summary")
        _el(s, "id", n["address"])
        _el(s, "bgp-version", 4)
        _el(s, "up-time", "00:00:10" if _fsm(st.get("state")) == "fsm-established" else "never")
        _el(s, "state", _fsm(st.get("state")))
        _el(s, "prefixes-received", _count(st.get("prefixes_received")))
        _el(s, "dynamically-configured", "false")
        _el(s, "as", n.get("remote_as") or 0)
    _el(afs, "local-as", bgp.get("asn") or 0)
    _bgp_routes(root, nbs, states)
    return root


def _bgp_neighbor(parent: ET.Element, n: dict[str, Any], st: dict[str, Any]) -> None:
    up = _fsm(st.get("state")) == "fsm-established"
    nb = _el(parent, "neighbor")
    _el(nb, "afi-safi", "ipv4-unicast")
    _el(nb, "vrf-name", "default")
    _el(nb, "neighbor-id", n["address"])
    _el(nb, "description", n.get("description") or "")
    _el(nb, "bgp-version", 4)
    _el(nb, "link", "external")
    _el(nb, "up-time", "00:00:10" if up else "never")
    _el(nb, "installed-prefixes", _count(st.get("prefixes_received")))
    _el(nb, "session-state", _fsm(st.get("state")))
    conn = _el(nb, "connection")
    _el(conn, "state", "established" if up else "closed")
    _el(conn, "mode", "mode-active")
    _el(conn, "total-established", 1 if up else 0)
    _el(conn, "total-dropped", 0)
    _el(conn, "last-reset", "never")
    _el(conn, "reset-reason", "")
    activity = _el(nb, "prefix-activity")
    for direction, key in (("sent", "prefixes_sent"), ("received", "prefixes_received")):
        c = _el(activity, direction)
        _el(c, "current-prefixes", _count(st.get(key)))
        _el(c, "total-prefixes", _count(st.get(key)))
        _el(c, "implicit-withdraw", 0)
        _el(c, "explicit-withdraw", 0)
        _el(c, "bestpaths", _count(st.get(key)) if direction == "received" else 0)
        _el(c, "multipaths", 0)
    _el(nb, "as", n.get("remote_as") or 0)


def _bgp_routes(root: ET.Element, nbs: list[dict[str, Any]], states: dict[str, Any]) -> None:
    af = _el(_vrf_af(root), "bgp-route-neighbors")
    for n in nbs:
        st = _nb_state(states, n["address"])
        if _fsm(st.get("state")) != "fsm-established":
            continue
        rn = _el(af, "bgp-route-neighbor")
        _el(rn, "nbr-id", n["address"])
        filters = _el(rn, "bgp-neighbor-route-filters")
        for flt, key, hop in (("bgp-nrf-post-received", "prefixes_received", n["address"]),
                              ("bgp-nrf-post-advertised", "prefixes_sent", "0.0.0.0")):
            f = _el(filters, "bgp-neighbor-route-filter")
            _el(f, "nbr-fltr", flt)
            entries = _el(f, "bgp-neighbor-route-entries")
            for prefix in _prefix_list(st.get(key)):
                _route_entry(entries, prefix, hop, n.get("remote_as") if flt.endswith("received") else None)


def _vrf_af(root: ET.Element) -> ET.Element:
    vrf = _el(_el(root, "bgp-route-vrfs"), "bgp-route-vrf")
    _el(vrf, "vrf", "default")
    af = _el(_el(vrf, "bgp-route-afs"), "bgp-route-af")
    _el(af, "afi-safi", "ipv4-unicast")
    return af


def _route_entry(parent: ET.Element, prefix: str, hop: str, remote_as: int | None) -> None:
    e = _el(parent, "bgp-neighbor-route-entry")
    _el(e, "prefix", prefix)
    _el(e, "version", 2)
    _el(e, "available-paths", 1)
    _el(e, "advertised-to", "")
    path = _el(_el(e, "bgp-neighbor-path-entries"), "bgp-neighbor-path-entry")
    _el(path, "nexthop", hop)
    _el(path, "metric", 0)
    _el(path, "local-pref", 100)
    _el(path, "weight", 0 if remote_as else 32768)
    _el(path, "as-path", str(remote_as) if remote_as else "")
    _el(path, "origin", "origin-igp")
    status = _el(path, "path-status")
    _el(status, "valid")
    _el(status, "bestpath")
    if not remote_as:
        _el(status, "sourced")
    _el(path, "rpki-status", "rpki-not-enabled")
    _el(path, "community", "")
    _el(path, "path-origin", "external-path" if remote_as else "internal-path")


def rib_data(cfg: dict[str, Any], states: dict[str, Any]) -> ET.Element:
    """``routing-state``: connected tunnel subnets, static routes, and BGP routes from Established peers."""
    root = ET.Element("routing-state", xmlns=RT_NS)
    inst = _el(root, "routing-instance")
    _el(inst, "name", "default")
    rib = _el(_el(inst, "ribs"), "rib")
    _el(rib, "name", "ipv4-default")
    _el(rib, "address-family", "ipv4")
    _el(rib, "default-rib", "true")
    routes = _el(rib, "routes")
    seen: set[str] = set()
    for t in cfg["tunnels"]:
        if t.get("inside_cidr") and not t.get("shutdown"):
            net = str(ipaddress.ip_interface(t["inside_cidr"]).network)
            seen.add(net)
            _rib_route(routes, net, 0, "direct", interface=t["name"])
    for r in cfg.get("static_routes") or []:
        if r["prefix"] not in seen:
            seen.add(r["prefix"])
            _rib_route(routes, r["prefix"], 1, "static", interface=(r["interfaces"] or [None])[0])
    for n in (cfg.get("bgp") or {}).get("neighbors") or []:
        st = _nb_state(states, n.get("address") or "")
        if _fsm(st.get("state")) != "fsm-established":
            continue
        for prefix in _prefix_list(st.get("prefixes_received")):
            if prefix not in seen:
                seen.add(prefix)
                _rib_route(routes, prefix, 20, "rt-ext:bgp", nexthop=n["address"])
    return root


def _rib_route(parent: ET.Element, prefix: str, pref: int, protocol: str, interface: str | None = None,
               nexthop: str | None = None) -> None:
    r = _el(parent, "route")
    _el(r, "destination-prefix", prefix)
    _el(r, "route-preference", pref)
    _el(r, "metric", 0)
    hop = _el(r, "next-hop")
    if interface:
        _el(hop, "outgoing-interface", interface)
    if nexthop:
        _el(hop, "next-hop-address", nexthop)
    proto = _el(r, "source-protocol", protocol)
    if protocol.startswith("rt-ext:"):
        proto.set("xmlns:rt-ext", RT_EXT_NS)
    _el(r, "active")
    _el(r, "last-updated", "2024-01-01T00:00:00+00:00")


BUILDERS: dict[str, Callable[[dict[str, Any], dict[str, Any]], ET.Element]] = {
    "crypto": lambda cfg, st: crypto_data(cfg, st.get("tunnels") or {}),
    "bgp": lambda cfg, st: bgp_data(cfg, st.get("neighbors") or {}),
    "rib": lambda cfg, st: rib_data(cfg, st.get("neighbors") or {}),
}


def data_reply(cfg: dict[str, Any], state: dict[str, Any], wanted: list[str]) -> str:
    data = ET.Element("data")
    for what in dict.fromkeys(wanted):
        data.append(BUILDERS[what](cfg, state))
    return ET.tostring(data, encoding="unicode")


# ================================================================ state server (root)
def load_cloud_state() -> Any:
    path = Path(__file__).with_name("cloud_state.py")
    spec = importlib.util.spec_from_file_location("stowpath_lab_cloud_state", path)
    if spec is None or spec.loader is None or not path.exists():
        raise RuntimeError(f"{path} is missing")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def evaluate(config_xml: str, wanted: list[str], state_dir: str) -> dict[str, Any]:
    cfg = device_config(config_xml)
    cloud_state = load_cloud_state()
    state = cloud_state.evaluate(cfg, cloud_state.load_cloud(state_dir))
    return {"data": data_reply(cfg, state, wanted)}


class StateHandler(socketserver.StreamRequestHandler):
    state_dir = DEFAULT_STATE_DIR

    def handle(self) -> None:
        line = self.rfile.readline(MAX_MESSAGE)
        if not line.strip():
            return
        try:
            req = json.loads(line)
            wanted = [w for w in req.get("want") or [] if w in BUILDERS]
            result = evaluate(str(req.get("config") or "<data/>"), wanted, self.state_dir)
        except Exception as exc:  # noqa: BLE001 - every failure becomes an rpc-error for the client
            result = {"error": f"{type(exc).__name__}: {exc}"}
        try:
            self.wfile.write(json.dumps(result).encode() + b"\n")
        except OSError:
            pass


class StateServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def state_server(sock: str, state_dir: str) -> int:
    Path(sock).unlink(missing_ok=True)
    StateHandler.state_dir = state_dir
    with StateServer(sock, StateHandler) as server:
        os.chmod(sock, 0o666)
        server.serve_forever()
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    r = sub.add_parser("relay")
    r.add_argument("--ncx-sockname", required=True)
    r.add_argument("--state-socket", required=True)
    r.add_argument("--subsystem", default="/usr/sbin/netconf-subsystem")
    s = sub.add_parser("state-server")
    s.add_argument("--socket", required=True)
    s.add_argument("--state-dir", default=DEFAULT_STATE_DIR)
    args = ap.parse_args(argv)
    if args.mode == "relay":
        return relay(args.ncx_sockname, args.state_socket, args.subsystem)
    return state_server(args.socket, args.state_dir)


if __name__ == "__main__":
    sys.exit(main())
