"""Cross-reference lint for rendered vendor configs: everything referenced is defined, and the reverse.

Rules are data per platform: ``(kind, regex)`` pairs whose first group is the object's name. Used by
the tests on every rendered artifact, and usable before a push (an undefined IPsec profile or an
unbound tunnel is caught offline).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# IOS-XE: ciscoconfparse-style hierarchy is not needed for names; each rule matches one line.
IOS_DEFINES = [
    ("ikev2-proposal", r"^crypto ikev2 proposal (\S+)$"),
    ("ikev2-keyring", r"^crypto ikev2 keyring (\S+)$"),
    ("ikev2-profile", r"^crypto ikev2 profile (\S+)$"),
    ("transform-set", r"^crypto ipsec transform-set (\S+) "),
    ("ipsec-profile", r"^crypto ipsec profile (\S+)$"),
    ("acl", r"^ip access-list extended (\S+)$"),
    ("prefix-list", r"^ip prefix-list (\S+) seq"),
    ("route-map", r"^route-map (\S+) permit"),
    ("interface", r"^interface (Tunnel\d+)$"),
    ("neighbor", r"^ neighbor (\S+) remote-as"),
]
IOS_REFERENCES = [
    ("ikev2-proposal", r"^ proposal (\S+)$"),
    ("ikev2-keyring", r"^ keyring local (\S+)$"),
    ("ikev2-profile", r"^ set ikev2-profile (\S+)$"),
    ("transform-set", r"^ set transform-set (\S+)$"),
    ("ipsec-profile", r"^ tunnel protection ipsec profile (\S+)$"),
    ("acl", r"^ ip access-group (\S+) (?:in|out)$"),
    ("prefix-list", r"^ match ip address prefix-list (\S+)$"),
    ("route-map", r"^  neighbor \S+ route-map (\S+) (?:in|out)$"),
    ("interface", r"^ip route \S+ \S+ (Tunnel\d+)"),
    ("neighbor", r"^  neighbor (\S+) activate$"),
]
# Junos set form.
JUNOS_DEFINES = [
    ("ike-proposal", r"^set security ike proposal (\S+) "),
    ("ike-policy", r"^set security ike policy (\S+) "),
    ("ike-gateway", r"^set security ike gateway (\S+) "),
    ("ipsec-proposal", r"^set security ipsec proposal (\S+) "),
    ("ipsec-policy", r"^set security ipsec policy (\S+) "),
    ("st0", r"^set interfaces st0 unit (\d+) family inet address"),
    ("policy-statement", r"^set policy-options policy-statement (\S+) "),
    ("address", r"^set security address-book global address (\S+) \d"),
    ("address-set", r"^set security address-book global address-set (\S+) "),
    ("ipsec-vpn", r"^set security ipsec vpn (\S+) "),
]
JUNOS_REFERENCES = [
    ("ike-proposal", r"^set security ike policy \S+ proposals (\S+)$"),
    ("ike-policy", r"^set security ike gateway \S+ ike-policy (\S+)$"),
    ("ike-gateway", r"^set security ipsec vpn \S+ ike gateway (\S+)$"),
    ("ipsec-proposal", r"^set security ipsec policy \S+ proposals (\S+)$"),
    ("ipsec-policy", r"^set security ipsec vpn \S+ ike ipsec-policy (\S+)$"),
    ("st0", r"^set security ipsec vpn \S+ bind-interface st0\.(\d+)$"),
    ("st0", r"^set security zones security-zone \S+ interfaces st0\.(\d+)$"),
    ("policy-statement", r"^set protocols bgp group \S+ (?:import|export) (\S+)$"),
    ("address", r"^set security address-book global address-set \S+ address (\S+)$"),
    ("address-set", r"^set security policies .* match (?:source|destination)-address (stowpath-\S+)$"),
]
# Objects that are used by being there (a VPN is the root of its chain).
ROOTS = {"ipsec-vpn", "interface"}  # a tunnel interface is used by the BGP session over it
RULES = {
    "cisco_iosxe": (IOS_DEFINES, IOS_REFERENCES),
    "junos": (JUNOS_DEFINES, JUNOS_REFERENCES),
}


@dataclass(frozen=True)
class XrefProblem:
    kind: str
    name: str
    problem: str  # "referenced but not defined" | "defined but never used"

    def __str__(self) -> str:
        return f"{self.kind} {self.name}: {self.problem}"


def _collect(lines: list[str], rules: list[tuple[str, str]]) -> set[tuple[str, str]]:
    found = set()
    for kind, pattern in rules:
        rx = re.compile(pattern)
        for line in lines:
            m = rx.search(line)
            if m:
                found.add((kind, m.group(1)))
    return found


def check(platform: str, config: str) -> list[XrefProblem]:
    """Every cross-reference problem in a rendered config of ``platform`` (empty list: clean)."""
    defines, references = RULES[platform]
    lines = [line.rstrip() for line in config.splitlines()]
    defined = _collect(lines, defines)
    referenced = _collect(lines, references)
    problems = [XrefProblem(k, n, "referenced but not defined") for k, n in sorted(referenced - defined)]
    problems += [XrefProblem(k, n, "defined but never used") for k, n in sorted(defined - referenced) if k not in ROOTS]
    return problems
