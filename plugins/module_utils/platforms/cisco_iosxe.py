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

from ..redact import MASK, mask_secrets

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
def type7_decode(enc: str) -> str:
    """Cisco type 7 is a reversible obfuscation: decode it so secrets compare by value."""
    seed = int(enc[:2])
    data = bytes.fromhex(enc[2:])
    return "".join(chr(b ^ ord(TYPE7_XLAT[(seed + i) % len(TYPE7_XLAT)])) for i, b in enumerate(data))


def mask(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask known secret values and every IOS config-form secret (clear, type 6 or 7)."""
    return mask_secrets(text, secrets)


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


def _lines(node: Any) -> list[str]:
    return sorted(line.strip() for line in node.lines())


def remediation(running_text: str, intended_text: str, mode: str = "merge", previous_text: str | None = None,
                extra_owned: Iterable[str] = ()) -> Remediation:
    """Commands that bring the owned/shared sections of ``running`` to ``intended``.

    ``mode`` merge: never removes the facility's own lines in shared sections; conflicts are reported.
    ``mode`` replace: shared sections in the snippet are made equal to it (other lines removed).
    ``previous_text``: the snippet stowpath applied last time (lets merge remove what it put there).
    """
    if mode not in ("merge", "replace"):
        raise ValueError(f"mode must be merge or replace, not {mode!r}")
    intended = parse(intended_text)
    running_all = parse(running_text)
    notes: list[str] = []
    _normalise_secrets(running_all, intended, notes)
    previous = parse(previous_text) if previous_text else None
    owned = owned_matcher(intended, extra_owned)
    if previous is not None:
        owned = owned_matcher(intended, list(extra_owned) + [
            re.escape(c.text) + "$" for c in previous.children if c.text.startswith("interface Tunnel")])
    running = _scoped(running_all, intended, owned)
    conflicts = _conflicts(running, intended, owned, previous) if mode == "merge" else []
    rem = running.config_to_get_to(intended)
    if mode == "merge":
        _prune_shared_negations(rem, owned, previous)
    _fix_bgp_negations(rem)
    rem.set_order_weight()
    _fix_bgp_negations(rem)
    commands = list(rem.dump_simple(sectional_exiting=True))
    diff = list(running.unified_diff(_future(running, rem)))
    return Remediation(commands=commands, diff=diff, conflicts=conflicts, notes=notes,
                       scope=[c.text for c in running.children])


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


__all__ = ["MASK", "NATIVE_NS", "PLATFORM", "SPEC", "Remediation", "mask", "parse", "parse_show", "remediation",
           "restore_commands", "type7_decode"]


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
    if site.get("connection_type") == "dx" or site.get("dx"):
        return [str((site.get("dx") or {}).get("vlan_interface") or "")]
    return [f"Tunnel{t.get('if_index', t.get('index'))}" for t in site.get("tunnels") or []]


def _cli_tunnels(query: Any, exp: dict[str, Any]) -> tuple[list[dict[str, Any]], None]:
    from ..parsers import iosxe_cli

    return iosxe_cli.parse_tunnels(query(iosxe_cli.tunnel_queries(exp)), exp), None


def _cli_bgp(query: Any, exp: dict[str, Any]) -> dict[str, Any]:
    from ..parsers import iosxe_cli

    return iosxe_cli.parse_bgp(query(iosxe_cli.bgp_queries(exp)), exp)


def _netconf_tunnels(query: Any, exp: dict[str, Any]) -> tuple[list[dict[str, Any]], None]:
    from ..parsers import iosxe_netconf

    return iosxe_netconf.parse_tunnels(query(iosxe_netconf.tunnel_queries(exp)), exp), None


def _netconf_bgp(query: Any, exp: dict[str, Any]) -> dict[str, Any]:
    from ..parsers import iosxe_netconf

    return iosxe_netconf.parse_bgp(query(iosxe_netconf.bgp_queries(exp)), exp)


def _spec() -> Any:
    import sys

    from ..crypto_policy import DH_GROUPS, INTEGRITY
    from . import PlatformSpec, StateRecipe, TransportSpec

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
        state={"netmiko": StateRecipe(tunnels=_cli_tunnels, bgp=_cli_bgp),
               "netconf": StateRecipe(tunnels=_netconf_tunnels, bgp=_netconf_bgp)},
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
    )


SPEC = _spec()
