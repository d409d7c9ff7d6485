"""Vendor file parsers: the formats as handed over, and everything malformed or unsafe in them."""

from __future__ import annotations

import json

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.errors import SiteError
from ansible_collections.stowpath.core.plugins.module_utils.params import aws_dx, aws_vpn, manual
from stowpath_testlib import EXAMPLE_PARAMS, SHARED_AWS


def test_example_params_are_the_shared_samples():
    if not SHARED_AWS.is_dir():
        pytest.skip("../shared not beside this checkout")
    assert (EXAMPLE_PARAMS / "aws-vpn-bgp.xml").read_text() == (SHARED_AWS / "vpn-bgp-sample.xml").read_text()
    assert (EXAMPLE_PARAMS / "aws-dx-vif.json").read_text() == (SHARED_AWS / "dx-vif-sample.json").read_text()


def test_aws_vpn_sample(vpn_xml):
    p = aws_vpn.parse(vpn_xml, "f.xml")
    assert p.connection_id == "vpn-0f3a9c2d7e1b45a60"
    assert p.routing == "bgp"
    assert [t.remote_outside for t in p.tunnels] == ["192.0.2.61", "192.0.2.188"]
    t1 = p.tunnels[0]
    assert (t1.local_inside, t1.remote_inside) == ("169.254.21.6/30", "169.254.21.5/30")
    assert (t1.local_asn, t1.remote_asn, t1.hold_time) == (65020, 64512, 30)
    assert t1.ike == {"encryption": "aes-128-cbc", "integrity": "sha1", "dh_group": "group2", "lifetime": 28800}
    assert (t1.dpd_interval, t1.dpd_retries, t1.tcp_mss) == (10, 3, 1379)
    assert t1.psk == "Tq4m_Lz7.Wd2xVb9Kp3RsNc8YhJe5Fa1"


def test_aws_vpn_static_has_no_bgp(vpn_xml):
    import re
    static = re.sub(r"\s*<bgp>.*?</bgp>", "", vpn_xml, flags=re.S)
    p = aws_vpn.parse(static, "f.xml")
    assert p.routing == "static"
    assert all(t.local_asn is None for t in p.tunnels)


@pytest.mark.parametrize("mutate, needle", [
    (lambda x: x[: len(x) // 2], "malformed or truncated XML"),
    (lambda x: x.replace("</vpn_connection>", ""), "malformed or truncated XML"),
    (lambda x: x.replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
                         "<?xml version=\"1.0\"?><!DOCTYPE vpn_connection [<!ELEMENT a ANY>]>"), "refused unsafe XML"),
    (lambda x: x.replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
                         "<?xml version=\"1.0\"?><!DOCTYPE v [<!ENTITY e \"boom\">]>").replace(
                             "<customer_gateway_id>", "<customer_gateway_id>&e;"), "refused unsafe XML"),
    (lambda x: x.replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
                         "<?xml version=\"1.0\"?><!DOCTYPE v [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>").replace(
                             "<customer_gateway_id>", "<customer_gateway_id>&e;"), "refused unsafe XML"),
    (lambda x: x.replace("vpn_connection", "other_doc"), "not an AWS VPN connection configuration"),
    (lambda x: x.replace("<pre_shared_key>Tq4m_Lz7.Wd2xVb9Kp3RsNc8YhJe5Fa1</pre_shared_key>", ""),
     "ipsec_tunnel[1]/ike/pre_shared_key: element is missing"),
    (lambda x: x.replace("ipsec.1", "ipsec.2"), "unsupported type"),
    (lambda x: x.replace("<asn>65020</asn>", "<asn>sixty</asn>", 1), "is not a whole number"),
    (lambda x: json.dumps({"a": 1}), "this is JSON"),
])
def test_aws_vpn_bad_files(vpn_xml, mutate, needle):
    with pytest.raises(SiteError) as err:
        aws_vpn.parse(mutate(vpn_xml), "files/vpn.xml")
    assert needle in str(err.value)
    assert str(err.value).startswith("files/vpn.xml: ")
    assert "Fix:" in str(err.value)


def test_aws_vpn_billion_laughs_refused():
    bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
            "<vpn_connection>&lol2;</vpn_connection>")
    with pytest.raises(SiteError, match="refused unsafe XML"):
        aws_vpn.parse(bomb, "f.xml")


def test_aws_dx_sample(dx_json):
    p = aws_dx.parse(dx_json, "f.json")
    assert p.connection_type == "dx" and p.routing == "bgp"
    d = p.dx
    assert (d.vif_id, d.vlan, d.local_asn, d.remote_asn) == ("dxvif-fg5kx7qa", 412, 65020, 64512)
    assert (d.local_address, d.remote_address, d.auth_key) == ("169.254.244.2/30", "169.254.244.1/30", "Xk2.pR7_mQ9vLs4T")


@pytest.mark.parametrize("mutate, needle", [
    (lambda d: "{\"virtualInterfaces\": [", "malformed or truncated JSON"),
    (lambda d: "<xml/>", "this looks like XML"),
    (lambda d: json.dumps({"something": []}), "no virtualInterfaces list"),
    (lambda d: json.dumps({"virtualInterfaces": []}), "expected exactly 1 virtual interface, found 0"),
    (lambda d: json.dumps({"virtualInterfaces": d["virtualInterfaces"] * 2}), "found 2"),
    (lambda d: json.dumps({"virtualInterfaces": [dict(d["virtualInterfaces"][0], virtualInterfaceType="public")]}),
     "cannot reach a private DICOMweb endpoint"),
    (lambda d: json.dumps({"virtualInterfaces": [dict(d["virtualInterfaces"][0], virtualInterfaceState="deleted")]}),
     "the VIF is 'deleted'"),
    (lambda d: json.dumps({"virtualInterfaces": [dict(d["virtualInterfaces"][0], vlan="412")]}), "wrong type"),
    (lambda d: json.dumps({"virtualInterfaces": [{k: v for k, v in d["virtualInterfaces"][0].items()
                                                  if k not in ("authKey", "bgpPeers")}]}), "no BGP MD5"),
])
def test_aws_dx_bad_files(dx_json, mutate, needle):
    with pytest.raises(SiteError) as err:
        aws_dx.parse(mutate(json.loads(dx_json)), "files/dx.json")
    assert needle in str(err.value)
    assert str(err.value).startswith("files/dx.json: ")


def test_aws_dx_select_by_id(dx_json):
    doc = json.loads(dx_json)
    other = dict(doc["virtualInterfaces"][0], virtualInterfaceId="dxvif-other", vlan=500)
    text = json.dumps({"virtualInterfaces": [other, doc["virtualInterfaces"][0]]})
    assert aws_dx.parse(text, "f", "dxvif-fg5kx7qa").dx.vlan == 412
    with pytest.raises(SiteError, match="no virtual interface 'dxvif-nope'"):
        aws_dx.parse(text, "f", "dxvif-nope")


def test_manual_example():
    p = manual.parse((EXAMPLE_PARAMS / "manual-vpn-static.yml").read_text(), "m.yml")
    assert p.routing == "static" and len(p.tunnels) == 2
    assert p.tunnels[0].ike["encryption"] == "aes-256-gcm-16"


@pytest.mark.parametrize("text, needle", [
    ("[1, 2]", "must be a mapping"),
    ("a: [", "malformed YAML"),
    ("stowpath_params_version: 2\nconnection_type: vpn", "must be 1"),
    ("stowpath_params_version: 1\nconnection_type: gre", "is not vpn or dx"),
    ("stowpath_params_version: 1\nconnection_type: vpn\ntunels: []", "unknown key (a typo?)"),
    ("stowpath_params_version: 1\nconnection_type: vpn\nrouting: bgp\ntunnels: []", "cloud_asn: is required"),
    ("stowpath_params_version: 1\nconnection_type: vpn\nrouting: static\ntunnels: [{remote_outside: 192.0.2.1}]",
     "tunnels[1].local_inside: is required"),
    ("stowpath_params_version: 1\nconnection_type: dx\ncloud_asn: 64512\ndx: {vlan: true}", "dx.vlan: has the wrong type"),
])
def test_manual_bad(text, needle):
    with pytest.raises(SiteError) as err:
        manual.parse(text, "m.yml")
    assert needle in str(err.value)
