"""Pure parts of the PACS package: Orthanc config editing, error explanations, fingerprints, synthetic data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.synth import PATIENT_NAME, make_study
from ansible_collections.stowpath.core.plugins.module_utils.pacs import orthanc_config as oc
from ansible_collections.stowpath.core.plugins.module_utils.pacs.base import DestinationSpec
from ansible_collections.stowpath.core.plugins.module_utils.pacs.orthanc import (
    diff_destination,
    fingerprint_matches,
    make_fingerprint,
    put_body,
    readable_fields,
    secret_payload,
)
from ansible_collections.stowpath.core.plugins.module_utils.pacs.orthanc_errors import (
    explain_job_failure,
    http_status_explanation,
    log_facts,
)

from lab.services import pacs as lab_pacs

DEBIAN_LIKE = """{
  // The name of the Orthanc instance
  "Name" : "MyOrthanc",
  /* a block comment with "HttpsCACertificates" : "/in/comment.pem" inside */
  "StorageDirectory" : "STORAGE",
  "IndexDirectory" : "STORAGE",
  "HttpPort" : 0,
  "DicomServerEnabled" : false,
  "Plugins" : [ "/usr/lib/orthanc/libOrthancDicomWeb.so.1.7" ],
  // "HttpsCACertificates" : "/commented/out.pem",
  "HttpsVerifyPeers" : true,
  "Url with slashes" : "http://example//x",
  "HttpsCACertificates" : ""
}
"""


def test_strip_comments_keeps_offsets_and_strings() -> None:
    stripped = oc.strip_comments(DEBIAN_LIKE)
    assert len(stripped) == len(DEBIAN_LIKE)
    data = json.loads(stripped)
    assert data["HttpsCACertificates"] == "" and data["Url with slashes"] == "http://example//x"


def test_plan_ca_edit_in_place_keeps_comments(tmp_path: Path) -> None:
    cfg = tmp_path / "orthanc.json"
    cfg.write_text(DEBIAN_LIKE)
    edits = oc.plan_ca_edit(str(cfg), "/etc/tls/ca.pem")
    assert list(edits) == [str(cfg)]
    new = edits[str(cfg)][1]
    assert '// "HttpsCACertificates" : "/commented/out.pem"' in new  # comment untouched
    assert '"HttpsCACertificates" : "/etc/tls/ca.pem"' in new
    assert json.loads(oc.strip_comments(new))["HttpsCACertificates"] == "/etc/tls/ca.pem"
    oc.write_edits(edits)
    assert oc.plan_ca_edit(str(cfg), "/etc/tls/ca.pem") == {}


def test_plan_ca_edit_directory_respects_one_definition_per_key(tmp_path: Path) -> None:
    (tmp_path / "orthanc.json").write_text(DEBIAN_LIKE.replace('  "HttpsVerifyPeers" : true,\n', ""))
    (tmp_path / "dicomweb.json").write_text('{ "DicomWeb" : { "Enable" : true } }')
    edits = oc.plan_ca_edit(str(tmp_path), "/etc/tls/ca.pem")
    new_file = str(tmp_path / oc.NEW_FILE)
    assert sorted(edits) == sorted([str(tmp_path / "orthanc.json"), new_file])
    assert json.loads(oc.strip_comments(edits[new_file][1])) == {"HttpsVerifyPeers": True}
    oc.write_edits(edits)
    settings = oc.load_settings(str(tmp_path))
    assert settings["HttpsCACertificates"] == (str(tmp_path / "orthanc.json"), "/etc/tls/ca.pem")
    assert settings["HttpsVerifyPeers"] == (new_file, True)


def test_orthanc_starts_with_the_edited_directory(tmp_path: Path) -> None:
    """Orthanc refuses a key defined in two files: prove our edit of a directory config is accepted."""
    cfgdir = tmp_path / "etc"
    cfgdir.mkdir()
    port = lab_pacs.free_port()
    base = DEBIAN_LIKE.replace('"HttpPort" : 0', f'"HttpPort" : {port}').replace("STORAGE", str(tmp_path / "db"))
    (cfgdir / "orthanc.json").write_text(base.replace('  "HttpsVerifyPeers" : true,\n', ""))
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    oc.write_edits(oc.plan_ca_edit(str(cfgdir), str(ca)))
    h = lab_pacs.OrthancHandle(name="cfgdir", workdir=str(tmp_path), config=str(cfgdir), logfile=str(tmp_path / "o.log"),
                               pid=0, ip="127.0.0.1", port=port)
    h.pid = lab_pacs._spawn(h)
    try:
        lab_pacs.wait_ready(h, 30)
    finally:
        lab_pacs.stop_orthanc(h)
    assert "defined in 2 different" not in Path(h.logfile).read_text()


def test_bundle_contains(tmp_path: Path) -> None:
    a = "-----BEGIN CERTIFICATE-----\nAAAA\nBBBB\n-----END CERTIFICATE-----\n"
    b = "-----BEGIN CERTIFICATE-----\nCCCC\n-----END CERTIFICATE-----\n"
    (tmp_path / "ca.pem").write_text(a)
    (tmp_path / "bundle.pem").write_text(b + a.replace("\n", "\r\n"))
    (tmp_path / "other.pem").write_text(b)
    assert oc.bundle_contains(str(tmp_path / "bundle.pem"), str(tmp_path / "ca.pem"))[0] is True
    assert oc.bundle_contains(str(tmp_path / "other.pem"), str(tmp_path / "ca.pem"))[0] is False


def test_verify_peers_off_is_a_failure(tmp_path: Path) -> None:
    cfg = tmp_path / "o.json"
    cfg.write_text('{"HttpsVerifyPeers": false, "HttpsCACertificates": "/x.pem"}')
    r = oc.ca_status(str(cfg), "/x.pem")
    assert r["status"] == "fail" and "does not verify" in r["cause"]


@pytest.mark.parametrize(("line", "facts"), [
    ("E1128 04:31:54.49 HttpClient.cpp:58] Error code 28 in libcurl: Timeout was reached",
     {"curl_error": 28, "curl_message": "Timeout was reached"}),
    ("E1128 04:31:35.82 HttpClient.cpp:1084] Error in HTTP request, received HTTP status 415 (Unsupported Media Type)",
     {"http_status": 415}),
])
def test_log_facts(line: str, facts: dict[str, object]) -> None:
    got = log_facts(["I1128 unrelated", line])
    assert {k: got[k] for k in facts} == facts


def test_explanations_follow_the_guide_table() -> None:
    assert explain_job_failure(9).guide_row == "TLS handshake failures"
    assert explain_job_failure(8).guide_row == "400/404/500 HTTP responses"
    assert "password" in explain_job_failure(29).action
    assert "path" in explain_job_failure(17).action
    # The log refines a generic 9.
    refined = explain_job_failure(9, 1, ["E Error code 60 in libcurl: SSL peer certificate or SSH remote key was not OK"])
    assert refined.category == "tls_untrusted"
    assert explain_job_failure(9, 1, ["E received HTTP status 415 (Unsupported Media Type)"]).category == "http_415"
    assert http_status_explanation(503).category == "service_down"
    assert explain_job_failure(12345, 1).category == "unknown"


def test_fingerprint_roundtrip_and_never_plain() -> None:
    s = DestinationSpec(name="x", url="https://h/dicomweb/studies", username="u", password="Pw-Secret-1")
    fp = make_fingerprint(secret_payload(s), 1000)
    assert "Pw-Secret-1" not in fp
    assert fingerprint_matches(fp, secret_payload(s))
    s2 = DestinationSpec(name="x", url="https://h/dicomweb/studies", username="u", password="Pw-Secret-2")
    assert not fingerprint_matches(fp, secret_payload(s2))
    assert not fingerprint_matches("garbage", secret_payload(s))
    assert not fingerprint_matches(None, secret_payload(s))
    body = put_body(s, fp)
    assert body["Url"] == "https://h/dicomweb/" and body["Password"] == "Pw-Secret-1"
    changes = diff_destination(s, None)
    assert "Pw-Secret-1" not in repr(changes)


def test_synthetic_study_is_obviously_fake() -> None:
    import io

    import pydicom

    st = make_study(instances=2)
    a, b = (pydicom.dcmread(io.BytesIO(x)) for x in st.instances)
    assert str(a.PatientName) == PATIENT_NAME == "STOWPATH^TEST^SYNTHETIC"
    assert a.StudyInstanceUID == b.StudyInstanceUID == st.study_uid
    assert a.SOPInstanceUID != b.SOPInstanceUID
    assert make_study().study_uid != st.study_uid


def test_a_header_the_token_refresher_manages_is_not_drift() -> None:
    """Orthanc lists header names only; the refresher's Authorization is neither a change nor in the fingerprint."""
    spec = DestinationSpec(name="cloud", url="https://dicom.example/dicomweb/studies", managed_headers=("Authorization",))
    fp = make_fingerprint(secret_payload(spec), 1000)
    current = {**readable_fields(spec), "HttpHeaders": ["Authorization"], "StowpathFingerprint": fp}
    assert diff_destination(spec, current) == []
    unmanaged = DestinationSpec(name="cloud", url="https://dicom.example/dicomweb/studies")
    assert [c.field for c in diff_destination(unmanaged, current)] == ["HttpHeaders"]
    # a header set by someone else is still seen
    other = {**current, "HttpHeaders": ["Authorization", "X-Site"]}
    assert [c.field for c in diff_destination(spec, other)] == ["HttpHeaders"]
