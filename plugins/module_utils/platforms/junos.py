"""Junos driver: secret normalisation, XML -> set conversion, show-output parsers.

Junos shows secrets as ``"$9$..."`` (reversible but salted: the same key reads differently each
time), so secrets are masked/normalised before anything is compared or shown. Pushes go through
NAPALM (load merge of ``config.set``, or load replace of ``netconf.xml`` with ``replace="replace"`` on
stowpath's stanzas) or NETCONF (``netconf.xml``); a merge never deletes, so removals need replace.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from ..redact import MASK

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
    return SECRET_XML.sub(lambda m: m.group(1) + MASK + m.group(3), text)


def extract_secrets(text: str) -> list[str]:
    """Secret values in a set-form or XML artifact (to mask them wherever they show up)."""
    found = re.findall(r'(?:ascii-text|hexadecimal|authentication-key)\s+"([^"]+)"', text)
    found += [m.group(2) for m in SECRET_XML.finditer(text)]
    return [s for s in found if s and not s.startswith("$9$")]


# Junos XML -> CLI spelling rules: list elements whose name the CLI omits under their parent, and
# leaves the CLI writes positionally (without their element name).
CLI_OMITTED_LIST = {("interfaces", "interface"), ("routing-instances", "instance")}
CLI_POSITIONAL = {("address", "ip-prefix")}


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
