"""User test files of many transfer syntaxes through the STOW-RS probe; reason table, parsing, OAuth units."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb import oauth
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.client import (
    Response,
    classify_http,
    parse_challenge,
)
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.probes import run_stow_probe
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.stow import (
    REASONS,
    parse_stow_answer,
    reason_for,
    reason_table,
)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydicom.data import get_testdata_file

# pydicom's bundled test files (no patient data), one per transfer syntax
TRANSFER_SYNTAXES = {
    "SC_rgb_jpeg_dcmtk.dcm": "1.2.840.10008.1.2.4.50",        # JPEG Baseline
    "JPEG-lossy.dcm": "1.2.840.10008.1.2.4.51",               # JPEG Extended
    "JPEG2000.dcm": "1.2.840.10008.1.2.4.91",                 # JPEG 2000
    "MR_small_jpeg_ls_lossless.dcm": "1.2.840.10008.1.2.4.80",  # JPEG-LS lossless
    "MR_small_RLE.dcm": "1.2.840.10008.1.2.5",                # RLE lossless
    "MR_small_bigendian.dcm": "1.2.840.10008.1.2.2",          # Explicit VR Big Endian
    "MR_small_implicit.dcm": "1.2.840.10008.1.2",             # Implicit VR Little Endian
    "CT_small.dcm": "1.2.840.10008.1.2.1",                    # Explicit VR Little Endian
}


def test_user_files_of_every_transfer_syntax_are_referenced(svc, target_for, tmp_path):
    study = tmp_path / "study"
    study.mkdir()
    for name in ("MR_small_RLE.dcm", "MR_small_bigendian.dcm"):
        (study / name).write_bytes(open(get_testdata_file(name), "rb").read())
    junk = tmp_path / "test-image.txt"
    junk.write_text("this is not a DICOM file\n")
    files = [get_testdata_file(n) for n in TRANSFER_SYNTAXES] + [str(study), str(junk)]
    res = run_stow_probe(target_for(svc), files=files, synthetic=False)
    by_id = {c["id"]: c for c in res["checks"]}
    for n, (name, ts) in enumerate(TRANSFER_SYNTAXES.items()):
        c = by_id[f"dicomweb.stow_file.{n}"]
        assert c["status"] == "pass", (name, c)
        assert c["detail"]["files"][0]["transfer_syntax"] == ts
        assert by_id[f"dicomweb.qido_file.{n}"]["status"] == "pass"
    folder = by_id[f"dicomweb.stow_file.{len(TRANSFER_SYNTAXES)}"]
    assert folder["status"] == "pass" and folder["detail"]["instances_referenced"] == 2
    other = by_id[f"dicomweb.stow_file.{len(TRANSFER_SYNTAXES) + 1}.other0"]
    assert other["status"] == "fail" and other["detail"]["code"] == "not_dicom"
    assert "HTTP 400" in other["title"]
    assert "dicomweb.stow" not in by_id and res["failure"]["code"] == "not_dicom"


def test_files_sent_byte_for_byte_keep_their_uids(svc, target_for, tmp_path):
    src = tmp_path / "ct.dcm"
    import pydicom
    from pydicom.uid import generate_uid

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.save_as(src, enforce_file_format=True)
    first = run_stow_probe(target_for(svc), files=[str(src)], files_new_uids=False, synthetic=False, qido=False)
    assert first["failure"] is None, first["checks"]
    assert first["files"][0]["sop_instance_uid"] == ds.SOPInstanceUID
    again = run_stow_probe(target_for(svc), files=[str(src)], synthetic=False, qido=False)
    assert again["failure"] is None and again["files"][0]["sop_instance_uid"] != ds.SOPInstanceUID


def test_missing_item_is_classified(svc, target_for, tmp_path):
    res = run_stow_probe(target_for(svc), files=[str(tmp_path / "nope")], synthetic=False)
    assert res["failure"]["code"] == "no_files"


def test_reason_table_is_complete_data():
    table = {(r["kind"], r["code"]) for r in reason_table()}
    for code in (0xA700, 0xA900, 0xC000, 0x0110, 0x0122, 45070):
        assert ("failure", code) in table
    assert reason_for(43264).klass == "stow_sop_class_mismatch"  # Azure's 43264 is 0xA900
    assert reason_for(45070).source == "Azure DICOM service"
    assert reason_for(0xA7FF).klass == "stow_refused" and reason_for(0x1234).klass == "stow_failed"
    assert all(r.action for r in REASONS.values())


def test_parse_warnings_json_and_xml():
    body = {"00081199": {"vr": "SQ", "Value": [
        {"00081155": {"vr": "UI", "Value": ["1.2"]}, "00081196": {"vr": "US", "Value": [45056]}}]},
        "00081198": {"vr": "SQ", "Value": [
            {"00081155": {"vr": "UI", "Value": ["1.3"]}, "00081197": {"vr": "US", "Value": [42752]}}]}}
    ans = parse_stow_answer(json.dumps(body).encode(), "application/dicom+json")
    assert ans.referenced == ["1.2"] and ans.warnings == {"1.2": 0xB000} and ans.failed == {"1.3": 0xA700}
    xml = b"""<NativeDicomModel><DicomAttribute tag="00081199" vr="SQ"><Item number="1">
      <DicomAttribute tag="00081155" vr="UI"><Value number="1">1.2</Value></DicomAttribute>
      <DicomAttribute tag="00081196" vr="US"><Value number="1">45063</Value></DicomAttribute></Item>
      </DicomAttribute></NativeDicomModel>"""
    assert parse_stow_answer(xml, "application/dicom+xml").warnings == {"1.2": 0xB007}


@pytest.mark.parametrize("kind", ["rsa", "ec256", "ec384"])
def test_private_key_jwt_assertion_verifies_with_pyjwt(tmp_path, kind):
    key = (rsa.generate_private_key(public_exponent=65537, key_size=2048) if kind == "rsa"
           else ec.generate_private_key(ec.SECP256R1() if kind == "ec256" else ec.SECP384R1()))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.BestAvailableEncryption(b"pw"))
    (tmp_path / "k.pem").write_bytes(pem)
    cfg = oauth.TokenConfig(token_url="https://idp.example/oauth2/token", client_id="c1",
                            assertion_key_file=str(tmp_path / "k.pem"), assertion_key_password="pw", assertion_kid="k1")
    headers, body = oauth.token_request(cfg)
    from urllib.parse import parse_qs

    form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
    assert form["client_assertion_type"] == oauth.ASSERTION_TYPE and "Authorization" not in headers
    claims = jwt.decode(form["client_assertion"], key.public_key(), algorithms=["RS256", "ES256", "ES384"],
                        audience="https://idp.example/oauth2/token")
    assert claims["iss"] == claims["sub"] == "c1" and claims["exp"] - claims["iat"] == 300
    assert jwt.get_unverified_header(form["client_assertion"])["kid"] == "k1"


def test_secret_methods_and_config_problems():
    cfg = oauth.TokenConfig(token_url="https://idp.example/t", client_id="a b", client_secret="s:e&", scope="x",
                            audience="https://aud")
    headers, body = oauth.token_request(cfg)
    assert headers["Authorization"].startswith("Basic ") and b"client_secret" not in body and b"audience=" in body
    cfg.auth_method = "client_secret_post"
    headers, body = oauth.token_request(cfg)
    assert "Authorization" not in headers and b"client_secret=s%3Ae%26" in body
    assert oauth.TokenConfig().problems() and oauth.TokenConfig(token="t", token_url="https://x/t").problems()
    assert "dicomweb_client_id" in " ".join(oauth.TokenConfig(token_url="https://x/t", client_secret="s").problems())


@pytest.mark.parametrize(("status", "body", "code"), [
    (401, {"error": "invalid_client"}, "token_client_rejected"),
    (400, {"error": "invalid_scope"}, "token_scope_rejected"),
    (400, {"error": "invalid_target"}, "token_audience_rejected"),
    (400, {"error": "unauthorized_client"}, "token_unauthorized_client"),
    (404, {}, "token_endpoint_wrong_path"),
    (502, {}, "token_endpoint_error"),
    (400, {"error": "whatever"}, "token_bad_response"),
])
def test_token_error_classes(status, body, code):
    assert oauth.classify_token_error(status, json.dumps(body).encode(), "https://idp/t").code == code


def test_static_token_expiry_and_bearer_challenges():
    exp = oauth.b64url(b'{"alg":"none"}') + "." + oauth.b64url(json.dumps({"exp": time.time() - 5}).encode()) + ".x"
    with pytest.raises(oauth.TokenError) as err:
        oauth.get_token(oauth.TokenConfig(token=exp), None)
    assert err.value.failure.code == "token_expired" and exp not in err.value.failure.cause
    assert parse_challenge('Bearer realm="x", error="invalid_token", error_description="a, b"') == (
        "bearer", {"realm": "x", "error": "invalid_token", "error_description": "a, b"})

    def resp(status: int, challenge: str, auth: str = "bearer") -> Response:
        return Response(status, "", {"www-authenticate": challenge}, b"", {}, {}, auth)

    cases = [(resp(401, 'Bearer error="invalid_token", error_description="The access token expired"'), "token_expired"),
             (resp(401, 'Bearer error="invalid_token", error_description="The audience is invalid"'),
              "token_wrong_audience"),
             (resp(403, 'Bearer error="insufficient_scope", scope="dicomweb.write"'), "token_scope"),
             (resp(401, 'Bearer realm="x"', auth=""), "token_required"),
             (resp(401, 'Basic realm="x"', auth="basic"), "auth_rejected")]
    for r, code in cases:
        fail = classify_http(r, has_client_cert=False, has_basic_auth=r.auth == "basic")
        assert fail is not None and fail.code == code, (r.headers, fail)
