"""Cloud answers as users get them: AWS (describe-vpn-connections JSON, Query API XML, every DX shape),
Azure (az CLI / ARM) and GCP (gcloud YAML/JSON, Compute REST). Published outputs are kept verbatim
(tests/unit/fixtures/params/*/SOURCES.md) and tested for the parser shape; ``derived-*`` copies are
adapted so that they validate end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.errors import SiteError, SiteErrors
from ansible_collections.stowpath.core.plugins.module_utils.params import ParseOptions, parse_documents
from ansible_collections.stowpath.core.plugins.module_utils.site import load_site, masked
from stowpath_testlib import base_vars

FIX = Path(__file__).parent / "fixtures" / "params"
AZ = FIX / "azure_vpn"
GCP = FIX / "gcp_ha_vpn"
AZ_FILES = ["derived-cli-vnet-gateway-show-active-active.json", "derived-cli-vpn-connection-show.json",
            "derived-cli-local-gateway-show.json", "derived-cli-shared-key-show.json"]
GCP_FILES = ["skillsboost-ha-vpn-lab-vpn-gateways-describe-vpc-demo-vpn-gw1.yaml",
             "skillsboost-ha-vpn-lab-routers-describe-vpc-demo-router1.yaml", "derived-vpn-tunnels-list-facility.json"]


def docs(folder: Path, *names: str) -> list[tuple[str, str]]:
    return [(str(folder / n), (folder / n).read_text()) for n in names]


def rest_body(name: str) -> str:
    """The response body of an azure-rest-api-specs example file."""
    return json.dumps(json.loads((AZ / name).read_text())["responses"]["200"]["body"])


def load(hv: dict, folder: Path) -> dict:
    return load_site(hv, "gw", str(folder))


def errors(hv: dict, folder: Path) -> str:
    with pytest.raises((SiteError, SiteErrors)) as err:
        load(hv, folder)
    return str(err.value)


# ---------------------------------------------------------------- AWS VPN: the API's JSON and XML

def test_aws_cli_reference_example_has_no_configuration_xml():
    # aws-cli's published example prints VpnConnections as one object and elides the XML
    with pytest.raises(SiteError, match=r"VpnConnections\[0\]\.CustomerGatewayConfiguration: does not hold"):
        parse_documents("aws_vpn", docs(FIX / "aws_vpn", "aws-cli-describe-vpn-connections.json"))


def test_describe_vpn_connections_json_picks_by_id():
    d = docs(FIX / "aws_vpn", "derived-describe-vpn-connections-two.json")
    with pytest.raises(SiteError, match="lists 2 VPN connections.*vpn_connection_id"):
        parse_documents("aws_vpn", d)
    p = parse_documents("aws_vpn", d, ParseOptions(vpn_connection_id="vpn-0f3a9c2d7e1b45a60"))
    assert p.connection_id == "vpn-0f3a9c2d7e1b45a60"
    assert [t.remote_outside for t in p.tunnels] == ["192.0.2.61", "192.0.2.188"]
    with pytest.raises(SiteError, match="the connection is 'deleted'"):
        parse_documents("aws_vpn", d, ParseOptions(vpn_connection_id="vpn-40f41529"))
    with pytest.raises(SiteError, match="no VPN connection 'vpn-1'"):
        parse_documents("aws_vpn", d, ParseOptions(vpn_connection_id="vpn-1"))


def test_describe_vpn_connections_shapes_of_query():
    doc = json.loads((FIX / "aws_vpn" / "derived-describe-vpn-connections-two.json").read_text())
    one = doc["VpnConnections"][0]
    for text in (json.dumps(one), json.dumps([one])):  # --query 'VpnConnections[0]' / 'VpnConnections'
        assert parse_documents("aws_vpn", [("f.json", text)]).connection_id == "vpn-0f3a9c2d7e1b45a60"


def test_embedded_xml_errors_name_the_json_field():
    doc = json.loads((FIX / "aws_vpn" / "derived-describe-vpn-connections-two.json").read_text())
    conn = doc["VpnConnections"][0]
    conn["CustomerGatewayConfiguration"] = conn["CustomerGatewayConfiguration"].replace(
        '<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.0"?><!DOCTYPE v [<!ENTITY e "boom">]>')
    with pytest.raises(SiteError, match=r"CustomerGatewayConfiguration: XML document: refused unsafe XML"):
        parse_documents("aws_vpn", [("f.json", json.dumps(conn))])


def test_query_api_xml_response():
    p = parse_documents("aws_vpn", docs(FIX / "aws_vpn", "derived-query-api-DescribeVpnConnectionsResponse.xml"))
    assert p.connection_id == "vpn-0f3a9c2d7e1b45a60" and len(p.tunnels) == 2


def test_aws_vpn_json_end_to_end_equals_the_xml(tmp_path):
    src = FIX / "aws_vpn" / "derived-describe-vpn-connections-two.json"
    via_json = load(base_vars(cloud_params_file=str(src), vpn_connection_id="vpn-0f3a9c2d7e1b45a60"), tmp_path)
    xml = Path(__file__).resolve().parents[2] / "inventories" / "example" / "params" / "aws-vpn-bgp.xml"
    via_xml = load(base_vars(cloud_params_file=str(xml)), tmp_path)
    assert via_json["tunnels"] == via_xml["tunnels"]


# ---------------------------------------------------------------- AWS Direct Connect: every shape

def test_dx_aws_cli_reference_example_older_shape():
    d = docs(FIX / "aws_dx", "aws-cli-describe-virtual-interfaces.json")
    with pytest.raises(SiteError, match="expected exactly 1 virtual interface, found 2"):
        parse_documents("aws_dx", d)
    dx = parse_documents("aws_dx", d, ParseOptions(vif_id="dxvif-ffhhk74f")).dx
    # no amazonSideAsn / bgpPeers / mtu in this answer: the embedded customerRouterConfig gives the Amazon ASN
    assert (dx.vlan, dx.local_asn, dx.remote_asn, dx.mtu) == (101, 65000, 7224, 1500)
    assert (dx.local_address, dx.remote_address) == ("192.168.1.2/30", "192.168.1.1/30")
    with pytest.raises(SiteError, match="'public' cannot reach a private DICOMweb endpoint"):
        parse_documents("aws_dx", d, ParseOptions(vif_id="dxvif-fgh0hcrk"))


def test_dx_customer_chosen_addresses_validate(tmp_path):
    src = FIX / "aws_dx" / "aws-cli-describe-virtual-interfaces.json"
    site = load(base_vars(cloud_provider="aws_dx", cloud_params_file=str(src), dx_interface="eth2",
                          dx_virtual_interface_id="dxvif-ffhhk74f", wan_address=None, wan_interface=None), tmp_path)
    assert (site["dx"]["local_address"], site["cloud_asn"], site["local_asn"]) == ("192.168.1.2", 7224, 65000)


def test_dx_asn_long():
    p = parse_documents("aws_dx", docs(FIX / "aws_dx", "derived-asnlong.json"))
    assert p.dx.local_asn == 4200000001


def test_dx_router_config_conflict_and_missing_amazon_asn():
    doc = json.loads((FIX / "aws_dx" / "aws-cli-describe-virtual-interfaces.json").read_text())
    vif = doc["virtualInterfaces"][0]
    vif["amazonSideAsn"] = 64512
    with pytest.raises(SiteError, match="amazon_bgp_asn: 7224 differs from amazonSideAsn 64512"):
        parse_documents("aws_dx", [("f.json", json.dumps(vif))])
    del vif["amazonSideAsn"]
    vif["customerRouterConfig"] = ""
    with pytest.raises(SiteError, match="amazonSideAsn: is missing"):
        parse_documents("aws_dx", [("f.json", json.dumps(vif))])


# ---------------------------------------------------------------- Azure

def test_azure_rest_examples_parse_verbatim():
    gw, conn = rest_body("rest-spec-VirtualNetworkGatewayGet.json"), rest_body("rest-spec-VirtualNetworkGatewayConnectionGet.json")
    p = parse_documents("azure_vpn", [("gw.json", gw), ("conn.json", conn)])
    # active-standby: one instance; the connection's custom addresses name other ip configurations, so the
    # gateway's own custom APIPA address (169.254.21.10) is used; enableBgp false -> static
    assert p.routing == "static" and p.connection_id == "connS2S"
    t = p.tunnels[0]
    assert (t.remote_outside, t.remote_inside, t.local_inside) == ("52.161.10.135", "169.254.21.10/30", "169.254.21.9/30")
    assert t.psk == "Abc123" and t.dpd_interval == 10
    assert t.ike["dh_group"] == "2" and any("default IPsec/IKE policy" in n for n in p.notes)
    key = rest_body("rest-spec-VirtualNetworkGatewayConnectionGetSharedKey.json")
    with pytest.raises(SiteError, match="different shared keys"):
        parse_documents("azure_vpn", [("gw.json", gw), ("conn.json", conn), ("key.json", key)])


def test_azure_cli_and_rest_shapes_are_equal():
    cli = parse_documents("azure_vpn", docs(AZ, *AZ_FILES))
    arm = []
    for source, text in docs(AZ, *AZ_FILES):
        doc = json.loads(text)
        if "type" in doc:  # nest the resource's fields under properties, as ARM answers
            top = {k: doc.pop(k) for k in ("id", "name", "type", "location", "etag") if k in doc}
            doc = {**top, "properties": doc}
        arm.append((source, json.dumps(doc)))
    assert parse_documents("azure_vpn", arm).tunnels == cli.tunnels


def test_azure_active_active_end_to_end(tmp_path):
    site = load(base_vars(cloud_provider="azure_vpn", cloud_params_file=[str(AZ / n) for n in AZ_FILES]), tmp_path)
    assert [(t["remote_outside"], t["remote_inside"], t["local_inside"]) for t in site["tunnels"]] == [
        ("52.161.10.135", "169.254.21.1", "169.254.21.2"), ("192.0.2.135", "169.254.22.1", "169.254.22.2")]
    assert (site["cloud_asn"], site["local_asn"], site["tcp_mss"]) == (65515, 65020, 1350)
    assert site["tunnels"][0]["ipsec"]["encryption"] == "aes256gcm16"
    assert "Azure.derived.key.1" not in json.dumps(masked(site))


@pytest.mark.parametrize("edit, needle", [
    (lambda gw, conn: conn.update(connectionProtocol="IKEv1"), "IKEv1 is not supported"),
    (lambda gw, conn: conn["gatewayCustomBgpIpAddresses"][0].update(customBgpIpAddress="169.254.30.1"),
     "outside Azure's APIPA BGP range"),
    (lambda gw, conn: (conn.pop("gatewayCustomBgpIpAddresses"),
                       gw["bgpSettings"]["bgpPeeringAddresses"][0].update(customBgpIpAddresses=[])),
     r"has no custom APIPA BGP address \(default BGP address: 10\.3\.1\.4\)"),
    (lambda gw, conn: gw["bgpSettings"]["bgpPeeringAddresses"].pop(), "active-active gateway lists 1 instance"),
    (lambda gw, conn: conn["ipsecPolicies"][0].update(pfsGroup="None"), "pfsGroup: is 'None'"),
    (lambda gw, conn: conn["gatewayCustomBgpIpAddresses"][0].update(customBgpIpAddress="169.254.21.3"),
     "network or broadcast address"),
])
def test_azure_errors_name_element_and_fix(edit, needle):
    gw = json.loads((AZ / AZ_FILES[0]).read_text())
    conn = json.loads((AZ / AZ_FILES[1]).read_text())
    edit(gw, conn)
    with pytest.raises(SiteError, match=needle) as err:
        parse_documents("azure_vpn", [("gw.json", json.dumps(gw)), ("conn.json", json.dumps(conn))] + docs(AZ, AZ_FILES[3]))
    assert "Fix:" in str(err.value)


def test_azure_missing_pieces():
    with pytest.raises(SiteError, match="virtual network gateway of connection connS2S \\(vpngw\\) is not among"):
        parse_documents("azure_vpn", docs(AZ, AZ_FILES[1], AZ_FILES[3]))
    with pytest.raises(SiteError, match="no shared key.*cloud_psk"):
        parse_documents("azure_vpn", docs(AZ, AZ_FILES[0], AZ_FILES[1]))
    p = parse_documents("azure_vpn", docs(AZ, AZ_FILES[0], AZ_FILES[1]), ParseOptions(psk=["Vault.key.123"]))
    assert {t.psk for t in p.tunnels} == {"Vault.key.123"}
    with pytest.raises(SiteError, match="not an Azure virtual network gateway"):
        parse_documents("azure_vpn", [("x.json", '{"hello": 1}')])


def test_azure_local_gateway_address_outside_the_links():
    lng = json.loads((AZ / AZ_FILES[2]).read_text())
    lng["bgpSettings"]["bgpPeeringAddress"] = "169.254.30.2"
    with pytest.raises(SiteError, match="169.254.30.2 lies in none of the tunnels"):
        parse_documents("azure_vpn", docs(AZ, AZ_FILES[0], AZ_FILES[1], AZ_FILES[3]) + [("lng.json", json.dumps(lng))])


# ---------------------------------------------------------------- GCP HA VPN

def test_gcp_published_outputs_parse_verbatim():
    p = parse_documents("gcp_ha_vpn", docs(GCP, GCP_FILES[0], GCP_FILES[1],
                                           "skillsboost-ha-vpn-lab-vpn-tunnels-describe-vpc-demo-tunnel0.yaml",
                                           "derived-vpn-tunnels-describe-vpc-demo-tunnel1.yaml"),
                        ParseOptions(psk=["Key.for.tunnel0", "Key.for.tunnel1"]))
    assert p.connection_id == "vpc-demo-vpn-gw1" and p.routing == "bgp"
    t0, t1 = p.tunnels
    assert (t0.remote_outside, t0.local_outside, t0.remote_inside, t0.local_inside) == (
        "35.242.117.95", "35.242.106.234", "169.254.0.1/30", "169.254.0.2/30")
    assert (t0.local_asn, t0.remote_asn, t0.hold_time, t0.psk) == (65002, 65001, 60, "Key.for.tunnel0")
    assert (t1.remote_outside, t1.remote_inside, t1.psk) == ("35.220.73.93", "169.254.1.1/30", "Key.for.tunnel1")


def test_gcp_docs_router_example_reads():
    router = docs(GCP, "cloud-docs-creating-ha-vpn-routers-describe-router-a.yaml")[0][1]
    tunnel = json.loads((GCP / GCP_FILES[2]).read_text())[0]
    base = "https://www.googleapis.com/compute/v1/projects/PROJECT_ID/regions/us-central1"
    tunnel.update(name="tunnel-a-to-on-prem-if-0", router=f"{base}/routers/router-a",
                  vpnGateway=f"{base}/vpnGateways/ha-vpn-gw-a", selfLink=f"{base}/vpnTunnels/tunnel-a-to-on-prem-if-0")
    gw = {"kind": "compute#vpnGateway", "name": "ha-vpn-gw-a", "selfLink": f"{base}/vpnGateways/ha-vpn-gw-a",
          "vpnInterfaces": [{"id": 0, "ipAddress": "192.0.2.10"}, {"id": 1, "ipAddress": "192.0.2.11"}]}
    p = parse_documents("gcp_ha_vpn", [("r.yaml", router), ("t.json", json.dumps(tunnel)), ("g.json", json.dumps(gw))],
                        ParseOptions(psk=["Key.for.tunnel0"]))
    assert (p.tunnels[0].local_asn, p.tunnels[0].remote_inside) == (65002, "169.254.0.1/30")


def test_gcp_end_to_end(tmp_path):
    site = load(base_vars(cloud_provider="gcp_ha_vpn", cloud_params_file=[str(GCP / n) for n in GCP_FILES],
                          cloud_psk="Gcp.shared.key.1"), tmp_path)
    assert [t["local_inside"] for t in site["tunnels"]] == ["169.254.0.2", "169.254.1.2"]
    assert site["tunnels"][0]["ike"]["lifetime"] == 36000 and site["tcp_mss"] == 1360
    assert "Gcp.shared.key.1" not in json.dumps(masked(site))


def test_gcp_rest_list_answer_and_json_equal_yaml():
    yaml_docs = docs(GCP, *GCP_FILES)
    tunnels = json.loads((GCP / GCP_FILES[2]).read_text())
    rest = yaml_docs[:2] + [("list.json", json.dumps({"kind": "compute#vpnTunnelList", "items": tunnels}))]
    opts = ParseOptions(psk=["Gcp.shared.key.1"])
    assert parse_documents("gcp_ha_vpn", rest, opts).tunnels == parse_documents("gcp_ha_vpn", yaml_docs, opts).tunnels


@pytest.mark.parametrize("files, opts, needle", [
    (GCP_FILES, ParseOptions(), "GCP never returns the shared secret"),
    ([GCP_FILES[0], GCP_FILES[2]], ParseOptions(psk=["k"]), "the Cloud Router of tunnel vpc-demo-tunnel0 \\(vpc-demo-router1\\)"),
    ([GCP_FILES[1], GCP_FILES[2]], ParseOptions(psk=["k"]), "the HA VPN gateway of tunnel vpc-demo-tunnel0"),
    (GCP_FILES, ParseOptions(psk=["a", "b", "c"]), "lists 3 keys for 2 tunnel"),
    (GCP_FILES[:2], ParseOptions(psk=["k"]), "no HA VPN tunnel among the files"),
])
def test_gcp_errors(files, opts, needle):
    with pytest.raises(SiteError, match=needle):
        parse_documents("gcp_ha_vpn", docs(GCP, *files), opts)


def test_gcp_ikev1_and_cipher_suite():
    tunnels = json.loads((GCP / GCP_FILES[2]).read_text())
    tunnels[0]["ikeVersion"] = 1
    with pytest.raises(SiteError, match="IKEv1 is not supported"):
        parse_documents("gcp_ha_vpn", docs(GCP, *GCP_FILES[:2]) + [("t.json", json.dumps(tunnels))], ParseOptions(psk=["k"]))
    tunnels[0]["ikeVersion"] = 2
    tunnels[0]["cipherSuite"] = {"phase1": {"encryption": ["AES-GCM-16-256"], "prf": ["PRF-HMAC-SHA2-384"], "dh": ["Group-20"]},
                                 "phase2": {"encryption": ["AES-GCM-16-256"], "pfs": ["Group-20"]}}
    p = parse_documents("gcp_ha_vpn", docs(GCP, *GCP_FILES[:2]) + [("t.json", json.dumps(tunnels))], ParseOptions(psk=["k"]))
    assert p.tunnels[0].ike == {"encryption": "aes-256-gcm-16", "integrity": "hmac-sha2-384", "dh_group": "20",
                                "lifetime": 36000}


def test_yaml_anchors_and_tags_are_refused():
    with pytest.raises(SiteError, match="anchors/aliases"):
        parse_documents("gcp_ha_vpn", [("x.yaml", "a: &x [1]\nb: *x\n")], ParseOptions(psk=["k"]))
    with pytest.raises(SiteError, match="YAML tags"):
        parse_documents("gcp_ha_vpn", [("x.yaml", "a: !!python/object:os.system ls\n")], ParseOptions(psk=["k"]))


# ---------------------------------------------------------------- site variables

def test_site_variables_for_the_new_providers(tmp_path):
    gcp = base_vars(cloud_provider="gcp_ha_vpn", cloud_params_file=[str(GCP / n) for n in GCP_FILES])
    assert "cloud_psk" in errors(gcp, tmp_path)
    assert "cloud_psk: is set, but aws_vpn's file carries the keys" in errors(base_vars(cloud_psk="Abcdefgh.1"), tmp_path)
    assert "cloud_psk: must be a string or a list" in errors(dict(gcp, cloud_psk=[1, 2]), tmp_path)
    assert "must be a path or a list of paths" in errors(base_vars(cloud_params_file=[1]), tmp_path)
    two = [str(FIX / "aws_vpn" / "derived-query-api-DescribeVpnConnectionsResponse.xml")] * 2
    assert "aws_vpn takes exactly one file, got 2" in errors(base_vars(cloud_params_file=two), tmp_path)
    wrong = dict(gcp, cloud_psk="Gcp.shared.key.1", wan_address="198.51.100.99")
    assert "wan_address is 198.51.100.99" in errors(wrong, tmp_path)
    assert "gcp_vpn_tunnels: is required with cloud_params_source: api" in errors(
        dict(gcp, cloud_params_source="api", cloud_params_file=None), tmp_path)
