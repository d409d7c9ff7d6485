"""Vendor files in Ansible Vault, the world-readable warning, one-pass validation, connection variables,
Orthanc's CA bundle (added to, not replaced) and the fleet entry of an unreachable router."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.ansible_site import controller_site_args
from ansible_collections.stowpath.core.plugins.module_utils.drift.fleet import host_entry
from ansible_collections.stowpath.core.plugins.module_utils.errors import SiteError, SiteErrors
from ansible_collections.stowpath.core.plugins.module_utils.pacs import orthanc_config as oc
from ansible_collections.stowpath.core.plugins.module_utils.params import check_text, params_file_warnings
from ansible_collections.stowpath.core.plugins.module_utils.site import load_site
from stowpath_testlib import EXAMPLE_PARAMS, base_vars

VAULTED = "$ANSIBLE_VAULT;1.1;AES256\n6134356162\n"


def errors_of(hv: dict, inv: Path) -> str:
    with pytest.raises((SiteError, SiteErrors)) as err:
        load_site(hv, "gw", str(inv))
    return str(err.value)


def test_vaulted_file_without_the_password_names_the_fix(tmp_path: Path) -> None:
    (tmp_path / "params.xml").write_text(VAULTED)
    text = errors_of(base_vars(), tmp_path)
    assert "encrypted with Ansible Vault" in text and "--vault-password-file" in text
    assert "malformed" not in text and "download the configuration again" not in text
    with pytest.raises(SiteError, match="encrypted with Ansible Vault"):
        check_text(VAULTED, "x.xml")


def test_action_args_decrypt_in_memory_and_name_connection_vars(tmp_path: Path) -> None:
    clear = (EXAMPLE_PARAMS / "aws-vpn-bgp.xml").read_text()
    (tmp_path / "params.xml").write_text(VAULTED)
    args = {"site": base_vars(gateway_platform="cisco_iosxe"), "hostname": "gw", "inventory_dir": str(tmp_path)}
    out = controller_site_args(args, {"gateway_username": "admin", "gateway_password": "s3cret"},
                               lambda p: Path(p).read_bytes(), lambda raw, p: clear.encode(), True)
    assert out["params_content"] == {str(tmp_path / "params.xml"): clear}
    conn = out["site"]["stowpath_connection"]
    assert conn == {"required": True, "set": ["gateway_password", "gateway_username"]}
    assert "s3cret" not in repr(out["site"])
    assert (tmp_path / "params.xml").read_text() == VAULTED  # nothing written in clear
    plain = controller_site_args({"site": base_vars(), "inventory_dir": str(EXAMPLE_PARAMS)}, {},
                                 lambda p: b"<xml/>", lambda raw, p: b"", False)
    assert "params_content" not in plain


def test_world_readable_vendor_file_warns(tmp_path: Path) -> None:
    f = tmp_path / "params.xml"
    f.write_text((EXAMPLE_PARAMS / "aws-vpn-bgp.xml").read_text())
    os.chmod(f, 0o644)
    site = load_site(base_vars(), "gw", str(tmp_path))
    assert any("readable by its group and every user" in w and "ansible-vault" in w for w in site["warnings"])
    os.chmod(f, 0o600)
    assert params_file_warnings(str(f)) == []
    assert not any("readable" in w for w in load_site(base_vars(), "gw", str(tmp_path))["warnings"])


def test_every_problem_of_a_host_in_one_pass(tmp_path: Path) -> None:
    (tmp_path / "params.xml").write_text((EXAMPLE_PARAMS / "aws-vpn-bgp.xml").read_text())
    # an overlap found from the host variables alone, and an ASN conflict found only with the vendor file
    text = errors_of(base_vars(lan_cidrs=["10.100.0.0/25"], local_asn=65001), tmp_path)
    assert "overlaps dicomweb_cidrs" in text
    assert "conflicts with the vendor file's customer ASN" in text


def test_router_connection_variables_are_required_when_the_run_talks_to_it(tmp_path: Path) -> None:
    (tmp_path / "params.xml").write_text((EXAMPLE_PARAMS / "aws-vpn-bgp.xml").read_text())
    hv = base_vars(gateway_platform="cisco_iosxe", wan_interface="GigabitEthernet1", lan_interface="GigabitEthernet2",
                   lan_cidrs=["10.100.0.0/25"])
    text = errors_of(dict(hv, stowpath_connection={"required": True, "set": []}), tmp_path)
    assert "gateway_username: is required to reach" in text
    assert "gateway_password or gateway_key_file" in text
    assert "overlaps dicomweb_cidrs" in text  # in the same pass
    ok = dict(hv, lan_cidrs=["10.20.0.0/24"],
              stowpath_connection={"required": True, "set": ["gateway_username", "gateway_key_file"]})
    assert load_site(ok, "gw", str(tmp_path))["site_name"] == "test-facility"
    rendering = dict(hv, lan_cidrs=["10.20.0.0/24"], stowpath_connection={"required": False, "set": []})
    assert load_site(rendering, "gw", str(tmp_path))  # rendering needs no connection


def _cert(label: str) -> str:
    return f"-----BEGIN CERTIFICATE-----\n{label}AAAA\n-----END CERTIFICATE-----\n"


def test_orthanc_ca_is_added_to_the_existing_bundle(tmp_path: Path) -> None:
    system = tmp_path / "system-ca.pem"
    system.write_text(_cert("OTHERPEER") + _cert("PUBLICROOT"))
    tls = tmp_path / "tls"
    tls.mkdir()
    vendor = tls / "ca-bundle.pem"
    vendor.write_text(_cert("VENDORCA"))
    cfg = tmp_path / "orthanc.json"
    cfg.write_text(f'{{\n  // Orthanc\n  "HttpsCACertificates" : "{system}",\n  "HttpsVerifyPeers" : true\n}}\n')
    assert oc.ca_status(str(cfg), str(vendor))["status"] == "fail"
    edits = oc.plan_ca_merge(str(cfg), str(vendor))
    merged = tls / oc.MERGED_BUNDLE
    assert set(edits) == {str(cfg), str(merged)}
    oc.write_edits(edits)
    text = merged.read_text()
    assert "OTHERPEER" in text and "PUBLICROOT" in text and "VENDORCA" in text
    assert system.read_text() == _cert("OTHERPEER") + _cert("PUBLICROOT")  # the original is untouched
    assert oc.ca_status(str(cfg), str(vendor))["status"] == "pass"
    assert "// Orthanc" in cfg.read_text()
    assert oc.plan_ca_merge(str(cfg), str(vendor)) == {}  # idempotent


def test_orthanc_without_a_bundle_gets_the_vendor_ca(tmp_path: Path) -> None:
    vendor = tmp_path / "ca.pem"
    vendor.write_text(_cert("VENDORCA"))
    cfg = tmp_path / "orthanc.json"
    cfg.write_text('{ "HttpsCACertificates" : "" }\n')
    oc.write_edits(oc.plan_ca_merge(str(cfg), str(vendor)))
    assert oc.ca_status(str(cfg), str(vendor))["status"] == "pass"


def test_unreachable_router_is_a_fleet_entry_with_the_reason() -> None:
    raw = {"host": "edge", "site_name": "s", "platform": "p",
           "result": {"status": "unreachable", "device_unreachable": True, "items": [], "changed": False,
                      "error": "cannot open an SSH CLI session to 127.0.0.1:1"}}
    entry = host_entry(raw)
    assert entry["status"] == "unreachable" and "127.0.0.1:1" in entry["error"]
