"""stow_probe against real nginx + Orthanc: both request forms, strict success, QIDO, failures."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb import synth
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.client import Client
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.probes import run_stow_probe
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.stow import judge, stow
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.tls import make_context

from .conftest import BASIC_PASSWORD, BASIC_USER, KEY_PASSWORD


def by_id(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in result["checks"]}


def orthanc(handle: Any, path: str, body: bytes | None = None) -> Any:
    """Ask Orthanc itself (internal port, no proxy env): independent of our STOW parsing."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    req = urllib.request.Request(f"http://127.0.0.1:{handle.orthanc_port}{path}", data=body)
    with opener.open(req, timeout=10) as resp:
        return json.loads(resp.read())


def stored_patient_name(handle: Any, sop_uid: str) -> str | None:
    hits = orthanc(handle, "/tools/lookup", sop_uid.encode())
    if not hits:
        return None
    tags = orthanc(handle, f"/instances/{hits[0]['ID']}/simplified-tags")
    return tags.get("PatientName")


def test_multipart_upload_is_stored_and_found(svc, target_for, pki):
    result = run_stow_probe(target_for(svc, client_key=pki["client_key_encrypted"],
                                       client_key_password=KEY_PASSWORD), request_form="multipart")
    checks = by_id(result)
    assert result["failure"] is None, result["checks"]
    assert checks["dicomweb.stow"]["status"] == "pass"
    assert checks["dicomweb.stow"]["detail"]["http_status"] == 200
    assert checks["dicomweb.stow"]["detail"]["instances_referenced"] == 1
    assert checks["dicomweb.qido"]["status"] == "pass"
    assert result["accepted_form"] == "multipart"
    assert stored_patient_name(svc, result["sop_instance_uid"]) == "STOWPATH^TEST^SYNTHETIC"


def test_new_uids_every_run(svc, target_for):
    a = run_stow_probe(target_for(svc), qido=False)
    b = run_stow_probe(target_for(svc), qido=False)
    assert a["sop_instance_uid"] != b["sop_instance_uid"]
    assert a["study_instance_uid"] != b["study_instance_uid"]


def test_single_part_against_orthanc_explains_415(svc, target_for):
    result = run_stow_probe(target_for(svc), request_form="single")
    stow_check = by_id(result)["dicomweb.stow"]
    assert stow_check["status"] == "fail"
    assert stow_check["detail"]["code"] == "unsupported_media_type"
    assert stow_check["detail"]["http_status"] == 415
    assert 'accepts only multipart/related; type="application/dicom"' in stow_check["cause"]
    assert "request_form: multipart" in stow_check["action"]
    assert by_id(result)["dicomweb.qido"]["status"] == "skip"


def test_auto_uses_multipart_when_accepted(svc, target_for):
    result = run_stow_probe(target_for(svc), request_form="auto")
    assert result["failure"] is None
    assert result["accepted_form"] == "multipart"
    assert "attempts" not in by_id(result)["dicomweb.stow"]["detail"]


def test_single_part_vendor_accepts_the_guides_curl_form(svc_single, target_for):
    result = run_stow_probe(target_for(svc_single), request_form="single")
    assert result["failure"] is None, result["checks"]
    assert result["accepted_form"] == "single"
    assert stored_patient_name(svc_single, result["sop_instance_uid"]) == "STOWPATH^TEST^SYNTHETIC"


def test_single_part_vendor_rejects_multipart_with_explanation(svc_single, target_for):
    result = run_stow_probe(target_for(svc_single), request_form="multipart")
    c = by_id(result)["dicomweb.stow"]
    assert c["detail"]["code"] == "unsupported_media_type"
    assert "request_form: single" in c["action"]


def test_auto_falls_back_to_single_part_after_415(svc_single, target_for):
    result = run_stow_probe(target_for(svc_single), request_form="auto")
    c = by_id(result)["dicomweb.stow"]
    assert result["failure"] is None, result["checks"]
    assert result["accepted_form"] == "single"
    assert [a["http_status"] for a in c["detail"]["attempts"]] == [415, 200]
    assert "multipart got 415" in c["title"]


def test_200_without_our_uid_is_not_a_success(svc, target_for, pki):
    # Orthanc answers an empty multipart body with 200 and an empty ReferencedSOPSequence:
    # a 2xx alone proves nothing
    ctx = make_context(pki["ca"], pki["client_cert"], pki["client_key"])
    with Client(target_for(svc).endpoint, ctx, timeout=10) as client:
        resp = client.request("POST", client.endpoint.target(),
                              {"Content-Type": 'multipart/related; type="application/dicom"; boundary=b0',
                               "Accept": "application/dicom+json"}, b"--b0--\r\n")
    res = judge(resp, "multipart", ["2.25.1"], 8, has_client_cert=True, has_basic_auth=False)
    assert res.status == 200 and not res.ok
    assert res.failure is not None and res.failure.code == "stow_not_referenced"


def test_duplicate_upload_is_referenced_again(svc, target_for, pki, tmp_path):
    inst = synth.write_instance(tmp_path / "dup.dcm")
    ctx = make_context(pki["ca"], pki["client_cert"], pki["client_key"])
    with Client(target_for(svc).endpoint, ctx, timeout=10) as client:
        first = stow(client, [inst.path], [inst.sop_instance_uid])[-1]
        second = stow(client, [inst.path], [inst.sop_instance_uid])[-1]
    assert first.ok and second.ok  # Orthanc 1.10 + DICOMweb 1.7 re-reference a stored instance


def test_non_dicom_part_is_a_bad_request(svc, target_for, pki, tmp_path):
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"this is not DICOM\n" * 10)
    ctx = make_context(pki["ca"], pki["client_cert"], pki["client_key"])
    with Client(target_for(svc).endpoint, ctx, timeout=10) as client:
        res = stow(client, [str(junk)], ["1.2.3"])[-1]
    assert not res.ok
    assert res.status == 400 and res.failure is not None and res.failure.code == "bad_request"


@pytest.mark.parametrize(("fixture", "overrides", "code", "status"), [
    ("svc", {"client_cert": None, "client_key": None}, "client_cert_missing", 400),
    ("svc", {"url_path": "/dicom-web/studies"}, "wrong_path", 404),
    ("svc_down", {}, "service_error", 502),
    ("svc_basic", {"username": BASIC_USER, "password": "not-the-password"}, "auth_rejected", 401),
])
def test_stow_failures_are_classified(request, target_for, fixture, overrides, code, status):
    handle = request.getfixturevalue(fixture)
    kw = dict(overrides)
    if "url_path" in kw:
        kw["url"] = handle.url.replace("/dicomweb/studies", kw.pop("url_path"))
    result = run_stow_probe(target_for(handle, **kw))
    c = by_id(result)["dicomweb.stow"]
    assert c["status"] == "fail"
    assert c["detail"]["code"] == code
    assert c["detail"]["http_status"] == status
    assert c["cause"] and c["action"]
    assert result["failure"]["code"] == code
    assert "not-the-password" not in json.dumps(result)


def test_basic_auth_and_mtls_together(svc_basic, target_for):
    result = run_stow_probe(target_for(svc_basic, username=BASIC_USER, password=BASIC_PASSWORD))
    assert result["failure"] is None, result["checks"]


@pytest.mark.slow
def test_slow_service_times_out(svc_slow, target_for):
    result = run_stow_probe(target_for(svc_slow, timeout=0.5))
    c = by_id(result)["dicomweb.stow"]
    assert c["detail"]["code"] == "timeout"
    assert "did not answer within 0.5 s" in c["cause"]


@pytest.mark.slow
def test_large_study_streamed_and_found(svc, target_for, tmp_path):
    result = run_stow_probe(target_for(svc), study_size_mb=12, instance_mb=1.5, work_dir=str(tmp_path))
    checks = by_id(result)
    assert result["failure"] is None, result["checks"]
    large = checks["dicomweb.stow_large"]
    assert large["detail"]["instances_sent"] == 8
    assert large["detail"]["instances_referenced"] == 8
    assert large["detail"]["payload_bytes"] > 12 * 1024 * 1024 * 0.95
    assert result["throughput_mb_s"] > 0
    assert checks["dicomweb.qido_large"]["status"] == "pass"
    assert checks["dicomweb.qido_large"]["detail"]["number_of_study_related_instances"] == 8
    assert list(tmp_path.iterdir()) == []  # generated files removed
