"""Pure parts: multipart streaming, synthetic instances, STOW/QIDO answer parsing, classification."""

from __future__ import annotations

import email.parser
import json
from pathlib import Path

import pydicom
import pytest
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb import synth
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.client import (
    Endpoint,
    Response,
    classify_http,
)
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.multipart import MultipartRelated, SinglePart
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.qido import parse_qido
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.stow import parse_stow_response


def test_multipart_body_length_parts_and_bounded_chunks(tmp_path):
    files = []
    for n, size in enumerate((0, 1, 70_000, 3 * 4096 + 5)):
        p = tmp_path / f"f{n}.dcm"
        p.write_bytes(bytes([n + 65]) * size)
        files.append(str(p))
    body = MultipartRelated(files, chunk_size=4096)
    chunks = [bytes(c) for c in body]
    data = b"".join(chunks)
    assert len(data) == len(body)
    assert max(len(c) for c in chunks) <= 4096
    assert body.payload_bytes == sum(Path(f).stat().st_size for f in files)
    msg = email.parser.BytesParser().parsebytes(f"Content-Type: {body.content_type}\r\n\r\n".encode() + data)
    assert msg.get_content_type() == "multipart/related"
    assert msg.get_param("type") == "application/dicom"
    parts = msg.get_payload()
    assert [p.get_content_type() for p in parts] == ["application/dicom"] * 4
    assert [p.get_payload(decode=True) for p in parts] == [Path(f).read_bytes() for f in files]


def test_multipart_reuses_one_buffer(tmp_path):
    p = tmp_path / "big.dcm"
    p.write_bytes(b"x" * (10 * 8192))
    views = [c for c in MultipartRelated([str(p)], chunk_size=8192) if len(c) == 8192]
    assert len(views) == 10
    assert len({id(v.obj) for v in views}) == 1  # one bytearray: memory does not grow with size


def test_single_part(tmp_path):
    p = tmp_path / "one.dcm"
    p.write_bytes(b"y" * 10_000)
    body = SinglePart(str(p), chunk_size=4096)
    assert len(body) == 10_000 and b"".join(bytes(c) for c in body) == p.read_bytes()


def test_synthetic_instance_is_obviously_fake(tmp_path):
    inst = synth.write_instance(tmp_path / "a.dcm")
    ds = pydicom.dcmread(inst.path)
    assert str(ds.PatientName) == "STOWPATH^TEST^SYNTHETIC"
    assert ds.PatientID.startswith("STOWPATH-TEST-")
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7"
    assert ds.SOPInstanceUID == inst.sop_instance_uid and inst.sop_instance_uid.startswith("2.25.")
    assert "NOT PATIENT DATA" in ds.StudyDescription
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert (ds.Rows, ds.Columns, len(ds.PixelData)) == (64, 64, 64 * 64 * 2)


def test_generate_study(tmp_path):
    study = synth.generate_study(tmp_path / "s", size_mb=3, instance_mb=1)
    assert len(study.instances) == 3
    assert len(set(study.sop_instance_uids)) == 3
    assert 3 * 1024 * 1024 <= study.total_bytes < 3.1 * 1024 * 1024
    again = synth.Study.load(study.directory)
    assert again.sop_instance_uids == study.sop_instance_uids
    assert {str(pydicom.dcmread(f, stop_before_pixels=True).StudyInstanceUID) for f in study.files} == {
        study.study_instance_uid}


STOW_JSON = {
    "00081199": {"vr": "SQ", "Value": [
        {"00081150": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.7"]},
         "00081155": {"vr": "UI", "Value": ["2.25.1"]},
         "00081190": {"vr": "UR", "Value": ["https://x/studies/9/series/8/instances/2.25.1"]}}]},
    "00081198": {"vr": "SQ", "Value": [
        {"00081155": {"vr": "UI", "Value": ["2.25.2"]}, "00081197": {"vr": "US", "Value": [272]}}]},
}

STOW_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<NativeDicomModel>
  <DicomAttribute tag="00081199" vr="SQ" keyword="ReferencedSOPSequence">
    <Item number="1"><DicomAttribute tag="00081155" vr="UI"><Value number="1">2.25.1</Value></DicomAttribute></Item>
  </DicomAttribute>
  <DicomAttribute tag="00081198" vr="SQ" keyword="FailedSOPSequence">
    <Item number="1">
      <DicomAttribute tag="00081155" vr="UI"><Value number="1">2.25.2</Value></DicomAttribute>
      <DicomAttribute tag="00081197" vr="US"><Value number="1">49152</Value></DicomAttribute>
    </Item>
  </DicomAttribute>
</NativeDicomModel>"""


def test_parse_stow_json_and_xml():
    ref, failed, url = parse_stow_response(json.dumps(STOW_JSON).encode(), "application/dicom+json")
    assert ref == ["2.25.1"] and failed == {"2.25.2": "272 (0x0110) processing failure"}
    assert url and url.endswith("2.25.1")
    ref, failed, _ = parse_stow_response(STOW_XML, "application/dicom+xml")
    assert ref == ["2.25.1"] and failed == {"2.25.2": "49152 (0xC000) cannot understand"}


@pytest.mark.parametrize("body", [b"", b"{}", b"not json", b"[]", b'{"00081199": {"vr": "SQ"}}', b"<broken"])
def test_parse_stow_empty_or_broken(body):
    assert parse_stow_response(body, "application/dicom+json")[:2] == ([], {})


def test_parse_qido():
    assert parse_qido(b"") == []
    assert parse_qido(b'[{"0020000D": {"vr": "UI", "Value": ["1.2"]}}]')[0]["0020000D"]["Value"] == ["1.2"]
    with pytest.raises(ValueError):
        parse_qido(b'{"not": "a list"}')


def resp(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Response:
    return Response(status, "X", headers or {}, body, {}, {"target": "/dicomweb/studies"})


@pytest.mark.parametrize(("status", "body", "cert", "auth", "code"), [
    (200, b"", True, False, None),
    (204, b"", True, False, None),
    (400, b"<title>400 No required SSL certificate was sent</title>", False, False, "client_cert_missing"),
    (400, b"<title>400 The SSL certificate error</title>", True, False, "client_cert_rejected"),
    (495, b"", True, False, "client_cert_rejected"),
    (496, b"", True, False, "client_cert_missing"),
    (400, b"bad multipart", True, False, "bad_request"),
    (401, b"", True, True, "auth_rejected"),
    (403, b"", True, False, "forbidden"),
    (404, b"", True, False, "wrong_path"),
    (405, b"", True, False, "method_not_allowed"),
    (409, b"", True, False, "conflict"),
    (413, b"", True, False, "payload_too_large"),
    (415, b"", True, False, "unsupported_media_type"),
    (502, b"", True, False, "service_error"),
    (500, b"", True, False, "service_error"),
    (504, b"", True, False, "timeout"),
])
def test_classify_http(status, body, cert, auth, code):
    fail = classify_http(resp(status, body), has_client_cert=cert, has_basic_auth=auth)
    assert (fail.code if fail else None) == code
    if fail:
        assert fail.action


def test_endpoint_parsing():
    ep = Endpoint.parse("https://dicom.vendor.example/dicomweb/studies", "203.0.113.140")
    assert (ep.host, ep.port, ep.address, ep.studies_path) == (
        "dicom.vendor.example", 443, "203.0.113.140", "/dicomweb/studies")
    assert Endpoint.parse("https://h:8443/dicomweb").studies_path == "/dicomweb/studies"
    assert Endpoint.parse("https://h/dicomweb/studies/").target({"limit": 1}) == "/dicomweb/studies?limit=1"
    with pytest.raises(ValueError):
        Endpoint.parse("ftp://h/x")
