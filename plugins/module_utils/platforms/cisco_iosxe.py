"""Cisco IOS-XE driver: hier_config rules (as data), scoped remediation, secret normalisation,
show-output parsers and the NETCONF namespaces of the native model.

Remediation is computed between the device's running configuration and stowpath's intended snippet
(``build/<host>/config.cfg``), restricted to the sections stowpath owns:

* *owned* sections (``STOWPATH-*`` crypto objects, ACLs, prefix-lists, route-maps, the tunnel
  interfaces of the snippet, ``ip route ... name stowpath-*``): stowpath may create, change and
  remove them;
* *shared* sections (``router bgp N``, the WAN interface): stowpath only adds/changes its own
  lines and removes only lines it applied before (``previous``), never the facility's other lines.

A section that exists on the device with the same name but different content, and that stowpath did
not apply before, is a *conflict*: reported, and only overwritten in ``replace`` mode.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from hier_config import HConfig, MatchRule, get_hconfig
from hier_config.models import IdempotentCommandsRule, OrderingRule, PerLineSubRule
from hier_config.platforms.cisco_ios.driver import HConfigDriverCiscoIOS
from hier_config.platforms.driver_base import HConfigDriverRules

from ..redact import MASK, mask_secrets, mask_with

PLATFORM = "cisco_iosxe"
NATIVE_NS = "http://cisco.com/ns/yang/Cisco-IOS-XE-native"
TYPE7_XLAT = "dsfd;kfoA,.iyewrkldJKDHSUBsgvca69834ncxv9873254k;fg87"

# ---------------------------------------------------------------- rules as data
# Top-level lines stowpath owns outright (besides the tunnel interfaces named in the snippet).
OWNED_PATTERNS: tuple[str, ...] = (
    r"^crypto ikev2 (proposal|policy|keyring|profile) STOWPATH-",
    r"^crypto ipsec (transform-set|profile) STOWPATH-",
    r"^ip access-list extended STOWPATH-",
    r"^ip prefix-list STOWPATH-",
    r"^route-map STOWPATH-",
    r"^ip route .* name stowpath-",
)
# (parent startswith, child regex): idempotent commands -- the new value replaces the old one, no "no".
IDEMPOTENT: tuple[tuple[str | None, str], ...] = (
    (None, r"^crypto ipsec transform-set (\S+) "),
    (None, r"^hostname "),
    ("crypto ikev2 policy ", r"^match address local "),
    ("crypto ikev2 profile ", r"^match address local "),
    ("crypto ikev2 profile ", r"^identity local "),
    ("crypto ikev2 profile ", r"^authentication (local|remote) "),
    ("crypto ikev2 profile ", r"^keyring local "),
    ("crypto ikev2 profile ", r"^lifetime "),
    ("crypto ikev2 profile ", r"^dpd "),
    ("crypto ipsec transform-set ", r"^mode "),
    ("crypto ipsec profile ", r"^set transform-set "),
    ("crypto ipsec profile ", r"^set pfs "),
    ("crypto ipsec profile ", r"^set security-association lifetime seconds "),
    ("crypto ipsec profile ", r"^set ikev2-profile "),
    ("interface ", r"^description "),
    ("interface ", r"^ip address "),
    ("interface ", r"^ip access-group \S+ (in|out)$"),
    ("interface ", r"^ip tcp adjust-mss "),
    ("interface ", r"^tunnel source "),
    ("interface ", r"^tunnel destination "),
    ("interface ", r"^tunnel mode "),
    ("interface ", r"^tunnel protection ipsec profile "),
    ("interface ", r"^encapsulation dot1Q "),
    ("route-map ", r"^match ip address prefix-list "),
    ("router bgp ", r"^bgp router-id "),
    ("router bgp ", r"^neighbor (\S+) remote-as "),
    ("router bgp ", r"^neighbor (\S+) description "),
    ("router bgp ", r"^neighbor (\S+) timers "),
    ("router bgp ", r"^neighbor (\S+) password "),
)
IDEMPOTENT_AF: tuple[str, ...] = (r"^neighbor (\S+) route-map \S+ (in|out)$",)
# Removal order: references first, then what they referenced (IOS refuses the reverse).
ORDERING: tuple[tuple[str, int], ...] = (
    ("no interface Tunnel", 100),
    ("no crypto ipsec profile ", 200),
    ("no crypto ipsec transform-set ", 300),
    ("no crypto ikev2 profile ", 300),
    ("no crypto ikev2 keyring ", 400),
    ("no crypto ikev2 policy ", 400),
    ("no crypto ikev2 proposal ", 500),
    ("no route-map ", 200),
    ("no ip prefix-list ", 300),
    ("no ip access-list extended ", 300),
)
# Lines the device shows that are never part of our comparison.
IGNORED_LINES: tuple[str, ...] = (
    r"^Building configuration", r"^Current configuration", r"^! Last configuration change", r"^version ",
    r"^service timestamps ", r"^end$",
)
SECRET_LINE = re.compile(r"^(?P<head>(?:pre-shared-key(?: local| remote)?|neighbor \S+ password)) "
                         r"(?:(?P<type>[067]) )?(?P<secret>\S+)$")


class StowpathIOSXEDriver(HConfigDriverCiscoIOS):
    """hier_config's IOS driver plus the IOS-XE crypto/BGP rules stowpath needs."""

    @staticmethod
    def _instantiate_rules() -> HConfigDriverRules:
        rules = HConfigDriverCiscoIOS._instantiate_rules()
        for parent, child in IDEMPOTENT:
            lineage = (MatchRule(re_search=child),) if parent is None else (
                MatchRule(startswith=parent), MatchRule(re_search=child))
            rules.idempotent_commands.append(IdempotentCommandsRule(match_rules=lineage))
        for child in IDEMPOTENT_AF:
            rules.idempotent_commands.append(IdempotentCommandsRule(match_rules=(
                MatchRule(startswith="router bgp "), MatchRule(startswith="address-family "),
                MatchRule(re_search=child))))
        for prefix, weight in ORDERING:
            rules.ordering.append(OrderingRule(match_rules=(MatchRule(startswith=prefix),), weight=weight))
        for pattern in IGNORED_LINES:
            rules.per_line_sub.append(PerLineSubRule(search=pattern, replace=""))
        return rules


_DRIVER = StowpathIOSXEDriver()


# ---------------------------------------------------------------- secrets
# IOS / IOS-XE CLI forms (cisco_iosxe's rules): every secret statement the platform has.
SECRET_RULES = [
    re.compile(r"(\benable[ \t]+(?:secret|password)[ \t]+(?:level[ \t]+\d+[ \t]+)?(?:[0-9][ \t]+)?)(?!level\b)(\S+)"),
    re.compile(r"(\busername[ \t]+\S+(?:[ \t]+privilege[ \t]+\d+)?(?:[ \t]+algorithm-type[ \t]+\S+)?[ \t]+(?:secret|password)[ \t]+"
               r"(?:[0-9][ \t]+)?)(\S+)"),
    re.compile(r"(\bsnmp-server[ \t]+community[ \t]+)(\S+)"),
    re.compile(r"(\bsnmp-server[ \t]+user[ \t]+\S+[ \t]+\S+(?:[ \t]+v3)?[ \t]+auth[ \t]+\S+[ \t]+)(\S+)"),
    re.compile(r"(\bpriv[ \t]+(?:des|3des|aes[ \t]+\d+)[ \t]+)(\S+)"),
    re.compile(r"(\b(?:tacacs|radius)-server[ \t]+(?:host[ \t]+\S+[ \t]+)?key[ \t]+(?:[0-7][ \t]+)?)(\S+)"),
    re.compile(r"(^[ \t]*(?:server-private[ \t]+\S+[ \t]+)?key[ \t]+(?:[0-7][ \t]+)?)(?!chain\b|config-key\b|string\b|\d+[ \t]*$)(\S+)",
               re.M),
    re.compile(r"(\bcrypto[ \t]+isakmp[ \t]+key[ \t]+(?:[0-7][ \t]+)?)(\S+)"),
    re.compile(r"(\bkey-string[ \t]+(?:[0-7][ \t]+)?)(\S+)"),
    re.compile(r"((?<!ntp )\bauthentication-key[ \t]+(?:[0-7][ \t]+)?)(?![0-9]+[ \t]+md5\b)(\S+)"),
    re.compile(r"(\bmessage-digest-key[ \t]+\d+[ \t]+md5[ \t]+(?:[0-7][ \t]+)?)(\S+)"),
    re.compile(r"(\bntp[ \t]+authentication-key[ \t]+\d+[ \t]+(?:md5|sha1|sha256|hmac-sha\S*|cmac-aes-128)[ \t]+)(\S+)"),
    re.compile(r"(\bpassword[ \t]+(?:[0-7][ \t]+)?)(?!encryption\b)(\S+)(?=[ \t]*$)", re.M),
    # NETCONF (IOS-XE native XML): leaves that carry a secret
    re.compile(r"(<(?:secret|password|key|key-string|string|authentication-key|md5|text|hex|ascii-text)>)([^<]+)"),
]

def type7_decode(enc: str) -> str:
    """Cisco type 7 is a reversible obfuscation: decode it so secrets compare by value."""
    seed = int(enc[:2])
    data = bytes.fromhex(enc[2:])
    return "".join(chr(b ^ ord(TYPE7_XLAT[(seed + i) % len(TYPE7_XLAT)])) for i, b in enumerate(data))


def mask(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask known secret values and every IOS config-form secret (clear, type 6 or 7)."""
    return mask_with(mask_secrets(text, secrets), (), SECRET_RULES)


def _normalise_secrets(running: HConfig, intended: HConfig | None, notes: list[str]) -> None:
    """Type 7 secrets are decoded; a type 6 secret (not decodable) is taken as equal to the intended one."""
    for child in running.all_children():
        m = SECRET_LINE.match(child.text)
        if not m or not m.group("type") or m.group("type") == "0":
            if m and m.group("type") == "0":
                child.text = f"{m.group('head')} {m.group('secret')}"
            continue
        if m.group("type") == "7":
            try:
                child.text = f"{m.group('head')} {type7_decode(m.group('secret'))}"
            except ValueError:
                pass
            continue
        twin = _same_path(intended, child) if intended is not None else None
        if twin is not None:
            tm = SECRET_LINE.match(twin.text)
            if tm and tm.group("head") == m.group("head"):
                child.text = twin.text
                notes.append(f"{' > '.join(child.path())}: type 6 secret on the device cannot be compared; "
                             "a changed key is only re-sent in replace mode")


def _same_path(config: HConfig, child: Any) -> Any:
    node: Any = config
    lineage = list(child.lineage())
    for parent in lineage[:-1]:
        node = node.get_child(equals=parent.text)
        if node is None:
            return None
    head = SECRET_LINE.match(child.text)
    if head is None:
        return None
    return next((c for c in node.children if c.text.startswith(head.group("head") + " ")), None)


# ---------------------------------------------------------------- parsing and scope
def parse(text: str) -> HConfig:
    """Load IOS text into hier_config with stowpath's driver (comments, headers, ``end`` dropped)."""
    lines = [ln for ln in text.splitlines() if ln.strip() not in ("!", "end", "exit") and not ln.startswith("!")]
    config = get_hconfig(_DRIVER, "\n".join(lines))
    _implicit_no_shutdown(config)
    return config


def _implicit_no_shutdown(config: HConfig) -> None:
    """IOS does not show ``no shutdown``: an interface without ``shutdown`` is up."""
    for iface in config.get_children(startswith="interface "):
        if iface.get_child(equals="shutdown") is None and iface.get_child(equals="no shutdown") is None:
            iface.add_child("no shutdown")


def owned_matcher(intended: HConfig, extra: Iterable[str] = ()) -> re.Pattern:
    """Top-level lines stowpath owns: the patterns plus the tunnel interfaces of the snippet."""
    tunnels = [re.escape(c.text) + "$" for c in intended.children if c.text.startswith("interface Tunnel")]
    pats = list(OWNED_PATTERNS) + [f"^{t}" for t in tunnels] + list(extra)
    return re.compile("|".join(f"(?:{p})" for p in pats))


@dataclass
class Remediation:
    commands: list[str]  # CLI lines to send (with indentation and exits), secrets in clear
    diff: list[str]  # unified-style diff of the scoped sections, secrets in clear
    conflicts: list[str] = field(default_factory=list)  # section headers that differ and are not ours
    notes: list[str] = field(default_factory=list)
    scope: list[str] = field(default_factory=list)  # top-level headers considered


def _scoped(running: HConfig, intended: HConfig, owned: re.Pattern) -> HConfig:
    """The part of ``running`` stowpath compares: owned sections plus the shared sections in the snippet."""
    wanted = {c.text for c in intended.children}
    scoped = HConfig(running.driver)
    for child in running.children:
        if owned.search(child.text) or child.text in wanted:
            scoped.add_deep_copy_of(child)
    return scoped


def _prune_shared_negations(remediation: HConfig, owned: re.Pattern, previous: HConfig | None) -> None:
    """In shared sections keep a ``no X`` only when stowpath applied X before (merge semantics)."""
    for section in list(remediation.children):
        if owned.search(section.text) or section.text.startswith("no "):
            if section.text.startswith("no ") and not owned.search(section.text[3:]):
                if previous is None or previous.get_child(equals=section.text[3:]) is None:
                    section.delete()
            continue
        prev_section = previous.get_child(equals=section.text) if previous is not None else None
        _prune_children(section, prev_section)
        if not section.children:
            section.delete()


def _prune_children(node: Any, prev: Any) -> None:
    for child in list(node.children):
        if child.text.startswith("no "):
            if prev is None or prev.get_child(equals=child.text[3:]) is None:
                child.delete()
        elif child.children:
            _prune_children(child, prev.get_child(equals=child.text) if prev is not None else None)
            if not child.children:
                child.delete()


def _fix_bgp_negations(remediation: HConfig) -> None:
    """After ``no neighbor X remote-as`` IOS rejects any further ``no neighbor X ...``: drop those."""
    for bgp in remediation.get_children(startswith="router bgp "):
        gone = {m.group(1) for c in bgp.children if (m := re.match(r"no neighbor (\S+) remote-as", c.text))}
        if not gone:
            continue
        for child in list(bgp.all_children()):
            m = re.match(r"no neighbor (\S+) (?!remote-as)", child.text)
            if m and m.group(1) in gone:
                child.delete()
        for child in bgp.children:
            if re.match(r"no neighbor \S+ remote-as", child.text):
                child.order_weight = 100
        for af in list(bgp.get_children(startswith="address-family")):
            if not af.children:
                af.delete()


def _conflicts(running: HConfig, intended: HConfig, owned: re.Pattern, previous: HConfig | None) -> list[str]:
    """Owned sections present on the device, different from the snippet, and not applied by stowpath."""
    found = []
    for want in intended.children:
        have = running.get_child(equals=want.text)
        if have is None and want.text.startswith("crypto ipsec transform-set "):
            name = want.text.split()[3]
            have = next((c for c in running.get_children(startswith=f"crypto ipsec transform-set {name} ")), None)
        if have is None or not owned.search(want.text):
            continue
        if _lines(have) == _lines(want):
            continue
        before = previous.get_child(equals=have.text) if previous is not None else None
        if before is not None and _lines(before) == _lines(have):
            continue  # it is what stowpath applied last time: an update, not a conflict
        found.append(have.text)
    return found


ACCESS_GROUP = re.compile(r"^ip access-group (\S+) (in|out)$")


ACL_ENTRY = re.compile(r"^\s*(\d+) (.*?)(?:\s+\(\d+ match(?:es)?\))?\s*$")
WAN_ACL_POLICIES = ("stop", "merge")


def parse_acl_entries(show: str) -> list[tuple[int, str]]:
    """``show ip access-lists NAME`` -> [(sequence number, entry)]."""
    return [(int(m.group(1)), " ".join(m.group(2).split())) for m in map(ACL_ENTRY.match, show.splitlines()) if m]


def facility_wan_acls(running_text: str, intended_text: str) -> list[str]:
    """ACLs not stowpath's that the device binds on an interface of the snippet (whose entries a merge needs)."""
    running, intended = parse(running_text), parse(intended_text)
    names = []
    for iface in intended.get_children(startswith="interface "):
        have = running.get_child(equals=iface.text)
        for line in have.children if have is not None else []:
            m = ACCESS_GROUP.match(line.text)
            if m and not m.group(1).startswith("STOWPATH-") and m.group(1) not in names:
                names.append(m.group(1))
    return names


def _stowpath_entries(acl: Any) -> list[str]:
    """stowpath's entries of one of its WAN ACLs, without the final ``permit ip any any``."""
    texts = [re.sub(r"^\d+ ", "", c.text) for c in acl.children] if acl is not None else []
    return [t for t in texts if t != "permit ip any any" and not t.startswith("remark ")]


def _merge_acl(facility: str, ours: str, running: HConfig, intended: HConfig, previous: HConfig | None,
               entries: list[tuple[int, str]] | None) -> tuple[list[str], str | None]:
    """Commands that insert stowpath's entries of ``ours`` into the facility's ACL before the facility's own
    entries (sequence numbers below its first one), and remove the ones stowpath put there before and no
    longer renders. Returns (commands, conflict)."""
    wanted = _stowpath_entries(intended.get_child(equals=f"ip access-list extended {ours}"))
    before = _stowpath_entries(previous.get_child(equals=f"ip access-list extended {ours}")) if previous else []
    if entries is None:
        return [], (f"ip access-list extended {facility}: its sequence numbers could not be read "
                    f"(show ip access-lists {facility}); nothing was merged")
    have = {text: seq for seq, text in entries}
    stale = [have[e] for e in before if e not in wanted and e in have]
    missing = [e for e in wanted if e not in have]
    if not missing and not stale:
        return [], None
    own = [seq for seq, text in entries if text not in wanted and text not in before]
    first = min(own, default=2**31)
    used = {seq for seq, _ in entries} - set(stale)
    free = [n for n in range(1, min(first, 2**31)) if n not in used][:len(missing)]
    if len(free) < len(missing):
        return [], (f"ip access-list extended {facility}: no room for stowpath's {len(missing)} entries before the "
                    f"facility's first entry (sequence {first}): resequence it (ip access-list resequence "
                    f"{facility} 100 10) and push again")
    cmds = [f"ip access-list extended {facility}", *[f" no {n}" for n in stale],
            *[f" {n} {e}" for n, e in zip(free, missing, strict=True)], "exit"]
    return cmds, None


def _guard_facility_acls(running: HConfig, intended: HConfig, previous: HConfig | None, notes: list[str],
                         policy: str = "stop", acl_entries: dict[str, list[tuple[int, str]]] | None = None,
                         merged: list[str] | None = None) -> list[str]:
    """Never replace an ACL the facility bound on an interface of the snippet (the WAN interface).

    Where the device already filters that direction with an ACL stowpath did not bind, stowpath's
    ``ip access-group`` line is replaced by the facility's in the intended configuration (so neither merge
    nor replace rebinds it) and the binding is reported as a conflict: the facility adds stowpath's IKE/ESP entries
    to its own ACL (the rendered ``STOWPATH-ACL-WAN-*`` lists show them), or unbinds it.
    """
    conflicts: list[str] = []
    for iface in intended.get_children(startswith="interface "):
        have = running.get_child(equals=iface.text)
        if have is None:
            continue
        before = previous.get_child(equals=iface.text) if previous is not None else None
        for line in list(iface.children):
            m = ACCESS_GROUP.match(line.text)
            if not m:
                continue
            for other in have.children:
                o = ACCESS_GROUP.match(other.text)
                if not o or o.group(2) != m.group(2) or o.group(1) == m.group(1):
                    continue
                if o.group(1).startswith("STOWPATH-") or (before is not None and before.get_child(equals=other.text)):
                    continue
                if policy == "merge" and merged is not None:
                    cmds, conflict = _merge_acl(o.group(1), m.group(1), running, intended, previous,
                                                (acl_entries or {}).get(o.group(1)))
                    if conflict:
                        conflicts.append(conflict)
                    merged += cmds
                    notes.append(f"{iface.text} keeps the facility's ACL {o.group(1)} ({o.group(2)}); stowpath's "
                                 f"entries of {m.group(1)} are " + ("merged into it before its own entries" if cmds
                                                                    else "already in it" if not conflict else
                                                                    "NOT merged"))
                else:
                    conflicts.append(f"{iface.text}: ip access-group {o.group(1)} {o.group(2)} (the facility's ACL; "
                                     f"stowpath would bind {m.group(1)} instead: add stowpath's entries from "
                                     f"{m.group(1)} to {o.group(1)}, or set wan_acl_policy=merge, then push again)")
                    notes.append(f"{iface.text} keeps the facility's ACL {o.group(1)} ({o.group(2)}): not replaced")
                line.delete()
                iface.add_child(other.text)  # intended keeps the facility's binding (replace mode too)
    return conflicts


def _lines(node: Any) -> list[str]:
    return sorted(line.strip() for line in node.lines())


def remediation(running_text: str, intended_text: str, mode: str = "merge", previous_text: str | None = None,
                extra_owned: Iterable[str] = (), wan_acl_policy: str = "stop",
                acl_entries: dict[str, list[tuple[int, str]]] | None = None) -> Remediation:
    """Commands that bring the owned/shared sections of ``running`` to ``intended``.

    ``mode`` merge: never removes the facility's own lines in shared sections; conflicts are reported.
    ``mode`` replace: shared sections in the snippet are made equal to it (other lines removed).
    ``previous_text``: the snippet stowpath applied last time (lets merge remove what it put there).
    ``wan_acl_policy``: a facility ACL bound on the WAN interface stops the push (``stop``) or receives
    stowpath's IKE/ESP entries before its own (``merge``, with ``acl_entries``: its ``show ip access-lists``
    entries by name); its binding is never replaced either way.
    """
    if mode not in ("merge", "replace"):
        raise ValueError(f"mode must be merge or replace, not {mode!r}")
    if wan_acl_policy not in WAN_ACL_POLICIES:
        raise ValueError(f"wan_acl_policy must be stop or merge, not {wan_acl_policy!r}")
    intended = parse(intended_text)
    running_all = parse(running_text)
    notes: list[str] = []
    _normalise_secrets(running_all, intended, notes)
    previous = parse(previous_text) if previous_text else None
    owned = owned_matcher(intended, extra_owned)
    if previous is not None:
        owned = owned_matcher(intended, list(extra_owned) + [
            re.escape(c.text) + "$" for c in previous.children if c.text.startswith("interface Tunnel")])
    acl_merge: list[str] = []
    acl_conflicts = _guard_facility_acls(running_all, intended, previous, notes, wan_acl_policy, acl_entries,
                                         acl_merge)
    running = _scoped(running_all, intended, owned)
    conflicts = _conflicts(running, intended, owned, previous) if mode == "merge" else []
    conflicts += acl_conflicts
    rem = running.config_to_get_to(intended)
    if mode == "merge":
        _prune_shared_negations(rem, owned, previous)
    _fix_bgp_negations(rem)
    rem.set_order_weight()
    _fix_bgp_negations(rem)
    commands = list(rem.dump_simple(sectional_exiting=True))
    diff = list(running.unified_diff(_future(running, rem)))
    scope = [c.text for c in running.children]
    if acl_merge:  # the facility's ACL first: the cloud's IKE/ESP is admitted before the tunnels come up
        commands = acl_merge + commands
        diff += [acl_merge[0]] + [("- " if c.startswith(" no ") else "+ ") + c.strip() for c in acl_merge[1:-1]]
        scope.append(acl_merge[0])
    return Remediation(commands=commands, diff=diff, conflicts=conflicts, notes=notes, scope=scope)


def _future(running: HConfig, rem: HConfig) -> HConfig:
    return running.future(rem, prune_empty_branches=True)


def restore_commands(current_text: str, saved_text: str, scope: Iterable[str], intended_text: str = "") -> list[str]:
    """Commands that bring the sections in ``scope`` (and the snippet's owned ones) back to ``saved``."""
    current = parse(current_text)
    saved = parse(saved_text)
    notes: list[str] = []
    _normalise_secrets(current, saved, notes)
    intended = parse(intended_text) if intended_text else HConfig(_DRIVER)
    owned = owned_matcher(intended, [re.escape(s) + "$" for s in scope])
    wanted = set(scope) | {c.text for c in intended.children}
    cur = HConfig(_DRIVER)
    for child in current.children:
        if owned.search(child.text) or child.text in wanted:
            cur.add_deep_copy_of(child)
    target = HConfig(_DRIVER)
    for child in saved.children:
        if owned.search(child.text) or child.text in wanted:
            target.add_deep_copy_of(child)
    rem = cur.config_to_get_to(target)
    _fix_bgp_negations(rem)
    rem.set_order_weight()
    return list(rem.dump_simple(sectional_exiting=True))


def unified(lines: list[str]) -> str:
    return "\n".join(lines) + ("\n" if lines else "")


# ---------------------------------------------------------------- pre-flight (change plan)
def _finding(fid: str, severity: str, obj: str, lines: list[str], change: str, impact: str = "",
             fix: str = "") -> dict[str, Any]:
    return {"id": fid, "severity": severity, "object": obj, "lines": lines, "change": change, "impact": impact,
            "fix": fix}


def _section(node: Any) -> list[str]:
    return [node.text] + [("  " * (c.depth() - 1)) + c.text for c in node.all_children()]


def preflight(running_text: str, intended_text: str, site: Any) -> list[dict[str, Any]]:
    """What the change does to the router's existing configuration, beyond stowpath's own objects.

    Findings (``severity``): ``blocking`` stops the push; ``shared`` changes a line the facility owns
    too (router id, interface filters, IKE policies, routes); ``depends`` names an existing object the
    change relies on or sits beside; ``info`` is context for the change board."""
    running, intended = parse(running_text), parse(intended_text)
    found: list[dict[str, Any]] = []
    found += _preflight_bgp(running, intended)
    found += _preflight_interfaces(running, intended)
    found += _preflight_ike(running, intended, site)
    found += _preflight_routes(running, site)
    if running.get_child(startswith="archive") is None:
        found.append(_finding("archive", "info", "archive", [], "no configuration archive on the router",
                              fix="configure 'archive' (path flash:stowpath-) to allow 'configure replace' as a "
                                  "hand rollback (docs/real-router.md)"))
    return found


def _preflight_bgp(running: HConfig, intended: HConfig) -> list[dict[str, Any]]:
    want = intended.get_child(startswith="router bgp ")
    have = running.get_child(startswith="router bgp ")
    if want is None or have is None:
        return []
    neighbors = sorted({m.group(1) for c in have.all_children() if (m := re.match(r"neighbor (\S+) remote-as", c.text))})
    ours = {m.group(1) for c in want.all_children() if (m := re.match(r"neighbor (\S+) remote-as", c.text))}
    others = [n for n in neighbors if n not in ours]
    if have.text != want.text:
        return [_finding("bgp.process", "blocking", have.text, _section(have)[:12],
                         f"the change needs '{want.text}', the router runs '{have.text}'",
                         "the push would be rejected: IOS-XE runs one BGP process",
                         f"use the router's ASN ({have.text.split()[-1]}) for the facility: create the cloud's "
                         "customer gateway with that ASN and download the vendor file again (local_asn must match "
                         "the file)")]
    out = [_finding("bgp.existing", "depends", have.text, [have.text] + [f" neighbor {n}" for n in others],
                    f"stowpath adds its neighbors to the existing '{have.text}'; "
                    f"{len(others)} existing neighbor(s) stay untouched",
                    "", "")]
    have_rid = next((c.text for c in have.children if c.text.startswith("bgp router-id ")), None)
    want_rid = next((c.text for c in want.children if c.text.startswith("bgp router-id ")), None)
    if want_rid and have_rid != want_rid:
        sessions = ", ".join(others) or "none besides the cloud's"
        out.append(_finding(
            "bgp.router_id", "shared", f"{have.text} / bgp router-id", [have_rid] if have_rid else [],
            f"'{want_rid}' replaces '{have_rid}'" if have_rid else f"sets '{want_rid}' (the router chose its id itself)",
            f"IOS-XE resets every BGP session of the router when the router id changes: {sessions}",
            f"keep the current id: set bgp_router_id: {have_rid.split()[-1]} in the host's variables" if have_rid
            else "set bgp_router_id to the id the router uses now (show ip bgp summary) to avoid the reset"))
    return out


def _preflight_interfaces(running: HConfig, intended: HConfig) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for want in intended.get_children(startswith="interface "):
        if want.text.startswith("interface Tunnel") and running.get_child(equals=want.text) is None:
            continue
        have = running.get_child(equals=want.text)
        if have is None:
            if not want.text.startswith("interface Tunnel") and "." not in want.text:
                out.append(_finding("interface.missing", "blocking", want.text, [],
                                    f"{want.text} is not in the running configuration",
                                    "the push would create or fail on a wrong interface",
                                    "set wan_interface / lan_interface / dx_interface to the router's interface "
                                    "names (show ip interface brief)"))
            continue
        for child in want.children:
            m = re.match(r"ip access-group (\S+) (in|out)$", child.text)
            if not m:
                continue
            old = next((c.text for c in have.children
                        if re.match(rf"ip access-group \S+ {m.group(2)}$", c.text)), None)
            if old == child.text:
                continue
            acl_name = old.split()[2] if old else ""
            acl = running.get_child(startswith=f"ip access-list extended {acl_name}") if old else None
            direction = "inbound" if m.group(2) == "in" else "outbound"
            out.append(_finding(
                f"interface.access_group.{m.group(2)}", "shared", f"{want.text} / ip access-group {m.group(2)}",
                ([old] + (_section(acl) if acl is not None else [])) if old else [],
                f"'{child.text}' replaces '{old}'" if old else f"adds '{child.text}' ({direction} had no filter)",
                (f"the facility's {direction} filter {acl_name} stops applying on {want.text.split()[1]}: "
                 "only stowpath's rules (cloud IKE/ESP, then permit any) filter that direction") if old else
                f"{direction} traffic on {want.text.split()[1]} is filtered by {m.group(1)} (permits everything "
                "but spoofed cloud addresses)",
                f"merge {acl_name}'s rules into the change, or keep the interface filter and add the cloud's IKE/ESP "
                f"entries to {acl_name} by hand" if old else ""))
    return out


def _preflight_ike(running: HConfig, intended: HConfig, site: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    wan = ((site or {}).get("wan") or {}).get("address")
    clouds = set((site or {}).get("cloud_outside_addresses") or [])
    owned = re.compile("|".join(OWNED_PATTERNS))
    policies = [c for c in running.get_children(startswith="crypto ikev2 policy ") if not owned.search(c.text)]
    profiles = [c for c in running.get_children(startswith="crypto ikev2 profile ") if not owned.search(c.text)]
    for pol in policies:
        locals_ = [c.text.split()[-1] for c in pol.children if c.text.startswith("match address local ")]
        if not locals_ or wan in locals_:
            out.append(_finding("ike.policy", "shared", pol.text, _section(pol),
                                f"{pol.text} also applies to IKEv2 on {wan}"
                                + ("" if locals_ else " (it matches every local address)"),
                                "IKEv2 negotiations on that address may use either policy's proposals",
                                "restrict the facility's policy with 'match address local' to its own addresses, "
                                "or accept that both proposal sets are offered"))
    for prof in profiles:
        remote = [c.text for c in prof.children if c.text.startswith("match identity remote address ")]
        hit = [r for r in remote if r.split()[4] in clouds or r.split()[4] == "0.0.0.0"]
        if hit:
            out.append(_finding("ike.profile.overlap", "blocking", prof.text, _section(prof),
                                f"{prof.text} matches the cloud's address ({hit[0]})",
                                "IKEv2 could pick the facility's profile for the cloud tunnels",
                                "narrow the profile's 'match identity remote' to its own peers"))
        else:
            out.append(_finding("ike.profile.other", "depends", prof.text, _section(prof)[:8],
                                f"another IKEv2 peer set is configured ({prof.text})",
                                f"stowpath's IKEv2 policy matches the whole WAN address {wan}: IKE SAs of these "
                                "peers to that address are offered stowpath's proposals too; a peer that accepts "
                                "only other algorithms keeps using the facility's policy only if it matches first",
                                "check with 'show crypto ikev2 policy' after the change; restrict policies by "
                                "'match address local' if the peers share the WAN address"))
    return out


def _preflight_routes(running: HConfig, site: Any) -> list[dict[str, Any]]:
    import ipaddress

    out: list[dict[str, Any]] = []
    cidrs = [ipaddress.ip_network(c) for c in ((site or {}).get("dicomweb") or {}).get("cidrs") or []]
    for route in running.get_children(startswith="ip route "):
        parts = route.text.split()
        try:
            net = ipaddress.ip_network(f"{parts[2]}/{parts[3]}", strict=False)
        except (ValueError, IndexError):
            continue
        if "name stowpath-" in route.text or net.prefixlen == 0:
            continue
        if any(net.overlaps(c) for c in cidrs):
            out.append(_finding("route.static", "shared", route.text, [route.text],
                                "a static route to the DICOMweb range exists",
                                "static routes (distance 1) win over the cloud's BGP routes (20): DICOMweb traffic "
                                "keeps taking that route, not the tunnels",
                                "remove the static route in the change window, or give it a higher distance"))
    return out


# ---------------------------------------------------------------- show-output parsers
def parse_show(command: str, text: str) -> list[dict[str, Any]]:
    """Parse IOS show output with ntc-templates (TextFSM); TTP for the commands ntc lacks."""
    if command in TTP_TEMPLATES:
        return _ttp(TTP_TEMPLATES[command], text)
    from ntc_templates.parse import parse_output

    return parse_output(platform="cisco_ios", command=command, data=text)


TTP_TEMPLATES = {
    # ntc-templates has no 'show crypto ikev2 sa'; this follows IOS-XE's layout.
    "show crypto ikev2 sa": """
<group name="sas">
{{ tunnel_id | DIGIT }} {{ local | IP }}/{{ local_port | DIGIT }} {{ remote | IP }}/{{ remote_port | DIGIT }} {{ fvrf }}/{{ ivrf }} {{ status }}
      Encr: {{ encryption | ORPHRASE }}, PRF: {{ prf }}, Hash: {{ hash }}, DH Grp:{{ dh_group | DIGIT }}, Auth sign: {{ auth_sign }}, Auth verify: {{ auth_verify }}
      Life/Active Time: {{ lifetime | DIGIT }}/{{ active | DIGIT }} sec
</group>
""",
}


def _ttp(template: str, text: str) -> list[dict[str, Any]]:
    from ttp import ttp

    parser = ttp(data=text, template=template)
    parser.parse()
    result = parser.result()[0][0]
    groups = result.get("sas", []) if isinstance(result, dict) else []
    return [groups] if isinstance(groups, dict) else list(groups)


def tunnel_checks_input(ikev2_text: str, bgp_summary_text: str) -> dict[str, Any]:
    """State for the verification checks: IKEv2 SAs by peer, BGP neighbors by address."""
    sas = {s["remote"]: s for s in parse_show("show crypto ikev2 sa", ikev2_text)}
    bgp = {r["bgp_neighbor"]: r for r in parse_show("show ip bgp summary", bgp_summary_text)}
    return {"ike_sas": sas, "bgp": bgp}


__all__ = ["MASK", "NATIVE_NS", "PLATFORM", "SPEC", "Remediation", "facility_wan_acls", "mask", "parse",
           "parse_acl_entries", "parse_show", "remediation",
           "preflight", "restore_commands", "type7_decode"]


# ---------------------------------------------------------------- the platform spec
# IOS-XE: ciscoconfparse-style hierarchy is not needed for names; each rule matches one line.
XREF_DEFINES = [
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
XREF_REFERENCES = [
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
# Top-level config lines -> area of the drift report.
REPORT_AREAS = ((r"^(no )?crypto ", "ipsec"), (r"^(no )?interface Tunnel", "tunnels"),
                (r"^(no )?ip access-list", "firewall"), (r"^(no )?interface ", "interfaces"),
                (r"^(no )?(router bgp|ip prefix-list|route-map)", "bgp"), (r"^(no )?ip route", "routes"))
# NETCONF (native YANG): the subtree read, the list entries stowpath owns, the shared ones.
NETCONF = {
    "filter": f'<native xmlns="{NATIVE_NS}"/>',
    "device": "default",  # "iosxe" on real devices works too; default keeps netconfd happy
    "owned": (
        "native/crypto/ikev2/proposal", "native/crypto/ikev2/policy", "native/crypto/ikev2/keyring",
        "native/crypto/ikev2/profile", "native/crypto/ipsec/transform-set", "native/crypto/ipsec/profile",
        "native/interface/Tunnel", "native/ip/access-list/extended", "native/ip/prefix-list/prefixes",
        "native/route-map", "native/ip/route/ip-route-interface-forwarding-list",
    ),
    "shared": ("native/router/bgp/neighbor", "native/router/bgp/address-family/no-vrf/ipv4/ipv4-unicast/neighbor"),
}


def link_interfaces(site: Any) -> list[str]:
    """Route-based VTIs ``Tunnel<if_index>``, or the DX dot1Q sub-interface."""
    from . import dx_or_tunnel_interfaces

    return dx_or_tunnel_interfaces(site, lambda t: f"Tunnel{t.get('if_index', t.get('index'))}")


def _cli_parser() -> Any:
    from ..parsers import iosxe_cli

    return iosxe_cli


def _netconf_parser() -> Any:
    from ..parsers import iosxe_netconf

    return iosxe_netconf


def _spec() -> Any:
    import sys

    from ..crypto_policy import DH_GROUPS, INTEGRITY
    from . import PlatformSpec, TransportSpec, parser_recipe

    return PlatformSpec(
        name=PLATFORM,
        title="Cisco IOS-XE router (IKEv2, route-based VTIs, BGP)",
        runs_on="controller",
        artifacts=("config.cfg", "netconf.xml"),
        default_transport="netmiko",
        transports={"netmiko": TransportSpec("config.cfg", 22), "netconf": TransportSpec("netconf.xml", 830),
                    "napalm": TransportSpec("config.cfg", 22)},
        owned=OWNED_PATTERNS + ("interface Tunnel<n> of the snippet", "router bgp <asn>: stowpath's neighbor lines"),
        mask=mask,
        link_interfaces=link_interfaces,
        state={"netmiko": parser_recipe(_cli_parser), "netconf": parser_recipe(_netconf_parser)},
        crypto={
            "ike_encryption": {"aes128": "aes-cbc-128", "aes192": "aes-cbc-192", "aes256": "aes-cbc-256",
                               "aes128gcm16": "aes-gcm-128", "aes256gcm16": "aes-gcm-256", "3des": "3des", "des": "des"},
            "esp_encryption": {"aes128": "esp-aes 128", "aes192": "esp-aes 192", "aes256": "esp-aes 256",
                               "aes128gcm16": "esp-gcm 128", "aes256gcm16": "esp-gcm 256",
                               "3des": "esp-3des", "des": "esp-des"},
            "ike_integrity": {i: i for i in INTEGRITY},
            "esp_integrity": {"md5": "esp-md5-hmac", "sha1": "esp-sha-hmac", "sha256": "esp-sha256-hmac",
                              "sha384": "esp-sha384-hmac", "sha512": "esp-sha512-hmac"},
            "dh": {g: str(g) for g in DH_GROUPS},
        },
        netconf=NETCONF,
        napalm={"driver": "ios"},
        cli=sys.modules[__name__],
        report_areas=REPORT_AREAS,
        xref=(XREF_DEFINES, XREF_REFERENCES),
        preflight=preflight,
        connection_vars=(("gateway_username",), ("gateway_password", "gateway_key_file")),
    )


SPEC = _spec()
