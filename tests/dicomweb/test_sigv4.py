"""dicomweb_auth: sigv4 -- AWS HealthImaging request signing with botocore's own SigV4 signer.

The known request is AWS's Signature Version 4 test suite case ``get-vanilla`` (aws-sig-v4-test-suite, as
published in the AWS General Reference): its documented signature must come out exactly. A STOW-RS POST
with a streamed multipart body through the real :class:`Client` to a loopback server is checked by
re-signing what the server received with botocore (the server side of SigV4)."""

from __future__ import annotations

import datetime
import http.server
import threading
from typing import Any

import botocore.auth
import pytest
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.client import Client, Endpoint, ProbeError
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.multipart import MultipartRelated
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.sigv4 import (
    SigV4Error,
    SigV4Signer,
    payload_sha256,
)
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.synth import write_instance
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.target import Target, authorization
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

# the test suite's documented example credentials (not a real key)
SUITE_CREDS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
SUITE_TIME = datetime.datetime(2015, 8, 30, 12, 36, 0)


@pytest.fixture
def frozen_clock(monkeypatch):
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: SUITE_TIME)


def test_get_vanilla_known_signature(frozen_clock):
    signer = SigV4Signer("us-east-1", service="service", credentials=SUITE_CREDS)
    headers = signer.sign("GET", "https://example.amazonaws.com/", {}, payload_sha256(None))
    assert headers == {
        "X-Amz-Date": "20150830T123600Z",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                         "SignedHeaders=host;x-amz-date, "
                         "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    }


def test_streamed_hash_equals_botocore_signing_the_bytes(frozen_clock, tmp_path):
    files = [str(tmp_path / f"{i}.dcm") for i in range(2)]
    for f in files:
        write_instance(f)
    body = MultipartRelated(files, chunk_size=4096)
    raw = b"".join(bytes(c) for c in body)
    url = "https://dicom-medical-imaging.us-east-1.amazonaws.com/datastore/0123456789abcdef0123456789abcdef/studies"
    hdrs = {"Content-Type": body.content_type, "Accept": "application/dicom+json"}
    ours = SigV4Signer("us-east-1", credentials=SUITE_CREDS).sign("POST", url, hdrs, payload_sha256(body))
    ref = AWSRequest(method="POST", url=url, headers=dict(hdrs), data=raw)
    botocore.auth.SigV4Auth(SUITE_CREDS, "medical-imaging", "us-east-1").add_auth(ref)
    assert ours["Authorization"] == ref.headers["Authorization"]
    assert "/us-east-1/medical-imaging/aws4_request" in ours["Authorization"]


def test_the_client_signs_each_request_and_the_server_can_verify(tmp_path):
    creds = Credentials("AKIAFAKEFAKEFAKE0001", "fake/secret/key/for/tests/only/000001", token="fake-session-token")
    got: list[dict[str, Any]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            data = self.rfile.read(int(self.headers["Content-Length"]))
            got.append({"headers": dict(self.headers), "body": data, "path": self.path})
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        f = str(tmp_path / "a.dcm")
        write_instance(f)
        body = MultipartRelated([f])
        url = f"http://127.0.0.1:{server.server_address[1]}/datastore/ds1/studies"
        client = Client(Endpoint.parse(url), None, signer=SigV4Signer("eu-west-1", credentials=creds))
        resp = client.request("POST", "/datastore/ds1/studies", {"Content-Type": body.content_type}, body, len(body))
        client.close()
    finally:
        server.shutdown()
        server.server_close()
    assert resp.status == 200 and resp.auth == "sigv4"
    req = got[0]
    assert req["headers"]["X-Amz-Security-Token"] == "fake-session-token"
    # the server side: re-sign what arrived (same date) and compare
    check = AWSRequest(method="POST", url=url, data=req["body"],
                       headers={"Content-Type": req["headers"]["Content-Type"]})
    stamp = datetime.datetime.strptime(req["headers"]["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    orig = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda *a, **k: stamp
    try:
        botocore.auth.SigV4Auth(creds, "medical-imaging", "eu-west-1").add_auth(check)
    finally:
        botocore.auth.get_current_datetime = orig
    assert req["headers"]["Authorization"] == check.headers["Authorization"]
    assert creds.secret_key not in str(req["headers"])


def test_no_region_no_credentials_and_header_conflicts(monkeypatch):
    with pytest.raises(SigV4Error, match="dicomweb_aws_region"):
        SigV4Signer("", credentials=SUITE_CREDS).sign("GET", "https://x.example/", {}, payload_sha256(None))
    client = Client(Endpoint.parse("http://127.0.0.1:9/studies"), None, signer=SigV4Signer(""))
    with pytest.raises(ProbeError, match="needs the AWS region"):
        client.request("GET", "/studies")
    with pytest.raises(ValueError, match="refusing to send Sigv4 credentials over plain http"):
        Client(Endpoint.parse("http://dicom.example/studies"), None, signer=SigV4Signer("us-east-1"))
    t = Target(url="https://x.example/studies", sigv4_region="us-east-1", username="u", password="p")
    header, fail = authorization(t)
    assert header is None and "SigV4 signing cannot be combined" in fail.cause
    assert Target(url="https://x.example/studies", sigv4_region="us-east-1").auth == "sigv4"
