"""pacs_destination logic against a real Orthanc PACS on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.pacs.base import (
    DestinationSpec,
    SpecError,
    stow_and_base,
)
from ansible_collections.stowpath.core.plugins.module_utils.pacs.checklist import (
    ManualDriver,
    checklist_text,
)
from ansible_collections.stowpath.core.plugins.module_utils.pacs.destination import ensure_destination
from ansible_collections.stowpath.core.plugins.module_utils.pacs.orthanc import (
    FINGERPRINT_KEY,
    OrthancApi,
    OrthancDriver,
)

from lab.services import pacs as lab_pacs

SECRET = "Basic-Pw-Under-Test-91"
KEY_SECRET = "Key-Pw-Under-Test-37"


def driver_for(h: lab_pacs.OrthancHandle, config: bool = True) -> OrthancDriver:
    return OrthancDriver(OrthancApi(h.url), h.config if config else None, fingerprint_iterations=1000)


def spec(name: str, **kw: object) -> DestinationSpec:
    base = {"name": name, "url": "https://dicom.vendor.example/dicomweb/studies", "client_cert": "/etc/tls/client.crt",
            "client_key": "/etc/tls/client.key", "username": "facility", "password": SECRET}
    base.update(kw)
    return DestinationSpec(**base)  # type: ignore[arg-type]


def no_secret(obj: object) -> None:
    text = json.dumps(obj, default=str)
    assert SECRET not in text and KEY_SECRET not in text


def test_stow_and_base_accepts_both_forms() -> None:
    assert stow_and_base("https://h.example/dicomweb/studies") == (
        "https://h.example/dicomweb/studies", "https://h.example/dicomweb/")
    assert stow_and_base("https://h.example:8443/dicomweb/") == (
        "https://h.example:8443/dicomweb/studies", "https://h.example:8443/dicomweb/")


def test_create_then_idempotent(pacs: lab_pacs.OrthancHandle) -> None:
    d = driver_for(pacs)
    s = spec("create-idem", client_key_password=KEY_SECRET, http_headers={"X-Facility": "secret-token-1"})
    first = ensure_destination(d, s)
    assert first["changed"] is True
    stored = d.get_destination("create-idem")
    assert stored is not None
    assert stored["Url"] == "https://dicom.vendor.example/dicomweb/"
    assert stored["Timeout"] == 300
    assert stored["Username"] == "facility"
    assert stored["CertificateFile"] == "/etc/tls/client.crt"
    assert stored[FINGERPRINT_KEY].startswith("pbkdf2-sha256$")
    assert {c["id"]: c["status"] for c in first["checks"]}["pacs.destination.create-idem"] == "pass"
    no_secret(first)
    no_secret(stored)

    second = ensure_destination(d, s)
    assert second["changed"] is False
    assert second["changes"] == []
    assert second["diff"] == []


def test_update_readable_and_secret_fields(pacs: lab_pacs.OrthancHandle) -> None:
    d = driver_for(pacs)
    ensure_destination(d, spec("update"))
    r = ensure_destination(d, spec("update", timeout=900))
    assert r["changed"] is True and r["changes"] == ["Timeout"]
    assert d.get_destination("update")["Timeout"] == 900  # type: ignore[index]
    assert "Timeout: 300" in r["diff"][0]["before"] and "Timeout: 900" in r["diff"][0]["after"]

    # Only the password changes: Orthanc never shows it, the fingerprint tells.
    r = ensure_destination(d, spec("update", timeout=900, password="Another-Pw-55"))
    assert r["changed"] is True
    assert r["changes"] == ["Password/CertificateKeyFile/CertificateKeyPassword/HttpHeaders values"]
    assert "Another-Pw-55" not in json.dumps(r) and SECRET not in json.dumps(r)
    assert ensure_destination(d, spec("update", timeout=900, password="Another-Pw-55"))["changed"] is False

    # The key path is hidden by Orthanc too: still detected.
    r = ensure_destination(d, spec("update", timeout=900, password="Another-Pw-55", client_key="/other.key"))
    assert r["changed"] is True


def test_destination_made_by_hand_is_replaced(pacs: lab_pacs.OrthancHandle) -> None:
    d = driver_for(pacs)
    status, _ = d.api.request("PUT", "/dicom-web/servers/byhand",
                              body={"Url": "https://dicom.vendor.example/dicomweb/", "Timeout": 300, "HasDelete": True,
                                    "Username": "facility", "Password": SECRET,
                                    "CertificateFile": "/etc/tls/client.crt", "CertificateKeyFile": "/etc/tls/client.key"})
    assert status == 200
    r = ensure_destination(d, spec("byhand"), check_mode=True)
    assert r["changed"] is True
    assert "HasDelete" in r["changes"]  # a stray key is drift
    assert any("unknown" in str(c) for c in r["diff"][0]["before"].splitlines())
    assert ensure_destination(d, spec("byhand"))["changed"] is True
    assert "HasDelete" not in d.get_destination("byhand")  # type: ignore[operator]


def test_check_mode_changes_nothing(pacs: lab_pacs.OrthancHandle) -> None:
    d = driver_for(pacs)
    r = ensure_destination(d, spec("checkmode"), check_mode=True)
    assert r["changed"] is True
    assert d.get_destination("checkmode") is None
    main = {c["id"]: c for c in r["checks"]}["pacs.destination.checkmode"]
    assert main["status"] == "warn" and "check mode" in main["cause"]
    ensure_destination(d, spec("checkmode"))
    r = ensure_destination(d, spec("checkmode", timeout=600), check_mode=True)
    assert r["changed"] is True and r["changes"] == ["Timeout"]
    assert d.get_destination("checkmode")["Timeout"] == 300  # type: ignore[index]


def test_timeout_below_vendor_minimum_is_refused(pacs: lab_pacs.OrthancHandle) -> None:
    d = driver_for(pacs)
    with pytest.raises(SpecError, match="below the minimum 300"):
        ensure_destination(d, spec("short", timeout=299))
    with pytest.raises(SpecError, match="below the minimum 600"):
        ensure_destination(d, spec("short", timeout=300), min_timeout=600)
    assert d.get_destination("short") is None
    r = ensure_destination(d, spec("short", timeout=600), min_timeout=600)
    assert {c["id"]: c["status"] for c in r["checks"]}["pacs.destination.short.timeout"] == "pass"


def test_invalid_input_is_refused(pacs: lab_pacs.OrthancHandle) -> None:
    d = driver_for(pacs)
    with pytest.raises(SpecError, match="client_cert and client_key"):
        ensure_destination(d, spec("bad", client_key=None))
    with pytest.raises(SpecError, match="must not embed credentials"):
        ensure_destination(d, spec("bad", url="https://u:p@h.example/dicomweb/studies"))
    with pytest.raises(SpecError, match="name"):
        ensure_destination(d, spec("bad name/x"))
    with pytest.raises(SpecError, match="single study"):
        ensure_destination(d, spec("bad", url="https://h.example/dicomweb/studies/1.2.3"))


def test_absent_removes(pacs: lab_pacs.OrthancHandle) -> None:
    d = driver_for(pacs)
    ensure_destination(d, spec("gone"))
    assert ensure_destination(d, spec("gone"), state="absent", check_mode=True)["changed"] is True
    assert d.get_destination("gone") is not None
    assert ensure_destination(d, spec("gone"), state="absent")["changed"] is True
    assert d.get_destination("gone") is None
    assert ensure_destination(d, spec("gone"), state="absent")["changed"] is False


def test_survives_process_restart(pacs: lab_pacs.OrthancHandle) -> None:
    d = driver_for(pacs)
    s = spec("restart-proc")
    ensure_destination(d, s)
    old_pid = pacs.pid
    lab_pacs.restart_pacs(pacs)
    assert pacs.pid != old_pid
    assert d.get_destination("restart-proc") is not None
    # The fingerprint survived too: still idempotent after the restart.
    assert ensure_destination(d, s)["changed"] is False


def test_verify_restart_through_the_api(pacs: lab_pacs.OrthancHandle) -> None:
    d = driver_for(pacs)
    r = ensure_destination(d, spec("restart-api"), verify_restart=True)
    check = {c["id"]: c for c in r["checks"]}["pacs.destination.restart-api.restart"]
    assert check["status"] == "pass", check
    assert r["restart"]["restarted"] is True and r["restart"]["survived"] is True
    assert r["persistence"] == {"known": True, "ServersInDatabase": True}


def test_restart_loses_destination_without_servers_in_database(tmp_path: Path) -> None:
    h = lab_pacs.start_pacs(tmp_path / "volatile", servers_in_database=False)
    try:
        d = driver_for(h)
        r = ensure_destination(d, spec("volatile"), check_mode=True)
        assert {c["id"]: c["status"] for c in r["checks"]}["pacs.destination.volatile.restart"] == "fail"
        r = ensure_destination(d, spec("volatile"), verify_restart=True)
        check = {c["id"]: c for c in r["checks"]}["pacs.destination.volatile.restart"]
        assert check["status"] == "fail"
        assert "ServersInDatabase" in check["cause"] and "ServersInDatabase" in check["action"]
        assert d.get_destination("volatile") is None
    finally:
        lab_pacs.stop_pacs(h)


def test_ca_check_and_manage_ca(tmp_path: Path, lab_pki: dict[str, str]) -> None:
    h = lab_pacs.start_pacs(tmp_path / "ca")  # HttpsCACertificates "" as Orthanc ships it
    try:
        d = driver_for(h)
        s = spec("ca", ca_file=lab_pki["ca"])
        r = ensure_destination(d, s)
        ca = {c["id"]: c for c in r["checks"]}["pacs.destination.ca.ca"]
        assert ca["status"] == "fail" and "HttpsCACertificates is empty" in ca["cause"]

        r = ensure_destination(d, s, manage_ca=True, check_mode=True)
        assert r["changed"] is True and r["config_files_changed"] == [h.config]
        assert json.loads(Path(h.config).read_text())["HttpsCACertificates"] == ""
        r = ensure_destination(d, s, manage_ca=True)
        assert r["changed"] is True
        assert json.loads(Path(h.config).read_text())["HttpsCACertificates"] == lab_pki["ca"]
        checks = {c["id"]: c for c in r["checks"]}
        assert checks["pacs.destination.ca.ca"]["status"] == "pass"
        assert checks["pacs.destination.ca.restart"]["status"] == "pass"  # restarted so the CA applies
        assert ensure_destination(d, s, manage_ca=True)["changed"] is False

        # A bundle without the vendor CA is a failure, with the fix named.
        r = ensure_destination(d, spec("ca", ca_file=lab_pki["other_ca"]))
        ca = {c["id"]: c for c in r["checks"]}["pacs.destination.ca.ca"]
        assert ca["status"] == "fail" and "does not contain the vendor CA" in ca["cause"]
    finally:
        lab_pacs.stop_pacs(h)


def test_ca_unknown_without_config(pacs: lab_pacs.OrthancHandle) -> None:
    r = ensure_destination(driver_for(pacs, config=False), spec("noconfig", ca_file="/x/ca.pem"))
    ca = {c["id"]: c for c in r["checks"]}["pacs.destination.noconfig.ca"]
    assert ca["status"] == "skip" and "orthanc_config" in ca["action"]


def test_manual_checklist_is_exact() -> None:
    s = DestinationSpec(name="cloud-stow-rs", url="https://dicom.vendor.example/dicomweb/studies",
                        client_cert="/pacs/tls/client.crt", client_key="/pacs/tls/client.key",
                        username="facility-17", password=SECRET, ca_file="/pacs/tls/ca-bundle.pem")
    r = ensure_destination(ManualDriver(), s)
    assert r["changed"] is False
    assert r["checklist_text"] == checklist_text(s)
    assert r["checklist_text"].splitlines() == [
        "PACS STOW-RS destination for https://dicom.vendor.example/dicomweb/studies (configure by hand):",
        "[ ] Label: Cloud STOW-RS  (DICOMweb Destinations > STOW > New destination)",
        "[ ] URL: https://dicom.vendor.example/dicomweb/studies  (if the PACS asks for the DICOMweb base URL "
        "instead, enter https://dicom.vendor.example/dicomweb/)",
        "[ ] Authentication: mTLS: upload client certificate /pacs/tls/client.crt and key file /pacs/tls/client.key; "
        "and Basic Auth: user 'facility-17', password from your vault (not shown here)  (as issued by the cloud vendor)",
        "[ ] Timeout: 300 seconds  (never less than 300 seconds (large studies))",
        "[ ] CA: trust the vendor CA bundle /pacs/tls/ca-bundle.pem and keep certificate verification ON  "
        "(the CA that signs the cloud's server certificate)",
        "[ ] Save and restart: Save; restart the PACS transfer service if required  (then confirm the destination "
        "is still listed after the restart)",
    ]
    main = r["checks"][0]
    assert main["status"] == "warn" and main["detail"]["checklist"][0] == {
        "setting": "Label", "value": "Cloud STOW-RS", "note": "DICOMweb Destinations > STOW > New destination"}
    no_secret(r)
    with pytest.raises(SpecError):
        ensure_destination(ManualDriver(), DestinationSpec(name="x", url=s.url, timeout=120))
