"""The NETCONF artifacts carry the same configuration as the CLI templates; show-output parsers."""

from __future__ import annotations

import re

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.platforms import cisco_iosxe as ios
from ansible_collections.stowpath.core.plugins.module_utils.platforms import junos
from ansible_collections.stowpath.core.plugins.module_utils.render import render_site
from lxml import etree

from .conftest import FIXTURES, REPO, make_site

VARIANTS = [("aws_vpn", {}), ("aws_dx", {}), ("manual", {})]


def rendered(platform: str, provider: str) -> dict[str, str]:
    return render_site(make_site(platform, provider), str(REPO / "templates"))


@pytest.mark.parametrize(("provider", "over"), VARIANTS)
def test_junos_xml_is_the_set_form(provider, over):
    out = rendered("junos", provider)
    etree.fromstring(out["netconf.xml"].encode())
    assert junos.normalise_set(junos.xml_to_set(out["netconf.xml"])) == junos.normalise_set(
        out["config.set"].splitlines())


@pytest.mark.parametrize(("provider", "over"), VARIANTS)
def test_iosxe_xml_names_the_same_objects_and_values_as_the_cli(provider, over):
    out = rendered("cisco_iosxe", provider)
    xml, cli = out["netconf.xml"], out["config.cfg"]
    etree.fromstring(xml.encode())
    names = set(re.findall(r"STOWPATH-[A-Z0-9-]+", cli))
    assert names == set(re.findall(r"STOWPATH-[A-Z0-9-]+", xml))
    values = set(re.findall(r"\b\d+\.\d+\.\d+\.\d+(?:/\d+)?\b", cli))
    xml_values = set(re.findall(r"\b\d+\.\d+\.\d+\.\d+(?:/\d+)?\b", xml))
    # the CLI writes ACL wildcards and masks; the XML has them too, as separate leaves
    assert values <= xml_values | {v.split("/")[0] for v in xml_values}
    site = make_site("cisco_iosxe", provider)
    for secret in [t["psk"] for t in site["tunnels"]] + ([site["dx"]["auth_key"]] if site["dx"] else []):
        assert secret in xml and secret in cli


def test_iosxe_show_output_parsers():
    show = FIXTURES / "show"
    bgp = ios.parse_show("show ip bgp summary", (show / "iosxe_show_ip_bgp_summary.txt").read_text())
    assert [(r["bgp_neighbor"], r["state_or_prefixes_received"]) for r in bgp] == [
        ("169.254.21.5", "1"), ("169.254.173.41", "Active")]
    sas = ios.parse_show("show crypto ikev2 sa", (show / "iosxe_show_crypto_ikev2_sa.txt").read_text())
    assert [(s["remote"], s["status"]) for s in sas] == [("192.0.2.61", "READY"), ("192.0.2.188", "IN-NEG")]
    state = ios.tunnel_checks_input((show / "iosxe_show_crypto_ikev2_sa.txt").read_text(),
                                    (show / "iosxe_show_ip_bgp_summary.txt").read_text())
    assert state["ike_sas"]["192.0.2.61"]["dh_group"] == "14" and "169.254.21.5" in state["bgp"]


def test_junos_show_output_parsers():
    show = FIXTURES / "show"
    sas = junos.parse_show("show security ike security-associations", (show / "junos_show_security_ike_sa.txt").read_text())
    assert [(s["remote"], s["state"]) for s in sas] == [("192.0.2.61", "UP"), ("192.0.2.188", "DOWN")]
    bgp = junos.parse_show("show bgp summary", (show / "junos_show_bgp_summary.txt").read_text())
    assert [(b["peer"], b["state"]) for b in bgp] == [("169.254.21.5", "Establ"), ("169.254.173.41", "Active")]


def test_junos_secrets_are_normalised():
    text = 'pre-shared-key ascii-text "$9$Hk5FCtu0IcrvMcrKvLxNdbs2aUjq.5T"; ## SECRET-DATA\n<ascii-text>k1</ascii-text>'
    masked = junos.mask(text, ["k1"])
    assert "$9$" not in masked and "k1" not in masked and "SECRET-DATA" not in masked
    assert junos.extract_secrets('set x pre-shared-key ascii-text "abc"\n<authentication-key>def</authentication-key>') == [
        "abc", "def"]
