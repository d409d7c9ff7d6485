"""Junos driver: secret normalisation, XML -> set conversion, show-output parsers.

Junos shows secrets as ``"$9$..."`` (reversible but salted: the same key reads differently each
time), so secrets are masked/normalised before anything is compared or shown. Pushes go through
NAPALM (load merge of ``config.set``, or load replace of ``netconf.xml`` with ``replace="replace"`` on
stowpath's stanzas) or NETCONF (``netconf.xml``); a merge never deletes, so removals need replace.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from ..redact import MASK, mask_with

PLATFORM = "junos"
JUNOS_SECRET = re.compile(r'"?\$9\$[^"\s;]+"?')
SECRET_COMMENT = re.compile(r"\s*## SECRET-DATA")
# Junos XML elements whose value stowpath treats as a secret.
SECRET_ELEMENTS = ("ascii-text", "hexadecimal", "authentication-key")
SECRET_XML = re.compile(r"(<(?:ascii-text|hexadecimal|authentication-key)>)([^<]*)(</)")
# Stanzas stowpath owns (replace mode marks them replace="replace"), as local-name paths.
OWNED = (
    "configuration/security/ike/proposal", "configuration/security/ike/policy",
    "configuration/security/ike/gateway", "configuration/security/ipsec/proposal",
    "configuration/security/ipsec/policy", "configuration/security/ipsec/vpn",
    "configuration/policy-options/policy-statement", "configuration/protocols/bgp/group",
)


# Junos forms (brace, set and XML): $9$/$1$/$6$ strings, keys, secrets, SNMP communities.
SECRET_RULES = [
    re.compile(r"(\b(?:ascii-text|hexadecimal|authentication-key|secret|encrypted-password|pre-shared-key"
               r"(?:[ \t]+ascii-text)?|key)[ \t]+)(\"[^\"]*\"|[^\s;\"]+)"),
    re.compile(r"(\bsnmp[ \t]+community[ \t]+|\bcommunity[ \t]+)(?=\S*[ \t]*(?:\{|authorization|clients|$))(\S+)", re.M),
    re.compile(r"(<(?:ascii-text|hexadecimal|authentication-key|secret|encrypted-password|key)>)([^<]+)"),
    re.compile(r"()(\"?\$[169]\$[^\"\s;<]+\"?)"),
]

CLI_SECRET = re.compile(r'(\b(?:ascii-text|hexadecimal|authentication-key)\s+)("[^"]*"|\S+?)(;|\s|$)')


def mask(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask known secrets, Junos ``$9$`` strings, and set/brace/XML secret statements.

    (Not redact.mask_secrets' generic patterns: its IOS keyring rule would eat Junos' ``ascii-text``.)
    """
    for value in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(value, MASK)
    text = JUNOS_SECRET.sub(f'"{MASK}"', text)
    text = CLI_SECRET.sub(lambda m: m.group(1) + (f'"{MASK}"' if m.group(2).startswith('"') else MASK) + m.group(3),
                          text)
    text = SECRET_COMMENT.sub("", text)
    return mask_with(SECRET_XML.sub(lambda m: m.group(1) + MASK + m.group(3), text), (), SECRET_RULES)


def extract_secrets(text: str) -> list[str]:
    """Secret values in a set-form or XML artifact (to mask them wherever they show up)."""
    found = re.findall(r'(?:ascii-text|hexadecimal|authentication-key)\s+"([^"]+)"', text)
    found += [m.group(2) for m in SECRET_XML.finditer(text)]
    return [s for s in found if s and not s.startswith("$9$")]


# Junos XML -> CLI spelling rules: list elements whose name the CLI omits under their parent, and
# leaves the CLI writes positionally (without their element name).
CLI_OMITTED_LIST = {("interfaces", "interface"), ("routing-instances", "instance")}
CLI_POSITIONAL = {("address", "ip-prefix"), ("local-preference", "local-preference")}


def _local(tag: Any) -> str:
    return tag.split("}", 1)[1] if isinstance(tag, str) and "}" in tag else str(tag)


def _q(value: str) -> str:
    return f'"{value}"' if (" " in value or value == "") else value


def xml_to_set(xml: str) -> list[str]:
    """Junos XML configuration -> ``set`` statements (enough for stowpath's stanzas and for diffs)."""
    from lxml import etree

    parser = etree.XMLParser(remove_blank_text=True, remove_comments=True, resolve_entities=False, no_network=True)
    root = etree.fromstring(xml.encode(), parser=parser)
    if _local(root.tag) == "config":
        root = root[0]
    out: list[str] = []

    def head(el: Any) -> tuple[list[str], list[Any]]:
        tag = _local(el.tag)
        kids = [c for c in el if isinstance(c.tag, str)]
        first = _local(kids[0].tag) if kids else ""
        if tag == "policy" and first == "from-zone-name" and len(kids) > 1:
            return ["from-zone", kids[0].text or "", "to-zone", kids[1].text or ""], kids[2:]
        if first == "name" and not len(kids[0]):
            parent = el.getparent()
            word = [] if parent is not None and (_local(parent.tag), tag) in CLI_OMITTED_LIST else [tag]
            return word + [_q((kids[0].text or "").strip())], kids[1:]
        if (tag, first) in (("route-filter", "address"), ("local-as", "as-number")):
            return [tag, (kids[0].text or "").strip()], kids[1:]
        return [tag], kids

    def walk(el: Any, path: list[str]) -> None:
        words, kids = head(el)
        p = path + words
        if not kids:
            text = (el.text or "").strip() if not len(el) else ""
            parent = el.getparent()
            if text and parent is not None and (_local(parent.tag), _local(el.tag)) in CLI_POSITIONAL:
                p = p[:-1]
            out.append(" ".join(p + ([_q(text)] if text else [])))
        for kid in kids:
            walk(kid, p)

    for child in root:
        if isinstance(child.tag, str):
            walk(child, ["set"])
    return out


def normalise_set(lines: Iterable[str]) -> list[str]:
    """Comparable set statements: no quotes, no comments, ``ifd.unit`` spelled ``ifd unit N``."""
    norm = []
    for line in lines:
        line = line.strip()
        if not line.startswith("set "):
            continue
        line = line.replace('"', "")
        line = re.sub(r"^set interfaces (\S+)\.(\d+) ", r"set interfaces \1 unit \2 ", line)
        norm.append(" ".join(line.split()))
    return sorted(set(norm))


# ---------------------------------------------------------------- show-output parsers
TTP_IKE_SA = """
<group name="sas">
{{ index | DIGIT }}  {{ state | WORD }}  {{ initiator_cookie }}  {{ responder_cookie }}  {{ mode }}  {{ remote | IP }}
</group>
"""


# ntc-templates' juniper_junos_show_bgp_summary predates the "Last Up/Dwn State" layout of current
# Junos (and errors on its Table block), so TTP here; NAPALM's get_bgp_neighbors() is the other source.
TTP_BGP_SUMMARY = """
<group name="sas">
{{ peer | IP }} {{ peer_as | DIGIT }} {{ in_pkt | DIGIT }} {{ out_pkt | DIGIT }} {{ out_q | DIGIT }} {{ flaps | DIGIT }} {{ up_down }} {{ state | WORD }}
</group>
"""
TTP_TEMPLATES = {"show security ike security-associations": TTP_IKE_SA, "show bgp summary": TTP_BGP_SUMMARY}


def parse_show(command: str, text: str) -> list[dict[str, Any]]:
    """Junos show output: TTP templates above, ntc-templates (TextFSM) for other commands."""
    if command in TTP_TEMPLATES:
        from ttp import ttp

        parser = ttp(data=text, template=TTP_TEMPLATES[command])
        parser.parse()
        result = parser.result()[0][0]
        groups = result.get("sas", []) if isinstance(result, dict) else []
        return [groups] if isinstance(groups, dict) else list(groups)
    from ntc_templates.parse import parse_output

    return parse_output(platform="juniper_junos", command=command, data=text)


# ---------------------------------------------------------------- the platform spec
# Junos set form.
XREF_DEFINES = [
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
XREF_REFERENCES = [
    ("ike-proposal", r"^set security ike policy \S+ proposals (\S+)$"),
    ("ike-policy", r"^set security ike gateway \S+ ike-policy (\S+)$"),
    ("ike-gateway", r"^set security ipsec vpn \S+ ike gateway (\S+)$"),
    ("ipsec-proposal", r"^set security ipsec policy \S+ proposals (\S+)$"),
    ("ipsec-policy", r"^set security ipsec vpn \S+ ike ipsec-policy (\S+)$"),
    ("st0", r"^set security ipsec vpn \S+ bind-interface st0\.(\d+)$"),
    ("st0", r"^set security zones security-zone \S+ interfaces st0\.(\d+)$"),
    ("policy-statement", r"^set protocols bgp group \S+(?: neighbor \S+)? (?:import|export) (\S+)$"),
    ("address", r"^set security address-book global address-set \S+ address (\S+)$"),
    ("address-set", r"^set security policies .* match (?:source|destination)-address (stowpath-\S+)$"),
]
REPORT_AREAS = ((r"^(set|delete) security (ike|ipsec)", "ipsec"), (r"^(set|delete) interfaces st0", "tunnels"),
                (r"^(set|delete) security (policies|zones|address-book)", "firewall"),
                (r"^(set|delete) (protocols bgp|policy-options)", "bgp"), (r"^(set|delete) routing-options", "routes"))


def link_interfaces(site: Any) -> list[str]:
    """Route-based ``st0.<if_index>`` units, or the DX VLAN unit."""
    from . import dx_or_tunnel_interfaces

    return dx_or_tunnel_interfaces(site, lambda t: f"st0.{t.get('if_index', t.get('index'))}")


def _state_parser() -> Any:
    from ..parsers import junos_state

    return junos_state


def _rpc(query: Any, rpcs: list[str]) -> dict[str, Any]:
    """Junos operational RPCs over NETCONF: the executor takes ``rpc:<xml>``; answers keyed by the RPC."""
    answers = query([f"rpc:{r}" for r in rpcs])
    return {r: answers[f"rpc:{r}"] for r in rpcs}


def _netconf_tunnels(query: Any, exp: dict[str, Any]) -> tuple[list[dict[str, Any]], None]:
    from ..parsers import junos_state

    return junos_state.netconf_parse_tunnels(_rpc(query, junos_state.netconf_tunnel_queries(exp)), exp), None


def _netconf_bgp(query: Any, exp: dict[str, Any]) -> dict[str, Any]:
    from ..parsers import junos_state

    return junos_state.netconf_parse_bgp(_rpc(query, junos_state.netconf_bgp_queries(exp)), exp)


def _spec() -> Any:
    from ..crypto_policy import DH_GROUPS
    from . import PlatformSpec, SiteVar, StateRecipe, TransportSpec, parser_recipe

    cbc_gcm = {"aes128": "aes-128-cbc", "aes192": "aes-192-cbc", "aes256": "aes-256-cbc",
               "aes128gcm16": "aes-128-gcm", "aes256gcm16": "aes-256-gcm", "3des": "3des-cbc", "des": "des-cbc"}
    return PlatformSpec(
        name=PLATFORM,
        title="Juniper Junos SRX (IKEv2, route-based st0 units, security zones, BGP)",
        runs_on="controller",
        artifacts=("config.set", "netconf.xml"),
        default_transport="napalm",
        transports={"napalm": TransportSpec("config.set", 830, replace_artifact="netconf.xml"),
                    "netconf": TransportSpec("netconf.xml", 830)},
        owned=OWNED + ("configuration/interfaces/st0 units of the snippet",),
        mask=mask,
        extract_secrets=extract_secrets,
        link_interfaces=link_interfaces,
        state={"napalm": parser_recipe(_state_parser),
               "netconf": StateRecipe(tunnels=_netconf_tunnels, bgp=_netconf_bgp)},
        crypto={
            "ike_encryption": cbc_gcm, "esp_encryption": cbc_gcm,
            "ike_integrity": {"md5": "md5", "sha1": "sha1", "sha256": "sha-256", "sha384": "sha-384", "sha512": "sha-512"},
            "esp_integrity": {"md5": "hmac-md5-96", "sha1": "hmac-sha1-96", "sha256": "hmac-sha-256-128",
                              "sha384": "hmac-sha-384-192", "sha512": "hmac-sha-512-256"},
            "dh": {g: f"group{g}" for g in DH_GROUPS},
        },
        netconf={"filter": "<configuration/>", "device": "junos", "owned": OWNED, "shared": ()},
        napalm={"driver": "junos", "replace_owned": OWNED, "replace_attribute": "replace"},
        report_areas=REPORT_AREAS,
        xref=(XREF_DEFINES, XREF_REFERENCES),
        site_section="junos",
        site_vars={"junos_lan_zone": SiteVar("lan_zone", "trust", "zone"),
                   "junos_wan_zone": SiteVar("wan_zone", "untrust", "zone"),
                   "junos_vpn_zone": SiteVar("vpn_zone", "stowpath-cloud", "zone")},
        connection_vars=(("gateway_username",), ("gateway_password", "gateway_key_file")),
    )


SPEC = _spec()
