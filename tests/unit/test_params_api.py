"""cloud_params_source: api -- stowpath calls the AWS API itself (boto3, standard credential chain).

moto where it implements the call (DescribeVpnConnections: the mechanics only, its XML is a fixed
template); botocore's Stubber with answers shaped like the API reference elsewhere (Direct Connect
virtual interfaces, a realistic VPN answer)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from ansible_collections.stowpath.core.plugins.module_utils.errors import SiteError, SiteErrors
from ansible_collections.stowpath.core.plugins.module_utils.params import api
from ansible_collections.stowpath.core.plugins.module_utils.site import load_site, masked
from botocore.stub import Stubber
from stowpath_testlib import base_vars

FIX = Path(__file__).parent / "fixtures" / "params"
FAKE_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
FAKE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("STOWPATH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return tmp_path


def vpn_answer() -> dict:
    doc = json.loads((FIX / "aws_vpn" / "derived-describe-vpn-connections-two.json").read_text())
    return {"VpnConnections": [doc["VpnConnections"][0]]}


def dx_answer() -> dict:
    return json.loads((FIX / "aws_dx" / "aws-cli-describe-virtual-interfaces.json").read_text())


def stubbed(service: str, method: str, answer: dict, params: dict):
    client = boto3.client(service, region_name="us-east-1")
    stub = Stubber(client)
    stub.add_response(method, answer, params)
    stub.activate()
    return client, stub


def test_moto_describe_vpn_connections_mechanics(aws_env):
    moto = pytest.importorskip("moto")
    with moto.mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        cgw = ec2.create_customer_gateway(Type="ipsec.1", PublicIp="198.51.100.24", BgpAsn=65020)["CustomerGateway"]
        vgw = ec2.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]
        vpn_id = ec2.create_vpn_connection(Type="ipsec.1", CustomerGatewayId=cgw["CustomerGatewayId"],
                                           VpnGatewayId=vgw["VpnGatewayId"])["VpnConnection"]["VpnConnectionId"]
        fetched = api.fetch("aws_vpn", vpn_id)
    assert fetched.call == "ec2:DescribeVpnConnections" and fetched.resource_id == vpn_id
    answer = json.loads(fetched.text)
    assert answer["VpnConnections"][0]["VpnConnectionId"] == vpn_id
    shown = json.dumps(fetched.masked)
    assert "<pre_shared_key>********</pre_shared_key>" in shown or "CustomerGatewayConfiguration" not in shown
    cache = Path(fetched.cache_path)
    assert oct(cache.stat().st_mode & 0o777) == "0o600"
    assert json.loads(cache.read_text()) == fetched.masked


def test_moto_unknown_connection_is_a_clear_error(aws_env):
    moto = pytest.importorskip("moto")
    with moto.mock_aws(), pytest.raises(SiteError) as err:
        api.fetch("aws_vpn", "vpn-0123456789abcdef0")
    assert "AWS answered" in str(err.value) and FAKE_SECRET not in str(err.value)


def test_stubbed_vpn_end_to_end_and_check_output(aws_env):
    vpn_id = "vpn-0f3a9c2d7e1b45a60"
    client, stub = stubbed("ec2", "describe_vpn_connections", vpn_answer(), {"VpnConnectionIds": [vpn_id]})

    def fetch(provider, resource_id, region=None):
        return api.fetch(provider, resource_id, region, client=client)

    hv = base_vars(cloud_params_source="api", vpn_connection_id=vpn_id, cloud_params_file=None)
    site = load_site(hv, "gw", str(aws_env), fetch=fetch)
    stub.assert_no_pending_responses()
    assert [t["remote_outside"] for t in site["tunnels"]] == ["192.0.2.61", "192.0.2.188"]
    shown = json.dumps(masked(site))
    assert site["params_fetched"]["call"] == "ec2:DescribeVpnConnections"
    assert "Tq4m_Lz7.Wd2xVb9Kp3RsNc8YhJe5Fa1" not in shown and "<pre_shared_key>********" in shown
    assert FAKE_SECRET not in shown and FAKE_KEY_ID not in shown


def test_stubbed_dx_older_shape(aws_env):
    vif = "dxvif-ffhhk74f"
    client, stub = stubbed("directconnect", "describe_virtual_interfaces", dx_answer(), {"virtualInterfaceId": vif})
    fetched = api.fetch("aws_dx", vif, client=client)
    shown = json.dumps(fetched.masked)
    assert "asdf34example" not in shown and "<bgp_auth_key>********</bgp_auth_key>" in shown
    hv = base_vars(cloud_provider="aws_dx", cloud_params_source="api", dx_virtual_interface_id=vif,
                   cloud_params_file=None, dx_interface="eth2", wan_address=None, wan_interface=None)
    client2, _ = stubbed("directconnect", "describe_virtual_interfaces", dx_answer(), {"virtualInterfaceId": vif})
    site = load_site(hv, "gw", str(aws_env), fetch=lambda p, r, region=None: api.fetch(p, r, region, client=client2))
    assert (site["dx"]["vlan"], site["cloud_asn"]) == (101, 7224)


def test_api_errors_never_show_credentials(aws_env):
    client = boto3.client("ec2", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_client_error("describe_vpn_connections", "UnauthorizedOperation",
                          "You are not authorized to perform this operation.")
    stub.activate()
    with pytest.raises(SiteError) as err:
        api.fetch("aws_vpn", "vpn-1", client=client, cache="")
    text = str(err.value)
    assert "UnauthorizedOperation" in text and FAKE_SECRET not in text and FAKE_KEY_ID not in text


def test_no_credentials(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(SiteError, match="no AWS credentials found"):
        api.fetch("aws_vpn", "vpn-1", region="us-east-1", cache="")


def test_api_site_variables(tmp_path):
    def errors(**kw) -> str:
        with pytest.raises((SiteError, SiteErrors)) as err:
            load_site(base_vars(**kw), "gw", str(tmp_path), fetch=lambda *a, **k: pytest.fail("no call expected"))
        return str(err.value)

    assert "vpn_connection_id: is required with cloud_params_source: api" in errors(cloud_params_source="api",
                                                                                  cloud_params_file=None)
    assert "is set although cloud_params_source is api" in errors(cloud_params_source="api", vpn_connection_id="vpn-1")
    assert "'ftp' is not file or api" in errors(cloud_params_source="ftp")
    assert "azure_vpn_connection: is required with cloud_params_source: api" in errors(
        cloud_provider="azure_vpn", cloud_params_source="api", cloud_params_file=None)
    assert "api is not available for manual" in errors(cloud_provider="manual", cloud_params_source="api",
                                                       cloud_params_file=None)
