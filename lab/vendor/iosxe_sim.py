#!/usr/bin/env python3
"""IOS-XE CLI SIMULATOR (not Cisco software): an asyncssh server that behaves enough like an IOS-XE
router's CLI for Netmiko's ``cisco_ios`` driver and for testing stowpath's remediation logic.

What it does: login banner and prompts (``name>``, ``name#``, ``name(config...)#``), ``enable`` with a
secret, ``terminal length/width``, ``configure terminal`` with the sub-modes our snippets use (IKEv2
proposal/policy/keyring/peer/profile, IPsec transform-set/profile, interface, extended ACL,
route-map, router bgp + address-family), IOS's "fall back to the parent mode" parsing, ``no`` forms,
``exit``/``end``, ``show running-config``/``startup-config``, ``write memory``,
``% Invalid input detected at '^' marker.`` on anything it does not know, and a few of IOS's
semantic refusals (removing a transform-set/profile/keyring/proposal that is still referenced,
``neighbor X ...`` before ``neighbor X remote-as``, bad masks). With ``service
password-encryption`` it shows keyring and BGP secrets as type 7, like IOS.

Operational state (simulated, not computed by any IKE or BGP implementation): ``show crypto session
detail``, ``show ip bgp summary``, ``show ip bgp neighbors X routes|received-routes|advertised-routes`` and
``show ip route`` are answered in the layouts of published IOS-XE outputs from a state that follows the
running configuration and the lab cloud (``cloud_state.py``, re-read on every show; ``--lab-state DIR``):
a tunnel is up when its destination is a cloud endpoint, its keyring PSK is the one the cloud expects
and its inside address matches; BGP is Established over an up tunnel with the cloud's ASN.

Configuration archive and rollback (minimal): with ``archive`` / `` path ...`` configured,
``configure terminal revert timer N`` archives the running configuration and enters configuration
mode; ``configure confirm`` keeps the change, ``configure revert now`` or the timer's expiry (N
minutes, ``--minute-s`` seconds each for tests) puts the archived configuration back, whether or not
anybody is still connected; ``show archive config rollback timer`` tells whether a revert is pending.

What it does not: any data plane, real IKE or BGP, most IOS commands, ``configure replace``.
Fault injection for tests: ``STATE_DIR/faults.json`` ``{"drop_after_config_lines": N}`` closes the
SSH connection after N configuration lines (once).

    iosxe_sim.py start|stop|status [--port N] [--state-dir DIR] [--username U] [--password P]
                                   [--enable-secret S] [--hostname H] [--initial-config FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh
import cloud_state

ROOT = Path(__file__).resolve().parents[2]
# global (not per checkout): any checkout's `lab-down` / `lab-up` finds and stops it
DEFAULT_STATE = Path(os.environ.get("STOWPATH_LAB_STATE", "/run/stowpath-lab")) / "vendor" / "iosxe-sim"
DEFAULT_PORT = 8022
INVALID = "% Invalid input detected at '^' marker."
INCOMPLETE = "% Incomplete command."
SHOW_HEADER = ("Building configuration", "Current configuration :", "version ", "service timestamps ")
TYPE7_XLAT = "dsfd;kfoA,.iyewrkldJKDHSUBsgvca69834ncxv9873254k;fg87"

BASE_CONFIG = """\
hostname {hostname}
!
interface GigabitEthernet1
 description WAN (simulated)
 ip address 198.51.100.24 255.255.255.0
!
interface GigabitEthernet2
 description LAN (simulated)
 ip address 10.20.0.1 255.255.255.0
!
interface GigabitEthernet3
 no ip address
 shutdown
!
"""

# ---------------------------------------------------------------- grammar (data)
ENC_IKE = r"(?:aes-cbc-128|aes-cbc-192|aes-cbc-256|aes-gcm-128|aes-gcm-256|3des|des)"
INTEG = r"(?:md5|sha1|sha256|sha384|sha512)"
DH = r"(?:1|2|5|14|15|16|19|20|21|24)"
ESP = r"(?:esp-aes(?: 128| 192| 256)?|esp-gcm(?: 128| 256)?|esp-3des|esp-des|esp-null)"
ESP_HMAC = r"(?:esp-md5-hmac|esp-sha-hmac|esp-sha256-hmac|esp-sha384-hmac|esp-sha512-hmac)"
IP = r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}"
IFNAME = r"(?:Tunnel\d+|GigabitEthernet\d+(?:/\d+)*(?:\.\d+)?|Loopback\d+)"
ACE_PROTO = r"(?:ip|tcp|udp|icmp|esp|ahp|gre|\d+)"
ACE_ADDR = rf"(?:any|host {IP}|{IP} {IP})"
ACE_PORT = r"(?:(?:eq|neq|gt|lt) \S+|range \S+ \S+)"
ACE = (rf"(?:permit|deny) {ACE_PROTO} {ACE_ADDR}(?: {ACE_PORT})? {ACE_ADDR}(?: {ACE_PORT})?"
       r"(?: (?:echo|echo-reply|time-exceeded|unreachable|established|log|log-input))*")


@dataclass(frozen=True)
class Rule:
    pattern: str
    key: str  # str.format template over the match groups ({0} = whole line)
    mode: str | None = None  # sub-mode entered (a section) or None (a leaf line)
    check: str | None = None  # name of a semantic check


RULES: dict[str, list[Rule]] = {
    "config": [
        Rule(r"archive", "archive", "config-archive"),
        Rule(r"hostname (\S+)", "hostname", check="hostname"),
        Rule(r"service password-encryption", "{0}"),
        Rule(r"crypto ikev2 proposal (\S+)", "{0}", "config-ikev2-proposal"),
        Rule(r"crypto ikev2 policy (\S+)", "{0}", "config-ikev2-policy"),
        Rule(r"crypto ikev2 keyring (\S+)", "{0}", "config-ikev2-keyring"),
        Rule(r"crypto ikev2 profile (\S+)", "{0}", "config-ikev2-profile"),
        Rule(rf"crypto ipsec transform-set (\S+) {ESP}(?: {ESP_HMAC})?", "crypto ipsec transform-set {1}",
             "cfg-crypto-trans"),
        Rule(r"crypto ipsec profile (\S+)", "{0}", "ipsec-profile"),
        Rule(r"crypto ipsec df-bit (clear|copy|set)", "crypto ipsec df-bit"),
        Rule(r"crypto ipsec fragmentation (before|after)-encryption", "crypto ipsec fragmentation"),
        Rule(rf"interface ({IFNAME})", "interface {1}", "config-if"),
        Rule(r"ip access-list extended ([A-Za-z]\S*|1\d\d|2[0-6]\d\d)", "{0}", "config-ext-nacl"),
        Rule(r"route-map (\S+) (?:permit|deny) (\d+)", "route-map {1} {2}", "config-route-map"),
        Rule(r"router bgp (\d+)", "{0}", "config-router"),
        Rule(r"ip prefix-list (\S+) seq (\d+) (?:permit|deny) (\d+\.\d+\.\d+\.\d+/\d+)(?: ge \d+)?(?: le \d+)?",
             "ip prefix-list {1} seq {2}", check="prefix"),
        Rule(rf"ip route ({IP}) ({IP}) ({IFNAME}|{IP})(?: (\d+))?(?: name (\S+))?", "ip route {1} {2} {3}",
             check="route"),
    ],
    "config-ikev2-proposal": [
        Rule(rf"encryption {ENC_IKE}(?: {ENC_IKE})*", "{0}"),
        Rule(rf"integrity {INTEG}(?: {INTEG})*", "{0}"),
        Rule(rf"prf {INTEG}(?: {INTEG})*", "{0}"),
        Rule(rf"group {DH}(?: {DH})*", "{0}"),
    ],
    "config-ikev2-policy": [
        Rule(rf"match address local ({IP})", "match address local", check="ip"),
        Rule(r"match fvrf any", "{0}"),
        Rule(r"proposal (\S+)", "{0}"),
    ],
    "config-ikev2-keyring": [
        Rule(r"peer (\S+)", "{0}", "config-ikev2-keyring-peer"),
    ],
    "config-ikev2-keyring-peer": [
        Rule(r"description (.+)", "description"),
        Rule(rf"address ({IP})(?: ({IP}))?", "address", check="ip"),
        Rule(r"pre-shared-key(?: (local|remote))?(?: ([067]))? (\S+)", "pre-shared-key {1}"),
    ],
    "config-ikev2-profile": [
        Rule(rf"match address local ({IP})", "match address local", check="ip"),
        Rule(rf"match identity remote address ({IP})(?: ({IP}))?", "{0}", check="ip"),
        Rule(rf"identity local address ({IP})", "identity local", check="ip"),
        Rule(r"authentication (remote|local) pre-share", "authentication {1}"),
        Rule(r"keyring local (\S+)", "keyring"),
        Rule(r"lifetime (\d+)", "lifetime", check="ike_lifetime"),
        Rule(r"dpd (\d+) (\d+) (on-demand|periodic)", "dpd"),
    ],
    "cfg-crypto-trans": [
        Rule(r"mode (tunnel|transport)", "mode"),
    ],
    "ipsec-profile": [
        Rule(r"set transform-set (\S+)", "set transform-set"),
        Rule(rf"set pfs group{DH}", "set pfs"),
        Rule(r"set security-association lifetime seconds (\d+)", "set sa lifetime seconds"),
        Rule(r"set security-association replay window-size (64|128|256|512|1024)", "set sa replay window-size"),
        Rule(r"set ikev2-profile (\S+)", "set ikev2-profile"),
    ],
    "config-if": [
        Rule(r"description (.+)", "description"),
        Rule(rf"ip address ({IP}) ({IP})", "ip address", check="ip_mask"),
        Rule(r"no ip address", "ip address"),
        Rule(r"ip access-group (\S+) (in|out)", "ip access-group {2}"),
        Rule(r"ip tcp adjust-mss (\d+)", "ip tcp adjust-mss", check="mss"),
        Rule(r"ip mtu (\d+)", "ip mtu"),
        Rule(r"ip virtual-reassembly", "{0}"),
        Rule(rf"tunnel source ({IFNAME}|{IP})", "tunnel source"),
        Rule(r"tunnel mode ipsec ipv4", "tunnel mode"),
        Rule(rf"tunnel destination ({IP})", "tunnel destination", check="ip"),
        Rule(r"tunnel protection ipsec profile (\S+)", "tunnel protection"),
        Rule(r"encapsulation dot1Q (\d+)", "encapsulation"),
        Rule(r"shutdown", "shutdown"),
    ],
    "config-archive": [
        Rule(r"path (\S+)", "path"),
        Rule(r"maximum (\d+)", "maximum"),
        Rule(r"write-memory", "write-memory"),
    ],
    "config-ext-nacl": [
        Rule(rf"(\d+) ({ACE})", "seq {1}"),
        Rule(rf"({ACE})", "seq auto"),
        Rule(r"remark (.+)", "{0}"),
    ],
    "config-route-map": [
        Rule(r"match ip address prefix-list (\S+)", "match ip address prefix-list"),
        Rule(r"set local-preference (\d+)", "set local-preference"),
        Rule(r"set as-path prepend(?: \d+)+", "set as-path prepend"),
    ],
    "config-router": [
        Rule(rf"bgp router-id ({IP})", "bgp router-id", check="ip"),
        Rule(r"bgp log-neighbor-changes", "{0}"),
        Rule(r"no bgp default ipv4-unicast", "{0}"),
        Rule(rf"neighbor ({IP}) remote-as (\d+)", "neighbor {1} remote-as"),
        Rule(rf"neighbor ({IP}) (description) .+", "neighbor {1} {2}", check="neighbor"),
        Rule(rf"neighbor ({IP}) (password)(?: [07])? \S+", "neighbor {1} {2}", check="neighbor"),
        Rule(rf"neighbor ({IP}) (timers) \d+ \d+(?: \d+)?", "neighbor {1} {2}", check="neighbor"),
        Rule(rf"neighbor ({IP}) (update-source) \S+", "neighbor {1} {2}", check="neighbor"),
        Rule(rf"neighbor ({IP}) (ebgp-multihop)(?: \d+)?", "neighbor {1} {2}", check="neighbor"),
        Rule(r"address-family ipv4(?: unicast)?", "address-family ipv4", "config-router-af"),
    ],
    "config-router-af": [
        Rule(rf"network ({IP}) mask ({IP})", "{0}", check="ip_mask_net"),
        Rule(rf"neighbor ({IP}) activate", "{0}", check="neighbor_af"),
        Rule(rf"neighbor ({IP}) soft-reconfiguration inbound", "{0}", check="neighbor_af"),
        Rule(rf"neighbor ({IP}) route-map (\S+) (in|out)", "neighbor {1} route-map {3}", check="neighbor_af"),
        Rule(rf"neighbor ({IP}) prefix-list (\S+) (in|out)", "neighbor {1} prefix-list {3}", check="neighbor_af"),
    ],
}
PROMPTS = {m: f"({m})" for m in RULES}
PROMPTS["config"] = "(config)"
SECTION_END = {"config-router-af": "exit-address-family"}
# Which top-level objects reference which (for IOS's "still in use" refusals): the referenced
# object type -> (section prefix of users, child line prefix naming the object).
IN_USE = {
    "crypto ipsec transform-set": ("crypto ipsec profile ", "set transform-set "),
    "crypto ipsec profile": ("interface ", "tunnel protection ipsec profile "),
    "crypto ikev2 profile": ("crypto ipsec profile ", "set ikev2-profile "),
    "crypto ikev2 keyring": ("crypto ikev2 profile ", "keyring local "),
    "crypto ikev2 proposal": ("crypto ikev2 policy ", "proposal "),
}


def type7_encode(plain: str, seed: int = 2) -> str:
    return f"{seed:02d}" + "".join(
        f"{ord(c) ^ ord(TYPE7_XLAT[(seed + i) % len(TYPE7_XLAT)]):02X}" for i, c in enumerate(plain))


def type7_decode(enc: str) -> str:
    seed = int(enc[:2])
    data = bytes.fromhex(enc[2:])
    return "".join(chr(b ^ ord(TYPE7_XLAT[(seed + i) % len(TYPE7_XLAT)])) for i, b in enumerate(data))


@dataclass
class Node:
    text: str
    key: str
    mode: str | None = None
    children: list[Node] = field(default_factory=list)

    def find(self, key: str) -> Node | None:
        return next((c for c in self.children if c.key == key), None)


class CliError(Exception):
    pass


def _norm(line: str) -> str:
    return " ".join(line.split())


def _match(mode: str, line: str) -> tuple[Rule, re.Match] | None:
    for rule in RULES[mode]:
        m = re.fullmatch(rule.pattern, line)
        if m:
            return rule, m
    return None


def _valid_mask(mask: str) -> bool:
    try:
        ipaddress.IPv4Network(f"0.0.0.0/{mask}")
        return True
    except ValueError:
        return False


class Device:
    """The configuration tree and the config-mode parser (no I/O)."""

    def __init__(self, hostname: str, initial: str = "") -> None:
        self.root = Node("", "", "config")
        self.startup_text = ""
        self.last_change = time.strftime("%H:%M:%S UTC %a %b %d %Y", time.gmtime())
        self.load(BASE_CONFIG.format(hostname=hostname) + initial)

    # -- loading / printing
    def load(self, text: str) -> None:
        stack = [self.root]
        for raw in text.splitlines():
            line = _norm(raw)
            if not line or line.startswith("!") or line in ("end", "exit", "exit-address-family"):
                continue
            if line.startswith(SHOW_HEADER):  # the banner lines of "show running-config" (saved config files)
                continue
            self.execute(stack, line)

    @property
    def hostname(self) -> str:
        node = self.root.find("hostname")
        return node.text.split()[1] if node else "Router"

    @property
    def password_encryption(self) -> bool:
        return self.root.find("service password-encryption") is not None

    def _show_text(self, node: Node) -> str:
        if self.password_encryption:
            m = re.fullmatch(r"(pre-shared-key(?: local| remote)?) (\S+)", node.text)
            if m:
                return f"{m.group(1)} 7 {type7_encode(m.group(2))}"
            m = re.fullmatch(r"(neighbor \S+ password) (\S+)", node.text)
            if m:
                return f"{m.group(1)} 7 {type7_encode(m.group(2))}"
        return node.text

    def running_config(self) -> str:
        body: list[str] = []

        def emit(node: Node, depth: int) -> None:
            children = node.children
            if node.mode == "config-ext-nacl":
                children = sorted(children, key=lambda c: int(c.key.split()[1]) if c.key.startswith("seq ") else 0)
            for child in children:
                body.append(" " * depth + self._show_text(child))
                if child.mode:
                    emit(child, depth + 1)
                    if child.mode in SECTION_END:
                        body.append(" " * depth + SECTION_END[child.mode])
                    elif depth == 0 or child.mode == "config-ikev2-keyring-peer":
                        body.append(" " * depth + "!")

        emit(self.root, 0)
        text = "\n".join(body)
        header = ["Building configuration...", "", f"Current configuration : {len(text)} bytes", "!",
                  f"! Last configuration change at {self.last_change}", "!", "version 17.9",
                  "service timestamps debug datetime msec", "service timestamps log datetime msec"]
        return "\n".join(header + body + ["!", "end", ""])

    # -- the parser
    def execute(self, stack: list[Node], line: str) -> None:
        """Run one configuration line in the mode at the top of ``stack`` (IOS falls back to parent modes)."""
        negate = line.startswith("no ") and line != "no ip address" and line != "no bgp default ipv4-unicast"
        body = line[3:] if negate else line
        for depth in range(len(stack) - 1, -1, -1):
            node = stack[depth]
            mode = node.mode or "config"
            if negate:
                if self._negate(node, mode, body):
                    del stack[depth + 1:]
                    return
                continue
            hit = _match(mode, body)
            if hit:
                rule, m = hit
                self._check(rule, m, node, stack)
                del stack[depth + 1:]
                key = rule.key.format(*([m.group(0)] + [g or "" for g in m.groups()])).strip()
                if key == "seq auto":
                    seqs = [int(c.key.split()[1]) for c in node.children if c.key.startswith("seq ")]
                    key, body = f"seq {max(seqs, default=0) + 10}", body
                    text = body
                elif key.startswith("seq "):
                    text = m.group(2)
                else:
                    text = body if body != "address-family ipv4 unicast" else "address-family ipv4"
                existing = node.find(key)
                if existing is not None:
                    existing.text = text
                    target = existing
                else:
                    target = Node(text, key, rule.mode)
                    node.children.append(target)
                if rule.mode:
                    stack.append(target)
                self._changed()
                return
        raise CliError(INVALID)

    def _changed(self) -> None:
        self.last_change = time.strftime("%H:%M:%S UTC %a %b %d %Y", time.gmtime())

    def _negate(self, node: Node, mode: str, body: str) -> bool:
        """Handle ``no BODY`` in ``mode``; False if the mode does not know the command."""
        if mode == "config-ext-nacl":
            m = re.fullmatch(r"(\d+)(?: .*)?", body)
            if m:
                node.children = [c for c in node.children if c.key != f"seq {m.group(1)}"]
                return True
            if _match(mode, body):
                node.children = [c for c in node.children if c.text != body]
                return True
            return False
        hit = _match(mode, body)
        if hit:
            rule, m = hit
            key = rule.key.format(*([m.group(0)] + [g or "" for g in m.groups()])).strip()
            if mode == "config-router" and re.fullmatch(r"neighbor \S+ remote-as", key):
                self._remove_neighbor(node, m.group(1))
                return True
            if mode == "config-router" and key.startswith("neighbor ") and node.find(f"neighbor {m.group(1)} remote-as") is None:
                raise CliError("% Specify remote-as or peer-group commands first")
            target = node.find(key)
            if target is not None:
                self._check_in_use(target)
                node.children.remove(target)
                self._changed()
            return True
        # prefix forms: "no crypto ipsec transform-set NAME", "no route-map NAME", "no neighbor X", ...
        words = body.split()
        if mode == "config" and words[:1] == ["interface"] and len(words) == 2:
            target = node.find(f"interface {words[1]}")
            if target is not None:
                self._check_in_use(target)
                node.children.remove(target)
            return True
        prefix_ok = {
            "config": ("crypto ikev2 proposal ", "crypto ikev2 policy ", "crypto ikev2 keyring ",
                       "crypto ikev2 profile ", "crypto ipsec transform-set ", "crypto ipsec profile ",
                       "ip access-list extended ", "route-map ", "router bgp ", "ip prefix-list ", "ip route "),
            "config-router": ("neighbor ",),
            "config-ikev2-keyring": ("peer ",),
            "config-if": ("description", "ip access-group", "ip tcp adjust-mss", "tunnel ", "ip address"),
        }.get(mode, ())
        if not body.startswith(prefix_ok) and body not in {p.strip() for p in prefix_ok}:
            return False
        if mode == "config-router" and len(words) == 2:
            self._remove_neighbor(node, words[1])
            return True
        victims = [c for c in node.children if (c.text + " ").startswith(body + " ") or c.key == body]
        for victim in victims:
            self._check_in_use(victim)
        for victim in victims:
            node.children.remove(victim)
        if victims:
            self._changed()
        return True

    def _remove_neighbor(self, node: Node, peer: str) -> None:
        if node.find(f"neighbor {peer} remote-as") is None:
            raise CliError("% Specify remote-as or peer-group commands first")
        node.children = [c for c in node.children if not c.key.startswith(f"neighbor {peer} ")]
        for af in (c for c in node.children if c.mode == "config-router-af"):
            af.children = [c for c in af.children if not c.text.startswith(f"neighbor {peer} ")]
        self._changed()

    def _check_in_use(self, target: Node) -> None:
        for kind, (user_prefix, ref_prefix) in IN_USE.items():
            if not target.key.startswith(kind + " "):
                continue
            name = target.key[len(kind) + 1:].split()[0]
            for user in self.root.children:
                if user.text.startswith(user_prefix) and any(c.text == ref_prefix + name for c in user.children):
                    raise CliError(f"% {kind} {name} is in use by {user.text}: remove the reference first")

    def _check(self, rule: Rule, m: re.Match, node: Node, stack: list[Node]) -> None:
        if rule.check in ("ip", "route"):
            for g in m.groups():
                if g and re.fullmatch(IP, g):
                    try:
                        ipaddress.IPv4Address(g)
                    except ValueError as exc:
                        raise CliError(INVALID) from exc
        if rule.check == "ip_mask":
            addr, mask = m.group(1), m.group(2)
            if not _valid_mask(mask):
                raise CliError(f"Bad mask {mask} for address {addr}")
        if rule.check == "ip_mask_net" and not _valid_mask(m.group(2)):
            raise CliError(INVALID)
        if rule.check == "mss" and not 500 <= int(m.group(1)) <= 1460:
            raise CliError(INVALID)
        if rule.check == "ike_lifetime" and not 120 <= int(m.group(1)) <= 86400:
            raise CliError(INVALID)
        if rule.check == "prefix":
            try:
                ipaddress.IPv4Network(m.group(3))
            except ValueError as exc:
                raise CliError(INVALID) from exc
        if rule.check == "neighbor" and node.find(f"neighbor {m.group(1)} remote-as") is None:
            raise CliError("% Specify remote-as or peer-group commands first")
        if rule.check == "neighbor_af":
            bgp = stack[-2] if len(stack) >= 2 and node.mode == "config-router-af" else None
            if bgp is not None and bgp.find(f"neighbor {m.group(1)} remote-as") is None:
                raise CliError("% Specify remote-as or peer-group commands first")


# ---------------------------------------------------------------- simulated operational state
# The configuration tree reduced to cloud_state's neutral device_cfg, and show outputs rendered from
# cloud_state.evaluate() in the layouts of published IOS-XE outputs (tests/vendor/fixtures/iosxe_cli/).
def _children(node: Node, prefix: str) -> list[Node]:
    return [c for c in node.children if c.text.startswith(prefix)]


def _child_value(node: Node | None, prefix: str) -> str | None:
    if node is None:
        return None
    hit = next((c for c in node.children if c.text.startswith(prefix)), None)
    return hit.text[len(prefix):].strip() if hit else None


def _top(dev: Device, text: str) -> Node | None:
    return next((c for c in dev.root.children if c.text == text), None)


def _iface_address(node: Node | None) -> tuple[str, int] | None:
    value = _child_value(node, "ip address ")
    if not value or len(value.split()) != 2:
        return None
    addr, mask = value.split()
    return addr, ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen


def _psk(dev: Device, iface: Node, destination: str | None) -> tuple[str | None, str | None]:
    """(PSK, IKEv2 profile) through tunnel protection -> IPsec profile -> IKEv2 profile -> keyring peer."""
    ipsec = _top(dev, f"crypto ipsec profile {_child_value(iface, 'tunnel protection ipsec profile ')}")
    ike_name = _child_value(ipsec, "set ikev2-profile ")
    keyring = _top(dev, f"crypto ikev2 keyring {_child_value(_top(dev, f'crypto ikev2 profile {ike_name}'), 'keyring local ')}")
    for peer in keyring.children if keyring else []:
        if (_child_value(peer, "address ") or "").split(" ")[0] != destination:
            continue
        for c in peer.children:
            m = re.fullmatch(r"pre-shared-key(?: (?:local|remote))?(?: ([067]))? (\S+)", c.text)
            if m:
                return (type7_decode(m.group(2)) if m.group(1) == "7" else m.group(2)), ike_name
    return None, ike_name


def _prefix_list(dev: Device, name: str) -> list[dict]:
    entries = []
    for node in dev.root.children:
        m = re.fullmatch(rf"ip prefix-list {re.escape(name)} seq (\d+) (permit|deny) (\S+)(?: ge (\d+))?(?: le (\d+))?",
                         node.text)
        if m:
            entries.append({"seq": int(m.group(1)), "action": m.group(2), "prefix": m.group(3),
                            "ge": int(m.group(4)) if m.group(4) else None, "le": int(m.group(5)) if m.group(5) else None})
    return sorted(entries, key=lambda e: e["seq"])


def _policy(dev: Device, af: Node | None, peer: str, direction: str) -> list[dict] | None:
    route_map = _child_value(af, f"neighbor {peer} route-map ") if af else None
    if route_map and route_map.endswith(f" {direction}"):
        name = route_map.split()[0]
        terms = []
        for node in sorted((c for c in dev.root.children if re.fullmatch(rf"route-map {re.escape(name)} \S+ \d+", c.text)),
                           key=lambda c: int(c.text.split()[3])):
            pl = _child_value(node, "match ip address prefix-list ")
            terms.append({"action": node.text.split()[2], "match": _prefix_list(dev, pl) if pl else None})
        return terms
    plist = _child_value(af, f"neighbor {peer} prefix-list ") if af else None
    if plist and plist.endswith(f" {direction}"):
        return [{"action": "permit", "match": _prefix_list(dev, plist.split()[0])}]
    return None


def device_cfg(dev: Device) -> dict:
    """The running configuration as cloud_state's neutral ``device_cfg``."""
    tunnels = []
    for node in _children(dev.root, "interface Tunnel"):
        name = node.text.split()[1]
        source = _child_value(node, "tunnel source ")
        if source and not re.fullmatch(IP, source):
            src_addr = _iface_address(_top(dev, f"interface {source}"))
            source = src_addr[0] if src_addr else None
        destination = _child_value(node, "tunnel destination ")
        psk, profile = _psk(dev, node, destination)
        inside = _iface_address(node)
        tunnels.append({"name": name, "destination": destination, "source": source, "psk": psk,
                        "ike_profile": profile, "protected": _child_value(node, "tunnel protection ") is not None,
                        "inside_address": inside[0] if inside else None, "inside_prefixlen": inside[1] if inside else None,
                        "shutdown": any(c.text == "shutdown" for c in node.children)})
    bgp_node = next((c for c in dev.root.children if c.text.startswith("router bgp ")), None)
    bgp = None
    if bgp_node is not None:
        af = next((c for c in bgp_node.children if c.mode == "config-router-af"), None)
        networks = []
        for c in _children(af, "network ") if af else []:
            _, addr, _, mask = c.text.split()
            networks.append(str(ipaddress.IPv4Network(f"{addr}/{mask}", strict=False)))
        neighbors = []
        for c in bgp_node.children:
            m = re.fullmatch(r"neighbor (\S+) remote-as (\d+)", c.text)
            if m:
                peer = m.group(1)
                neighbors.append({"address": peer, "remote_as": int(m.group(2)), "shutdown": False,
                                  "policy_in": _policy(dev, af, peer, "in"), "policy_out": _policy(dev, af, peer, "out")})
        bgp = {"asn": int(bgp_node.text.split()[2]), "router_id": _child_value(bgp_node, "bgp router-id "),
               "networks": networks, "neighbors": neighbors}
    return {"tunnels": tunnels, "bgp": bgp}


def ios_uptime(seconds: float) -> str:
    s = int(seconds)
    if s < 86400:
        return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
    if s < 7 * 86400:
        return f"{s // 86400}d{s % 86400 // 3600}h"
    return f"{s // (7 * 86400)}w{s % (7 * 86400) // 86400}d"


SESSION_HEADER = ["Crypto session current status", "",
                  "Code: C - IKE Configuration mode, D - Dead Peer Detection",
                  "K - Keepalives, N - NAT-traversal, T - cTCP encapsulation",
                  "X - IKE Extended Authentication, F - IKE Fragmentation",
                  "R - IKE Auto Reconnect, U - IKE Dynamic Route Update", "S - SIP VPN", ""]


def render_session_detail(cfg: dict, state: dict, since: dict[str, float], ike_lifetime: dict[str, int]) -> list[str]:
    """``show crypto session detail`` like the published IKEv2 sVTI outputs (UP-ACTIVE / UP-IDLE /
    DOWN-NEGOTIATING blocks)."""
    lines = list(SESSION_HEADER)
    for i, t in enumerate(cfg["tunnels"], start=1):
        if not t["protected"] or not t["destination"]:
            continue
        out = state["tunnels"][t["name"]]
        local, peer = t["source"] or "0.0.0.0", t["destination"]
        lines.append(f"Interface: {t['name']}")
        if out["ike"] == "up":
            up_s = since.get(f"ike:{t['name']}", 0.0)
            child_up = out["child"] == "up"
            life = max(ike_lifetime.get(t["name"], 86400) - int(up_s), 0)
            pk_in, pk_out = (4 + int(up_s // 10), 5 + int(up_s // 10)) if child_up else (0, 0)
            remaining = (f"{4608000 - pk_in // 10}/{3600 - int(up_s) % 3600}" if child_up else "0/0")
            lines += [f"Profile: {t['ike_profile']}", f"Uptime: {ios_uptime(up_s)}",
                      f"Session status: {'UP-ACTIVE' if child_up else 'UP-IDLE'}",
                      f"Peer: {peer} port 4500 fvrf: (none) ivrf: (none)",
                      f"      Phase1_id: {peer}", "      Desc: (none)", f"  Session ID: {i}",
                      f"  IKEv2 SA: local {local}/4500 remote {peer}/4500 Active",
                      f"          Capabilities:DN connid:{i} lifetime:{ios_uptime(life)}",
                      "  IPSEC FLOW: permit ip 0.0.0.0/0.0.0.0 0.0.0.0/0.0.0.0",
                      f"        Active SAs: {2 if child_up else 0}, origin: crypto map",
                      f"        Inbound:  #pkts dec'ed {pk_in} drop 0 life (KB/Sec) {remaining}",
                      f"        Outbound: #pkts enc'ed {pk_out} drop 0 life (KB/Sec) {remaining}"]
        else:
            lines += ["Session status: DOWN-NEGOTIATING", f"Peer: {peer} port 500 fvrf: (none) ivrf: (none)",
                      "      Desc: (none)", "      Phase1_id: (none)", "  Session ID: 0",
                      f"  IKEv2 SA: local {local}/500 remote {peer}/500 Inactive",
                      "          Capabilities:(none) connid:0 lifetime:0",
                      "  IPSEC FLOW: permit ip 0.0.0.0/0.0.0.0 0.0.0.0/0.0.0.0",
                      "        Active SAs: 0, origin: crypto map",
                      "        Inbound:  #pkts dec'ed 0 drop 0 life (KB/Sec) 0/0",
                      "        Outbound: #pkts enc'ed 0 drop 0 life (KB/Sec) 0/0"]
        lines.append("")
    return lines


def _best_paths(cfg: dict, state: dict, since: dict[str, float]) -> dict[str, str]:
    """prefix -> neighbor of the best path: eBGP, oldest path wins (IOS's tie-break for eBGP paths)."""
    best: dict[str, tuple[float, str]] = {}
    for n in (cfg["bgp"] or {}).get("neighbors", []):
        st = state["neighbors"][n["address"]]
        if st["state"] != "Established":
            continue
        age = since.get(f"bgp:{n['address']}", 0.0)
        for p in st["prefixes_received"]:
            if p not in best or age > best[p][0]:
                best[p] = (age, n["address"])
    return {p: v[1] for p, v in best.items()}


def render_bgp_summary(cfg: dict, state: dict, since: dict[str, float]) -> list[str]:
    """``show ip bgp summary`` in the published layout."""
    bgp = cfg["bgp"]
    if bgp is None:
        return ["% BGP not active"]
    received = _best_paths(cfg, state, since)
    entries = len(set(received) | set(bgp["networks"]))
    paths = sum(len(state["neighbors"][n["address"]]["prefixes_received"]) for n in bgp["neighbors"]
                if state["neighbors"][n["address"]]["state"] == "Established") + len(bgp["networks"])
    version = entries + 1
    lines = [f"BGP router identifier {bgp['router_id'] or '0.0.0.0'}, local AS number {bgp['asn']}",
             f"BGP table version is {version}, main routing table version {version}"]
    if entries:
        lines += [f"{entries} network entries using {entries * 248} bytes of memory",
                  f"{paths} path entries using {paths * 136} bytes of memory",
                  "2/2 BGP path/bestpath attribute entries using 576 bytes of memory",
                  "1 BGP AS-PATH entries using 24 bytes of memory",
                  "0 BGP route-map cache entries using 0 bytes of memory",
                  "0 BGP filter-list cache entries using 0 bytes of memory",
                  f"BGP using {entries * 248 + paths * 136 + 600} total bytes of memory",
                  f"BGP activity {entries}/0 prefixes, {paths}/0 paths, scan interval 60 secs"]
    lines += ["", "Neighbor        V           AS MsgRcvd MsgSent   TblVer  InQ OutQ Up/Down  State/PfxRcd"]
    for n in bgp["neighbors"]:
        st = state["neighbors"][n["address"]]
        up = st["state"] == "Established"
        age = since.get(f"bgp:{n['address']}", 0.0) if up else 0.0
        msgs = 3 + int(age // 10)
        updown = ios_uptime(age) if up else "never"
        row = f"{n['address']:<15} 4 {n['remote_as']:>12} "
        if up:
            row += f"{msgs:>7} {msgs + 1:>7} {version:>8} {0:>4} {0:>4} {updown:<8} {len(st['prefixes_received']):>8}"
        else:
            row += f"{0:>7} {0:>7} {1:>8} {0:>4} {0:>4} {updown:<8} {st['state']}"
        lines.append(row)
    return lines


BGP_TABLE_HEADER = ["Status codes: s suppressed, d damped, h history, * valid, > best, i - internal,",
                    "              r RIB-failure, S Stale, m multipath, b backup-path, f RT-Filter,",
                    "              x best-external, a additional-path, c RIB-compressed,",
                    "              t secondary path,",
                    "Origin codes: i - IGP, e - EGP, ? - incomplete",
                    "RPKI validation codes: V valid, I invalid, N Not found", "",
                    "     Network          Next Hop            Metric LocPrf Weight Path"]


def _bgp_row(best: bool, network: str, next_hop: str, metric: str, weight: str, path: str) -> list[str]:
    head = f" *{'>' if best else ' '}   "
    tail = f"{next_hop:<15} {metric:>10} {'':>6} {weight:>6} {(path + ' ') if path else ''}i"
    if len(network) > 16:
        return [head + network, " " * 23 + tail]
    return [f"{head}{network:<16} {tail}"]


def render_bgp_table(cfg: dict, state: dict, since: dict[str, float], peer: str, which: str) -> list[str]:
    """``show ip bgp neighbors X routes|received-routes|advertised-routes`` in the published layout."""
    bgp = cfg["bgp"]
    if bgp is None:
        return ["% BGP not active"]
    if peer not in state["neighbors"]:
        return ["% No such neighbor or address family"]
    st = state["neighbors"][peer]
    if st["state"] != "Established":
        return ["", "Total number of prefixes 0"]
    version = len(set(_best_paths(cfg, state, since)) | set(bgp["networks"])) + 1
    rows: list[str] = []
    if which == "advertised-routes":
        prefixes = st["prefixes_sent"]
        for p in prefixes:
            rows += _bgp_row(True, p, "0.0.0.0", "0", "32768", "")
    else:
        best = _best_paths(cfg, state, since)
        prefixes = st["prefixes_received"]
        for p in prefixes:
            rows += _bgp_row(best.get(p) == peer, p, peer, "100", "0", str(state.get("cloud_asn") or ""))
    return ([f"BGP table version is {version}, local router ID is {bgp['router_id'] or '0.0.0.0'}"] + BGP_TABLE_HEADER
            + rows + ["", f"Total number of prefixes {len(prefixes)}"])


ROUTE_CODES = ["Codes: L - local, C - connected, S - static, R - RIP, M - mobile, B - BGP",
               "       D - EIGRP, EX - EIGRP external, O - OSPF, IA - OSPF inter area",
               "       N1 - OSPF NSSA external type 1, N2 - OSPF NSSA external type 2",
               "       E1 - OSPF external type 1, E2 - OSPF external type 2, m - OMP",
               "       n - NAT, Ni - NAT inside, No - NAT outside, Nd - NAT DIA",
               "       i - IS-IS, su - IS-IS summary, L1 - IS-IS level-1, L2 - IS-IS level-2",
               "       ia - IS-IS inter area, * - candidate default, U - per-user static route",
               "       H - NHRP, G - NHRP registered, g - NHRP registration summary",
               "       o - ODR, P - periodic downloaded static route, l - LISP",
               "       a - application route",
               "       + - replicated route, % - next hop override, p - overrides from PfR",
               "       & - replicated local route overrides by connected", ""]


def _major(net: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
    first = int(net.network_address) >> 24
    length = 8 if first < 128 else 16 if first < 192 else 24
    return ipaddress.IPv4Network(f"{net.network_address}/{length}", strict=False)


def render_ip_route(dev: Device, cfg: dict, state: dict, since: dict[str, float]) -> list[str]:
    """``show ip route`` (connected/local, static, BGP) in the published IOS-XE layout."""
    up_ifs: dict[str, bool] = {}
    routes: list[tuple[ipaddress.IPv4Network, str, str]] = []  # (prefix, code, rest of the line)
    tunnels = {t["name"]: t for t in cfg["tunnels"]}
    for node in _children(dev.root, "interface "):
        name = node.text.split()[1]
        shut = any(c.text == "shutdown" for c in node.children)
        up = not shut and (name not in tunnels or state["tunnels"][name]["child"] == "up")
        up_ifs[name] = up
        addr = _iface_address(node)
        if up and addr:
            iface = ipaddress.IPv4Interface(f"{addr[0]}/{addr[1]}")
            routes.append((iface.network, "C", f"is directly connected, {name}"))
            if addr[1] < 32:
                routes.append((ipaddress.IPv4Network(f"{addr[0]}/32"), "L", f"is directly connected, {name}"))
    statics: dict[ipaddress.IPv4Network, tuple[int, str]] = {}
    for node in _children(dev.root, "ip route "):
        m = re.fullmatch(rf"ip route ({IP}) ({IP}) (\S+)(?: (\d+))?(?: name \S+)?", node.text)
        if not m:
            continue
        net = ipaddress.IPv4Network(f"{m.group(1)}/{m.group(2)}", strict=False)
        target, dist = m.group(3), int(m.group(4) or 1)
        if not re.fullmatch(IP, target) and not up_ifs.get(target):
            continue
        rest = f"is directly connected, {target}" if not re.fullmatch(IP, target) else f"[{dist}/0] via {target}"
        if net not in statics or dist < statics[net][0]:
            statics[net] = (dist, rest)
    routes += [(net, "S", rest) for net, (_, rest) in statics.items()]
    taken = {r[0] for r in routes}
    for p, peer in _best_paths(cfg, state, since).items():
        net = ipaddress.IPv4Network(p)
        if net not in taken:
            age = since.get(f"bgp:{peer}", 0.0)
            routes.append((net, "B", f"[20/0] via {peer}, {ios_uptime(age)}"))
    lines = list(ROUTE_CODES) + ["Gateway of last resort is not set", ""]
    groups: dict[ipaddress.IPv4Network, list[tuple[ipaddress.IPv4Network, str, str]]] = {}
    for r in routes:
        groups.setdefault(_major(r[0]), []).append(r)
    for major in sorted(groups):
        members = sorted(groups[major], key=lambda r: (r[0].network_address, r[0].prefixlen))
        inside = [r for r in members if r[0].prefixlen >= major.prefixlen]
        masks = {r[0].prefixlen for r in inside}
        short = False
        if any(length > major.prefixlen for length in masks):
            if len(masks) > 1:
                lines.append(f"      {major} is variably subnetted, {len(inside)} subnets, {len(masks)} masks")
            else:
                lines.append(f"      {major.network_address}/{min(masks)} is subnetted, {len(inside)} subnets")
                short = True
        for net, code, rest in members:
            shown = str(net.network_address) if short and net.prefixlen >= major.prefixlen else str(net)
            lines.append(f"{code:<9}{shown} {rest}")
    return lines


# ---------------------------------------------------------------- the SSH server
REVERT_COMMAND = re.compile(r"configure confirm|configure revert (?:now|timer \d+)|sh(?:ow)? archive config rollback timer")
class Server:
    def __init__(self, state_dir: Path, username: str, password: str, enable_secret: str, hostname: str,
                 initial: str, lab_state: str = cloud_state.DEFAULT_STATE) -> None:
        self.state_dir = state_dir
        self.lab_state = lab_state
        self.up_since: dict[str, float] = {}  # "ike:Tunnel1" / "bgp:169.254.x.1" -> monotonic time it came up
        self.username = username
        self.password = password
        self.enable_secret = enable_secret
        running = state_dir / "running.cfg"
        self.device = Device(hostname, initial)
        if running.exists():  # survive a restart of the simulator (not a reboot: keeps running config)
            self.device = Device(hostname)
            self.device.root.children.clear()
            self.device.load(running.read_text())
        startup = state_dir / "startup.cfg"
        self.device.startup_text = startup.read_text() if startup.exists() else self.device.running_config()
        self.lock = asyncio.Lock()
        self.minute_s = 60.0
        self.revert: dict | None = None  # {"snapshot": running config text, "deadline": monotonic, "minutes": N}

    def archive_path(self) -> str | None:
        return _child_value(self.device.root.find("archive"), "path ")

    def start_revert_timer(self, minutes: int) -> None:
        if self.revert is None:
            self.revert = {"snapshot": self.device.running_config()}
        self.revert.update(deadline=time.monotonic() + minutes * self.minute_s, minutes=minutes)

    def revert_now(self, why: str) -> None:
        """Put the archived configuration back (the revert timer expired, or ``configure revert now``)."""
        if self.revert is None:
            return
        snapshot = self.revert["snapshot"]
        self.revert = None
        self.device.root.children.clear()
        self.device.load(snapshot)
        self.device._changed()
        self.persist()
        print(f"%ARCHIVE_DIFF-5-ROLLBK_CNFRM_TIMER_EXPIRED: {why}: rolled back to the archived configuration",
              flush=True)

    async def revert_watch(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            if self.revert is not None and time.monotonic() >= self.revert["deadline"]:
                async with self.lock:
                    self.revert_now("the confirm timer expired")

    def revert_command(self, line: str) -> list[str] | None:
        """``configure confirm`` / ``configure revert now|timer N`` / ``show archive config rollback timer``."""
        none = ["%No Rollback Confirmed Change pending"]
        if line == "configure confirm":
            if self.revert is None:
                return none
            self.revert = None
            return []
        if line == "configure revert now":
            if self.revert is None:
                return none
            self.revert_now("configure revert now")
            return ["Rollback Done"]
        m = re.fullmatch(r"configure revert timer (\d+)", line)
        if m:
            if self.revert is None:
                return none
            self.start_revert_timer(int(m.group(1)))
            return []
        if re.fullmatch(r"sh(ow)? archive config rollback timer", line):
            if self.revert is None:
                return none
            left = max(0, int(self.revert["deadline"] - time.monotonic()))
            return ["Timer type: Confirmed Change", f"Timer value: {self.revert['minutes']} min",
                    f"Time remaining: {left // 60:02d}:{left % 60:02d}"]
        return None

    def persist(self) -> None:
        tmp = self.state_dir / "running.cfg.tmp"
        tmp.write_text(self.device.running_config())
        os.chmod(tmp, 0o600)
        tmp.replace(self.state_dir / "running.cfg")

    def take_fault(self) -> dict:
        path = self.state_dir / "faults.json"
        try:
            faults = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        path.unlink(missing_ok=True)
        return faults

    async def session(self, process: asyncssh.SSHServerProcess) -> None:
        """One SSH session: exec mode, enable, configuration mode (``stack`` non-empty)."""

        dev = self.device
        privileged = False
        stack: list[Node] = []
        config_lines = 0
        drop_after: int | None = None
        out = process.stdout

        def prompt() -> str:
            if stack:
                return f"{dev.hostname}{PROMPTS[stack[-1].mode or 'config']}#"
            return f"{dev.hostname}{'#' if privileged else '>'}"

        out.write(f"\r\n{dev.hostname} -- stowpath IOS-XE CLI SIMULATOR (not Cisco IOS-XE)\r\n\r\n{prompt()}")
        try:
            while True:
                try:
                    raw = await process.stdin.readline()
                except asyncssh.TerminalSizeChanged:
                    continue
                except (asyncssh.Error, OSError, asyncio.IncompleteReadError):
                    break
                if raw == "":
                    break
                ctrl_z = "\x1a" in raw
                line = _norm(raw.replace("\x1a", ""))
                reply: list[str] = []
                if stack:
                    if line:
                        config_lines += 1
                    if drop_after is not None and config_lines > drop_after:
                        # simulated loss of the connection in the middle of a push (the whole SSH connection)
                        process.get_extra_info("connection").abort()
                        return
                    if ctrl_z or line == "end":
                        stack.clear()
                    elif not line or line.startswith("!"):
                        pass
                    elif line == "exit":
                        stack.pop()
                        if len(stack) == 0:
                            pass
                    elif line == "exit-address-family":
                        if stack[-1].mode == "config-router-af":
                            stack.pop()
                    elif line.startswith("do "):
                        reply += self.exec_command(line[3:], True)
                    else:
                        async with self.lock:
                            try:
                                dev.execute(stack, line)
                                self.persist()
                            except CliError as exc:
                                if str(exc) == INVALID:
                                    reply += [" " * (len(prompt()) + 1) + "^", INVALID]
                                else:
                                    reply.append(str(exc))
                elif not line:
                    pass
                elif not privileged:
                    if line in ("enable", "en"):
                        out.write("Password: ")
                        process.channel.set_echo(False)
                        secret = (await process.stdin.readline()).strip()
                        process.channel.set_echo(True)
                        out.write("\r\n")
                        if secret == self.enable_secret:
                            privileged = True
                        else:
                            reply.append("% Access denied")
                    elif line in ("exit", "logout", "quit"):
                        break
                    else:
                        reply += self.exec_command(line, False)
                elif (line in ("configure terminal", "conf t", "config t", "configure t")
                      or re.fullmatch(r"configure terminal revert timer \d+", line)):
                    timer = re.fullmatch(r"configure terminal revert timer (\d+)", line)
                    if timer and not 1 <= int(timer.group(1)) <= 120:
                        reply.append(INVALID)
                    elif timer and self.archive_path() is None:
                        reply.append("% Archive is not configured: configure 'archive' with a 'path' first")
                    else:
                        if timer:
                            async with self.lock:
                                self.start_revert_timer(int(timer.group(1)))
                        reply.append("Enter configuration commands, one per line.  End with CNTL/Z.")
                        stack = [dev.root]
                        drop_after = self.take_fault().get("drop_after_config_lines")
                        config_lines = 0
                elif REVERT_COMMAND.fullmatch(line):
                    async with self.lock:
                        reply += self.revert_command(line) or []
                elif line in ("exit", "logout", "quit"):
                    break
                elif line == "disable":
                    privileged = False
                else:
                    reply += self.exec_command(line, True)
                out.write("".join(r + "\r\n" for r in reply) + prompt())
        finally:
            if not process.channel.is_closing():
                process.exit(0)

    def operational(self) -> tuple[dict, dict, dict[str, float]]:
        """(device_cfg, evaluated state, seconds each tunnel/neighbor has been up), re-reading the lab cloud."""
        cfg = device_cfg(self.device)
        cloud = cloud_state.load_cloud(self.lab_state)
        state = cloud_state.evaluate(cfg, cloud)
        state["cloud_asn"] = cloud.get("asn")
        now = time.monotonic()
        up = {f"ike:{k}" for k, v in state["tunnels"].items() if v["ike"] == "up"}
        up |= {f"bgp:{k}" for k, v in state["neighbors"].items() if v["state"] == "Established"}
        for key in list(self.up_since):
            if key not in up:
                del self.up_since[key]
        for key in up:
            self.up_since.setdefault(key, now)
        return cfg, state, {k: now - v for k, v in self.up_since.items()}

    def _ike_lifetimes(self, cfg: dict) -> dict[str, int]:
        return {t["name"]: int(_child_value(_top(self.device, f"crypto ikev2 profile {t['ike_profile']}"), "lifetime ")
                               or 86400) for t in cfg["tunnels"]}

    def show_state(self, line: str) -> list[str] | None:
        """The operational show commands (simulated state), or None for any other command."""
        if re.fullmatch(r"sh(ow)? cry(pto)? se(ssion)? d(etail)?", line):
            cfg, state, since = self.operational()
            return render_session_detail(cfg, state, since, self._ike_lifetimes(cfg))
        if re.fullmatch(r"sh(ow)? ip bgp sum(mary)?", line):
            return render_bgp_summary(*self.operational())
        m = re.fullmatch(rf"sh(ow)? ip bgp nei(ghbors)? ({IP}) (routes|received-routes|advertised-routes)", line)
        if m:
            return render_bgp_table(*self.operational(), m.group(3), m.group(4))
        if re.fullmatch(r"sh(ow)? ip ro(ute)?", line):
            return render_ip_route(self.device, *self.operational())
        return None

    def exec_command(self, line: str, privileged: bool) -> list[str]:
        dev = self.device
        shown = self.show_state(line)
        if shown is not None:
            return shown
        if re.fullmatch(r"terminal (length|width) \d+|terminal no monitor|terminal monitor", line):
            return []
        if re.fullmatch(r"show run(ning-config)?(?: \| .*)?", line) and privileged:
            return dev.running_config().splitlines()
        m = re.fullmatch(r"show (?:ip )?access-lists (\S+)", line)
        if m:
            acl = dev.root.find(f"ip access-list extended {m.group(1)}")
            if acl is None:
                return []
            seqs = sorted((int(c.key.split()[1]), c.text) for c in acl.children if c.key.startswith("seq "))
            return [f"Extended IP access list {m.group(1)}"] + [f"    {n} {text}" for n, text in seqs]
        if re.fullmatch(r"show start(up-config)?", line) and privileged:
            return (dev.startup_text or "startup-config is not present").splitlines()
        if re.fullmatch(r"show ver(sion)?", line):
            return ["Cisco IOS XE Software, Version 17.09.04a (stowpath CLI SIMULATOR, not Cisco software)",
                    f"{dev.hostname} uptime is 1 hour", "cisco C8000V (VXE) processor"]
        if re.fullmatch(r"(write( mem(ory)?)?|wr|copy run(ning-config)? start(up-config)?)", line) and privileged:
            dev.startup_text = dev.running_config()
            path = self.state_dir / "startup.cfg"
            path.write_text(dev.startup_text)
            os.chmod(path, 0o600)
            return ["Building configuration...", "[OK]"]
        return [INVALID]


async def serve(args: argparse.Namespace) -> None:
    state_dir: Path = args.state_dir
    initial = Path(args.initial_config).read_text() if args.initial_config else ""
    server = Server(state_dir, args.username, args.password, args.enable_secret, args.hostname, initial,
                    args.lab_state)
    server.minute_s = args.minute_s
    server.persist()
    watcher = asyncio.get_running_loop().create_task(server.revert_watch())  # noqa: F841 - lives with the loop
    hostkey = state_dir / "ssh_host_key"
    if not hostkey.exists():
        asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(hostkey))

    class Auth(asyncssh.SSHServer):
        def begin_auth(self, username: str) -> bool:
            return True

        def password_auth_supported(self) -> bool:
            return True

        def validate_password(self, username: str, password: str) -> bool:
            ok = username == server.username and password == server.password
            print(f"auth {'ok' if ok else 'FAILED'} user={username}", flush=True)
            return ok

    await asyncssh.create_server(
        Auth, "127.0.0.1", args.port, server_host_keys=[str(hostkey)],
        process_factory=server.session, line_editor=True, encoding="utf-8",
    )
    (state_dir / "ready").write_text(str(os.getpid()))
    await asyncio.Event().wait()


# ---------------------------------------------------------------- start / stop / status
def _state(state_dir: Path) -> dict:
    try:
        return json.loads((state_dir / "state.json").read_text())
    except (OSError, ValueError):
        return {}


def _alive(pid: int) -> bool:
    try:
        return "iosxe_sim.py" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(args: argparse.Namespace) -> dict:
    state_dir: Path = args.state_dir
    old = _state(state_dir)
    if old and _alive(old["pid"]):
        return status(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(state_dir, 0o700)
    (state_dir / "ready").unlink(missing_ok=True)
    if args.fresh:
        for name in ("running.cfg", "startup.cfg", "faults.json"):
            (state_dir / name).unlink(missing_ok=True)
    port = args.port or free_port()
    cmd = [sys.executable, str(Path(__file__).resolve()), "serve", "--state-dir", str(state_dir), "--port", str(port),
           "--username", args.username, "--hostname", args.hostname, "--lab-state", args.lab_state]
    if args.initial_config:
        cmd += ["--initial-config", str(args.initial_config)]
    cmd += ["--minute-s", str(args.minute_s)]
    env = {**os.environ, "IOSXE_SIM_PASSWORD": args.password, "IOSXE_SIM_ENABLE": args.enable_secret}
    log = open(state_dir / "sim.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, env=env)
    deadline = time.monotonic() + 20
    while not ((state_dir / "ready").exists() and _port_open(port)):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("simulator did not start: " + (state_dir / "sim.log").read_text()[-2000:])
        time.sleep(0.05)
    state = {"target": "stowpath IOS-XE CLI SIMULATOR (asyncssh), not Cisco IOS-XE", "host": "127.0.0.1",
             "port": port, "username": args.username, "pid": proc.pid, "device_type": "cisco_ios"}
    (state_dir / "state.json").write_text(json.dumps(state, indent=2))
    if args.known_hosts:
        _add_known_host(Path(args.known_hosts), port, state_dir / "ssh_host_key")
    return status(state_dir)


def _add_known_host(path: Path, port: int, hostkey: Path) -> None:
    """Record the simulator's host key as ``[127.0.0.1]:PORT`` in ``path`` (replacing an older line)."""
    public = asyncssh.read_private_key(str(hostkey)).export_public_key("openssh").decode().split()[:2]
    name = f"[127.0.0.1]:{port}"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = path.read_text().splitlines() if path.exists() else []
    lines = [ln for ln in lines if ln.split(" ", 1)[0] != name] + [f"{name} {' '.join(public)}"]
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def stop(state_dir: Path) -> dict:
    state = _state(state_dir)
    pid = state.get("pid")
    if pid and _alive(pid):
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            if not _alive(pid):
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
    (state_dir / "state.json").unlink(missing_ok=True)
    return {"up": False}


def status(state_dir: Path) -> dict:
    state = _state(state_dir)
    if not state:
        return {"up": False}
    return {**state, "up": _alive(state["pid"]) and _port_open(state["port"])}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=("start", "stop", "status", "serve"))
    ap.add_argument("--state-dir", type=Path, default=DEFAULT_STATE)
    ap.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 = pick a free port")
    ap.add_argument("--username", default="stowpath")
    ap.add_argument("--password", default=os.environ.get("IOSXE_SIM_PASSWORD", "stowpath-lab-cli"))
    ap.add_argument("--enable-secret", default=os.environ.get("IOSXE_SIM_ENABLE", "stowpath-lab-enable"))
    ap.add_argument("--hostname", default="iosxe-sim")
    ap.add_argument("--initial-config", help="extra IOS config loaded at first start (e.g. conflicting objects)")
    ap.add_argument("--fresh", action="store_true", help="forget the saved running/startup config")
    ap.add_argument("--known-hosts", help="record the simulator's SSH host key in this known_hosts file")
    ap.add_argument("--minute-s", type=float, default=60.0,
                    help="seconds in one minute of the revert timer (tests shorten it)")
    ap.add_argument("--lab-state", default=os.environ.get("STOWPATH_LAB_STATE", cloud_state.DEFAULT_STATE),
                    help="the lab's state directory: the simulated tunnels and BGP follow its cloud")
    args = ap.parse_args(argv)
    if args.action == "serve":
        asyncio.run(serve(args))
        return 0
    if args.action == "start":
        result = start(args)
    elif args.action == "stop":
        result = stop(args.state_dir)
    else:
        result = status(args.state_dir)
    print(json.dumps(result, indent=2))
    return 0 if (result.get("up") or args.action == "stop") else 1


if __name__ == "__main__":
    sys.exit(main())
