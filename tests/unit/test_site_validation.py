"""The site model: every class of bad input is refused with the host/file, the field and the fix."""

from __future__ import annotations

import json
import re

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.errors import SiteError, SiteErrors
from ansible_collections.stowpath.core.plugins.module_utils.site import load_site, masked, site_secrets
from stowpath_testlib import base_vars


def load(hv: dict, text: str):
    return load_site(hv, "gw1", "/inv", read=lambda path, host: text)


def errors_of(hv: dict, text: str) -> str:
    with pytest.raises((SiteError, SiteErrors)) as err:
        load(hv, text)
    return str(err.value)


def test_valid_vpn(vpn_xml):
    site = load(base_vars(), vpn_xml)
    assert site["connection_type"] == "vpn" and site["routing"] == "bgp"
    assert (site["local_asn"], site["cloud_asn"]) == (65020, 64512)
    assert site["tcp_mss"] == 1379
    assert [t["name"] for t in site["tunnels"]] == ["tun1", "tun2"]
    assert site["tunnels"][0]["bgp"] == {"hold_time": 30, "keepalive": 10}
    assert site["accept_prefixes"] == ["10.100.0.0/24"]
    assert site["params_file"] == "/inv/params.xml"


def test_relative_params_path_is_relative_to_inventory(vpn_xml):
    seen = []
    load_site(base_vars(cloud_params_file="files/x.xml"), "gw1", "/inv/lab", read=lambda p, h: seen.append(p) or vpn_xml)
    assert seen == ["/inv/lab/files/x.xml"]


def test_missing_file_names_host_and_variable(tmp_path):
    with pytest.raises(SiteError) as err:
        load_site(base_vars(cloud_params_file="nope.xml"), "gw1", str(tmp_path))
    assert str(err.value).startswith("host gw1: cloud_params_file: ")
    assert "does not exist" in str(err.value)


def test_crypto_upgraded_by_default(vpn_xml):
    site = load(base_vars(), vpn_xml)
    t = site["tunnels"][0]
    assert t["ike"] == {"version": 2, "encryption": "aes256", "integrity": "sha256", "dh_group": 14, "lifetime": 28800}
    assert t["ipsec"]["pfs_group"] == 14 and t["ipsec"]["lifetime"] == 3600
    assert "tun1 IKE integrity sha1 -> sha256" in site["crypto"]["upgraded"]
    assert any("crypto upgraded" in w for w in site["warnings"])


def test_legacy_crypto_only_when_allowed(vpn_xml):
    site = load(base_vars(allow_legacy_crypto=True), vpn_xml)
    t = site["tunnels"][0]
    assert (t["ike"]["encryption"], t["ike"]["integrity"], t["ike"]["dh_group"]) == ("aes128", "sha1", 2)
    assert site["crypto"]["upgraded"] == []
    assert any("legacy crypto" in w and "sha1" in w for w in site["warnings"])


def test_masked_model_has_no_secret(vpn_xml):
    site = load(base_vars(), vpn_xml)
    text = json.dumps(masked(site))
    for secret in site_secrets(site):
        assert secret not in text
    assert "********" in text


def test_valid_dx(dx_json):
    site = load(base_vars(cloud_provider="aws_dx", wan_interface=None, wan_address=None, dx_interface="eth2"), dx_json)
    assert site["dx"]["vlan_interface"] == "eth2.412" and site["dx"]["auth_key"] == "Xk2.pR7_mQ9vLs4T"
    assert site["tunnels"] == [] and site["tcp_mss"] is None
    assert site["bgp_router_id"] == "169.254.244.2"


# ------------------------------------------------------------ bad input, class by class

def vpn_with(vpn_xml: str, old: str, new: str) -> str:
    assert old in vpn_xml
    return vpn_xml.replace(old, new)


@pytest.mark.parametrize("old, new, needle", [
    # tunnel inside CIDR not a /30 inside 169.254.0.0/16
    ("<network_cidr>30</network_cidr>", "<network_cidr>29</network_cidr>", "is not a /30 inside 169.254.0.0/16"),
    ("<ip_address>169.254.21.6</ip_address>", "<ip_address>10.1.1.6</ip_address>", "is not a /30 inside 169.254.0.0/16"),
    ("<ip_address>169.254.21.6</ip_address>", "<ip_address>169.254.21.4</ip_address>", "network or broadcast address"),
    ("<ip_address>169.254.21.6</ip_address>", "<ip_address>169.254.22.6</ip_address>", "are in different /30s"),
    ("<ip_address>169.254.21.6</ip_address>", "<ip_address>169.254.1.2</ip_address>", "reserved by AWS"),
    # invalid IPs
    ("<ip_address>192.0.2.61</ip_address>", "<ip_address>192.0.2.361</ip_address>", "is not an IPv4 address"),
    ("<ip_address>192.0.2.61</ip_address>", "<ip_address>127.0.0.1</ip_address>", "is not a usable unicast address"),
    ("<ip_address>198.51.100.24</ip_address>", "<ip_address>198.51.100.25</ip_address>",
     "the vendor configured customer gateway 198.51.100.25, but the host's wan_address is 198.51.100.24"),
    # PSK outside the vendor's alphabet / length (and injection through it)
    ("Tq4m_Lz7.Wd2xVb9Kp3RsNc8YhJe5Fa1", "short", "the pre-shared key does not match the vendor's rules"),
    ("Tq4m_Lz7.Wd2xVb9Kp3RsNc8YhJe5Fa1", "0q4m_Lz7.Wd2xVb9Kp3Rs", "the pre-shared key does not match"),
    ("Tq4m_Lz7.Wd2xVb9Kp3RsNc8YhJe5Fa1", "Tq4m_Lz7\"; }\nsecrets {", "the pre-shared key does not match"),
    ("Tq4m_Lz7.Wd2xVb9Kp3RsNc8YhJe5Fa1", "x" * 65, "the pre-shared key does not match"),
    # ASN
    ("<asn>64512</asn>", "<asn>65020</asn>", "equals the cloud ASN"),
    ("<asn>65020</asn>", "<asn>4294967295</asn>", "is not a valid BGP ASN"),
    ("<asn>65020</asn>", "<asn>23456</asn>", "is not a valid BGP ASN"),
    # algorithms
    ("<encryption_protocol>aes-128-cbc</encryption_protocol>", "<encryption_protocol>rot13</encryption_protocol>",
     "unknown algorithm 'rot13'"),
    ("<lifetime>28800</lifetime>", "<lifetime>5</lifetime>", "ike/lifetime: 5 is out of range"),
    # connection id that would escape into a description line
    ('id="vpn-0f3a9c2d7e1b45a60"', 'id="vpn-1 }\nrouter bgp 1"', "connection id"),
])
def test_bad_vpn_file(vpn_xml, old, new, needle):
    msg = errors_of(base_vars(), vpn_with(vpn_xml, old, new))
    assert needle in msg
    assert "Fix:" in msg
    for secret in ("Tq4m_Lz7.Wd2xVb9Kp3RsNc8YhJe5Fa1", "Gv6s.Hn0Qc3Xm8_Rb5Tz2Wk7Lp4Dy9Ej"):
        assert secret not in msg


def test_wrong_tunnel_count(vpn_xml):
    one = re.sub(r"<ipsec_tunnel>.*?</ipsec_tunnel>", "", vpn_xml, count=1, flags=re.S)
    msg = errors_of(base_vars(), one)
    assert "the connection has 1 tunnel(s); a aws_vpn connection has exactly 2" in msg
    three = vpn_xml.replace("</vpn_connection>", re.search(r"<ipsec_tunnel>.*?</ipsec_tunnel>", vpn_xml, re.S).group(0)
                            + "</vpn_connection>")
    assert "has 3 tunnel(s)" in errors_of(base_vars(), three)


def test_tunnels_overlapping_each_other(vpn_xml):
    text = vpn_xml.replace("169.254.173.42", "169.254.21.6").replace("169.254.173.41", "169.254.21.5")
    assert "overlaps tunnel tun2 inside" in errors_of(base_vars(), text)


@pytest.mark.parametrize("overrides, needle", [
    ({"site_name": "Bad Name"}, "site_name: 'Bad Name' is not allowed here"),
    ({"site_name": "x" * 41}, "site_name"),
    ({"gateway_platform": "fortios"}, "gateway_platform: 'fortios' is not supported"),
    ({"cloud_provider": "azure"}, "cloud_provider: 'azure' is not supported"),
    ({"lan_cidrs": ["10.20.0.1/24"]}, "did you mean 10.20.0.0/24?"),
    ({"lan_cidrs": ["10.20.0.0/33"]}, "lan_cidrs[0]"),
    ({"lan_cidrs": "10.20.0.0/24"}, "must be a non-empty list"),
    ({"lan_cidrs": ["10.20.0.0/24", "10.20.0.128/25"]}, "overlap"),
    ({"dicomweb_cidrs": ["10.20.0.0/16"]}, "overlaps dicomweb_cidrs"),
    ({"lan_cidrs": ["169.254.0.0/16"]}, "overlaps the tunnel tun1 inside network"),
    ({"dicomweb_cidrs": ["169.254.173.0/24"]}, "dicomweb_cidrs: 169.254.173.0/24 overlaps the tunnel tun2 inside"),
    ({"wan_address": "300.1.1.1"}, "wan_address: '300.1.1.1' is not an IPv4 address"),
    ({"wan_address": "10.20.0.5"}, "lies inside 10.20.0.0/24"),
    ({"local_asn": 65000}, "local_asn: 65000 conflicts with the vendor file's customer ASN 65020"),
    ({"local_asn": 0}, "is not a valid BGP ASN"),
    ({"dicomweb_url": "http://dicom.vendor.example/x"}, "is not an https URL"),
    ({"dicomweb_url": "https://user:pw@dicom.vendor.example/x"}, "the URL carries credentials"),
    ({"dicomweb_url": "https://dicom.vendor.example/x\"; drop"}, "has characters stowpath does not accept"),
    ({"lan_interface": "eth1\nrouter bgp 1"}, "lan_interface"),
    ({"wan_interface": "ge-0/0/0.0; delete"}, "wan_interface"),
    ({"wan_interface": "eth0 {"}, "wan_interface"),
    ({"gateway_platform": "junos", "junos_lan_zone": "trust\""}, "junos_lan_zone"),
    ({"tcp_mss": 9000}, "tcp_mss: 9000 is out of range"),
    ({"allow_legacy_crypto": "maybe"}, "allow_legacy_crypto"),
    ({"accept_prefixes": ["10.200.0.0/24"]}, "no accepted prefix covers dicomweb_cidrs 10.100.0.0/24"),
    ({"site_name": None}, "site_name: is required"),
    ({"wan_address": None}, "wan_address: is required for a VPN gateway"),
])
def test_bad_host_vars(vpn_xml, overrides, needle):
    msg = errors_of(base_vars(**overrides), vpn_xml)
    assert needle in msg
    assert "host gw1" in msg


def test_all_var_errors_reported_together(vpn_xml):
    with pytest.raises(SiteErrors) as err:
        load(base_vars(site_name="BAD", lan_cidrs=["x"], dicomweb_url="ftp://x"), vpn_xml)
    fields = {e.field for e in err.value.errors}
    assert {"site_name", "lan_cidrs[0]", "dicomweb_url"} <= fields


def test_provider_file_mismatch(dx_json, vpn_xml):
    assert "this is JSON" in errors_of(base_vars(), dx_json)
    assert "looks like XML" in errors_of(base_vars(cloud_provider="aws_dx", dx_interface="eth2"), vpn_xml)


def test_local_asn_required_when_file_has_none(tmp_path):
    text = ("stowpath_params_version: 1\nconnection_type: vpn\nrouting: bgp\ncloud_asn: 64512\ntunnels:\n"
            "  - {remote_outside: 192.0.2.9, local_inside: 169.254.40.2/30, remote_inside: 169.254.40.1/30,"
            " psk: Abcdefgh.1234}\n")
    assert "local_asn: is required" in errors_of(base_vars(cloud_provider="manual"), text)
    site = load(base_vars(cloud_provider="manual", local_asn=4200000001), text)
    assert site["local_asn"] == 4200000001 and len(site["tunnels"]) == 1
    site = load(base_vars(cloud_provider="manual", local_asn="64500.1"), text)
    assert site["local_asn"] == 64500 * 65536 + 1


@pytest.mark.parametrize("key, value, needle", [
    ("authKey", "short", "BGP authentication key"),
    ("authKey", "has space in it", "BGP authentication key"),
    ("authKey", 'quote"inside', "BGP authentication key"),
    ("customerAddress", "169.254.244.2/24", "is not an IPv4 /29-/31 peering address"),
    ("customerAddress", "169.254.245.2/30", "are not two addresses of one peering subnet"),
    ("asn", 64512, "equals the cloud ASN"),
    ("vlan", 5000, "vlan: 5000 is out of range"),
])
def test_bad_dx(dx_json, key, value, needle):
    doc = json.loads(dx_json)
    vif = doc["virtualInterfaces"][0]
    target = vif["bgpPeers"][0] if key in vif["bgpPeers"][0] else vif
    target[key] = value
    hv = base_vars(cloud_provider="aws_dx", wan_interface=None, wan_address=None, dx_interface="eth2")
    assert needle in errors_of(hv, json.dumps(doc))


def test_dx_needs_dx_interface(dx_json):
    hv = base_vars(cloud_provider="aws_dx", wan_interface=None, wan_address=None)
    assert "dx_interface: is required for a Direct Connect gateway" in errors_of(hv, dx_json)
