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

What it does not: any data plane, IKE, BGP sessions, most IOS commands, ``configure replace``.
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

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STATE = ROOT / ".lab" / "vendor" / "iosxe-sim"
DEFAULT_PORT = 8022
INVALID = "% Invalid input detected at '^' marker."
INCOMPLETE = "% Incomplete command."
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
        Rule(r"hostname (\S+)", "hostname", check="hostname"),
        Rule(r"service password-encryption", "{0}"),
        Rule(r"crypto ikev2 proposal (\S+)", "{0}", "config-ikev2-proposal"),
        Rule(r"crypto ikev2 policy (\S+)", "{0}", "config-ikev2-policy"),
        Rule(r"crypto ikev2 keyring (\S+)", "{0}", "config-ikev2-keyring"),
        Rule(r"crypto ikev2 profile (\S+)", "{0}", "config-ikev2-profile"),
        Rule(rf"crypto ipsec transform-set (\S+) {ESP}(?: {ESP_HMAC})?", "crypto ipsec transform-set {1}",
             "cfg-crypto-trans"),
        Rule(r"crypto ipsec profile (\S+)", "{0}", "ipsec-profile"),
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


# ---------------------------------------------------------------- the SSH server
class Server:
    def __init__(self, state_dir: Path, username: str, password: str, enable_secret: str, hostname: str,
                 initial: str) -> None:
        self.state_dir = state_dir
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
                elif line in ("configure terminal", "conf t", "config t", "configure t"):
                    reply.append("Enter configuration commands, one per line.  End with CNTL/Z.")
                    stack = [dev.root]
                    drop_after = self.take_fault().get("drop_after_config_lines")
                    config_lines = 0
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

    def exec_command(self, line: str, privileged: bool) -> list[str]:
        dev = self.device
        if re.fullmatch(r"terminal (length|width) \d+|terminal no monitor|terminal monitor", line):
            return []
        if re.fullmatch(r"show run(ning-config)?(?: \| .*)?", line) and privileged:
            return dev.running_config().splitlines()
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
    server = Server(state_dir, args.username, args.password, args.enable_secret, args.hostname, initial)
    server.persist()
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
           "--username", args.username, "--hostname", args.hostname]
    if args.initial_config:
        cmd += ["--initial-config", str(args.initial_config)]
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
    return status(state_dir)


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
