"""Semantic checks of the vendor renderings: every referenced object is defined and every defined one used."""

from __future__ import annotations

import pytest
from ansible_collections.stowpath.core.plugins.module_utils import xref
from ciscoconfparse import CiscoConfParse

from golden.test_golden import SPEC, render_case

CASES = sorted(SPEC["cases"])


@pytest.mark.parametrize("case", CASES)
def test_cisco_iosxe_cross_references(case):
    config = render_case(case, "cisco_iosxe")["config.cfg"]
    assert xref.check("cisco_iosxe", config) == []
    # Structure, with a real IOS parser: every tunnel is protected by a defined profile and has the MSS clamp.
    parse = CiscoConfParse(config.splitlines(), syntax="ios")
    tunnels = parse.find_objects(r"^interface Tunnel")
    profiles = {o.text.split()[-1] for o in parse.find_objects(r"^crypto ipsec profile")}
    for tun in tunnels:
        prot = [c.text.split()[-1] for c in tun.children if "tunnel protection ipsec profile" in c.text]
        assert prot and prot[0] in profiles, tun.text
        assert any("ip tcp adjust-mss" in c.text for c in tun.children)
    n_tunnels = len(render_case(case, "linux_strongswan")["swanctl.conf"].split("children {")) - 1
    assert len(tunnels) == n_tunnels


@pytest.mark.parametrize("case", CASES)
def test_junos_cross_references(case):
    config = render_case(case, "junos")["config.set"]
    assert xref.check("junos", config) == []
    for line in config.splitlines():
        assert line.startswith(("set ", "#")) or not line.strip(), line


def test_xref_catches_a_broken_reference():
    config = render_case("aws-vpn-bgp", "cisco_iosxe")["config.cfg"].replace(
        "tunnel protection ipsec profile STOWPATH-IPSEC-TUN1", "tunnel protection ipsec profile TYPO")
    problems = {str(p) for p in xref.check("cisco_iosxe", config)}
    assert "ipsec-profile TYPO: referenced but not defined" in problems
    assert "ipsec-profile STOWPATH-IPSEC-TUN1: defined but never used" in problems
    junos = render_case("aws-vpn-bgp", "junos")["config.set"].replace("bind-interface st0.2", "bind-interface st0.9")
    problems = {str(p) for p in xref.check("junos", junos)}
    assert "st0 9: referenced but not defined" in problems
