"""The files the lab writes when it plays Azure or Google Cloud (no lab needed): they parse with stowpath's own
parsers and site model, the cloud side accepts what stowpath renders from them, and the lab inventory's cloud
variables win over the committed host_vars/cgw.yml."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "collections"))

from ansible_collections.stowpath.core.plugins.module_utils.crypto_policy import strongswan_proposal  # noqa: E402
from ansible_collections.stowpath.core.plugins.module_utils.site import load_site  # noqa: E402

from lab.stowlab import cloud_files, configs, vendor_files  # noqa: E402
from lab.stowlab.params import make_params  # noqa: E402
from lab.stowlab.topology import CLOUD_ASNS, FACILITY_ASN, VPN_ENDPOINTS  # noqa: E402

LAB_INV = REPO / "inventories" / "lab"
OAUTH = {"token_url": "https://dicom.lab.example/oauth2/token", "client_id": "lab-facility",
         "client_secret_file": "/nonexistent/lab-facility.secret", "audience": "https://dicom.lab.example/dicomweb"}
APIPA = [ipaddress.ip_network(n) for n in ("169.254.21.0/24", "169.254.22.0/24")]


def lab_site(tmp_path: Path, cloud: str, policy: dict[str, Any] | None = configs.AZURE_CUSTOM_POLICY
             ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Write the cloud's files as the lab does (0600) and load the site of cgw from them."""
    params = make_params(0, cloud)
    files = tmp_path / "files"
    files.mkdir()
    for name, text in cloud_files.provider_files(params, policy).items():
        (files / name).write_text(text)
        (files / name).chmod(0o600)
    hv = yaml.safe_load((LAB_INV / "host_vars" / "cgw.yml").read_text())
    hv.update(cloud_files.cgw_cloud_vars(cloud, OAUTH))
    # what the inventory's lookups read from the lab's 0600 files
    if cloud == "gcp":
        hv["cloud_psk"] = [t["psk"] for t in params["vpn"]["tunnels"]]
    else:
        hv["dicomweb_client_secret"] = "synthetic-lab-secret"
    return load_site(hv, "cgw", str(tmp_path)), params


def accepts(cloud_proposals: str, proposal: str) -> bool:
    """Would a strongSwan responder with ``cloud_proposals`` accept the single ``proposal``?"""
    wanted = set(proposal.split("-"))
    return any(wanted <= set(p.split("-")) for p in cloud_proposals.split(","))


@pytest.mark.parametrize("cloud", ["azure", "gcp"])
def test_the_lab_files_parse_into_the_lab_tunnels(tmp_path: Path, cloud: str) -> None:
    site, params = lab_site(tmp_path, cloud)
    assert (site["cloud_provider"], site["cloud_asn"], site["local_asn"]) == (
        {"azure": "azure_vpn", "gcp": "gcp_ha_vpn"}[cloud], CLOUD_ASNS[cloud], FACILITY_ASN)
    assert site["routing"] == "bgp" and not site["crypto"]["upgraded"]
    assert len(site["tunnels"]) == 2
    for t, lab_t, endpoint in zip(site["tunnels"], params["vpn"]["tunnels"], VPN_ENDPOINTS, strict=True):
        assert t["remote_outside"] == endpoint and t["local_outside"] == "198.51.100.24"
        assert (t["remote_inside"], t["local_inside"]) == (lab_t["cloud_inside"], lab_t["customer_inside"])
        assert t["psk"] == lab_t["psk"] and t["ike"]["version"] == 2
        if cloud == "azure":
            assert any(ipaddress.ip_address(t["remote_inside"]) in n for n in APIPA)
    if cloud == "azure":  # one shared key per Azure connection
        assert site["tunnels"][0]["psk"] == site["tunnels"][1]["psk"]
        assert site["dicomweb_auth"]["modes"] == ["bearer"]
    else:
        assert site["tunnels"][0]["psk"] != site["tunnels"][1]["psk"]
        assert site["tunnels"][0]["bgp"]["hold_time"] == 60  # Cloud Router keepalive 20 s


@pytest.mark.parametrize("cloud", ["azure", "gcp"])
def test_the_cloud_side_accepts_what_stowpath_renders(tmp_path: Path, cloud: str) -> None:
    site, _ = lab_site(tmp_path, cloud)
    crypto = configs.cloud_crypto(cloud, configs.CloudProfile())
    t = site["tunnels"][0]
    ike = strongswan_proposal(t["ike"]["encryption"], t["ike"]["integrity"], t["ike"]["dh_group"], ike=True)
    esp = strongswan_proposal(t["ipsec"]["encryption"], t["ipsec"]["integrity"], t["ipsec"]["pfs_group"], ike=False)
    assert accepts(crypto.ike, ike), (ike, crypto.ike)
    assert accepts(crypto.esp, esp), (esp, crypto.esp)
    assert crypto.version == 2


def test_azure_default_policy_is_dh2_which_stowpath_upgrades(tmp_path: Path) -> None:
    """Without a custom policy Azure's main mode offers DH group 2 only; stowpath's crypto policy renders group 14,
    which an Azure gateway on its default policy refuses (the lab's knob STOWPATH_LAB_CLOUD_AZURE_POLICY=default)."""
    site, _ = lab_site(tmp_path, "azure", policy=None)
    assert any("dh_group 2 -> 14" in n for n in site["crypto"]["upgraded"])
    t = site["tunnels"][0]
    ike = strongswan_proposal(t["ike"]["encryption"], t["ike"]["integrity"], t["ike"]["dh_group"], ike=True)
    default = configs.cloud_crypto("azure", configs.CloudProfile(azure_policy="default"))
    assert not accepts(default.ike, ike) and accepts(default.ike, "aes256-sha256-modp1024")


def test_cloud_side_configs_play_the_provider() -> None:
    for cloud in ("azure", "gcp"):
        params = make_params(0, cloud)
        frr = configs.cloud_frr(params, profile=configs.CloudProfile())
        swan = configs.cloud_swanctl(params, profile=configs.CloudProfile())
        assert f"router bgp {CLOUD_ASNS[cloud]}\n" in frr
        # the DX router stays AWS Direct Connect (Amazon side ASN 64512)
        assert f"local-as {CLOUD_ASNS['aws']} no-prepend replace-as" in frr
        assert swan.count("version = 2") == 2 and "version = 0" not in swan
    aws = make_params(0, "aws")
    assert "local-as" not in configs.cloud_frr(aws, profile=configs.CloudProfile())
    with pytest.raises(ValueError, match="use one of aws, azure, gcp"):
        make_params(0, "oracle")


def test_the_inventory_picks_the_cloud_over_the_committed_cgw_yml(tmp_path: Path, monkeypatch) -> None:
    """Ansible reads host_vars/cgw/ instead of host_vars/cgw.yml: 00-cgw.yml (a symlink to it) + the cloud's vars."""
    inv = tmp_path / "inventory"
    shutil.copytree(LAB_INV, inv, ignore=shutil.ignore_patterns("files", "cgw"))
    shutil.rmtree(inv / "group_vars" / "lab_vendor_routers", ignore_errors=True)
    monkeypatch.setattr(vendor_files, "CGW_CLOUD_VARS", inv / "host_vars" / "cgw")
    monkeypatch.setattr(vendor_files, "ROUTERS_CLOUD_VARS", inv / "group_vars" / "lab_vendor_routers")
    written = vendor_files.write_cloud_vars("gcp", None)
    assert os.readlink(inv / "host_vars" / "cgw" / "00-cgw.yml") == "../cgw.yml"
    assert os.readlink(inv / "group_vars" / "lab_vendor_routers" / "00-lab_vendor_routers.yml") == \
        "../lab_vendor_routers.yml"
    assert [oct(Path(w).stat().st_mode & 0o777) for w in written] == ["0o600", "0o600"]
    ansible_inventory = Path(sys.executable).parent / "ansible-inventory"
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))

    def host_vars(host: str = "cgw") -> dict[str, Any]:
        out = subprocess.run([str(ansible_inventory), "-i", str(inv), "--host", host], capture_output=True,
                             text=True, env=env, cwd=REPO, timeout=60, check=True)
        return json.loads(out.stdout)

    hv, router = host_vars(), host_vars("iosxe-cli")
    assert hv["cloud_provider"] == "gcp_ha_vpn" and hv["cloud_params_file"][0] == "files/gcp-vpn-gateway.json"
    assert "gcp-cloud-psk.json" in hv["cloud_psk"] and hv["ansible_host"] == "169.254.250.10"
    assert router["cloud_provider"] == "gcp_ha_vpn" and router["gateway_known_hosts"].endswith("known_hosts")
    assert vendor_files.write_cloud_vars("aws", None) == [] and not (inv / "host_vars" / "cgw").exists()
    hv, router = host_vars(), host_vars("iosxe-cli")
    assert (hv["cloud_provider"], hv["cloud_params_file"]) == ("aws_vpn", "files/aws-vpn.xml")
    assert (router["cloud_provider"], router["cloud_params_file"]) == ("aws_vpn", "files/aws-vpn.xml")
