"""tls_probe against real nginx + Orthanc: the success path and every failure class, made real."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.probes import (
    Target,
    hostname_matches,
    run_tls_probe,
)

from .conftest import BASIC_PASSWORD, BASIC_USER, KEY_PASSWORD, cd


def by_id(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in result["checks"]}


def assert_failure(result: dict[str, Any], code: str, check_id: str) -> dict[str, Any]:
    assert result["failure"] is not None, result["checks"]
    assert result["failure"]["code"] == code, result["failure"]
    c = by_id(result)[check_id]
    assert c["status"] == "fail"
    assert c["detail"]["code"] == code
    assert c["cause"] and c["action"]
    return c


def test_success_with_encrypted_key_reports_facts(svc, target_for, pki):
    result = run_tls_probe(target_for(svc, client_key=pki["client_key_encrypted"], client_key_password=KEY_PASSWORD))
    checks = by_id(result)
    assert result["failure"] is None, result["checks"]
    assert [c["status"] for c in result["checks"]] == ["pass"] * 6
    tls = result["tls"]
    assert tls["protocol"] in ("TLSv1.3", "TLSv1.2")
    assert tls["cipher"]
    assert tls["peer_chain"][0].startswith("CN=dicom.lab.example")
    assert tls["peer_chain"][-1].startswith("CN=stowpath Lab CA")
    assert 800 < tls["days_to_expiry"] <= 825
    assert tls["hostname_match"] is True
    assert checks["tls.request"]["detail"]["mtls_proven"] is True
    assert checks["tls.request"]["detail"]["http_status"] == 200


def test_missing_client_cert_is_caught_after_the_handshake(svc, target_for):
    result = run_tls_probe(target_for(svc, client_cert=None, client_key=None))
    checks = by_id(result)
    # the handshake itself succeeds: only the real request proves (here: disproves) mTLS
    assert checks["tls.handshake"]["status"] == "pass"
    c = assert_failure(result, "client_cert_missing", "tls.request")
    assert c["detail"]["http_status"] == 400


def test_expired_client_cert_rejected_with_local_hint(svc, target_for, pki):
    result = run_tls_probe(target_for(svc, client_cert=pki["client_expired_cert"],
                                      client_key=pki["client_expired_key"]))
    c = assert_failure(result, "client_cert_rejected", "tls.request")
    assert "expired" in c["cause"]
    assert by_id(result)["tls.client_material"]["status"] == "fail"


def test_client_cert_from_another_ca_rejected(svc, target_for, pki):
    result = run_tls_probe(target_for(svc, client_cert=pki["client_other_ca_cert"],
                                      client_key=pki["client_other_ca_key"]))
    c = assert_failure(result, "client_cert_rejected", "tls.request")
    assert "Other Vendor CA" in c["cause"]


def test_wrong_ca_bundle_is_unknown_ca(svc, target_for, pki):
    result = run_tls_probe(target_for(svc, ca_bundle=pki["other_ca"]))
    c = assert_failure(result, "unknown_ca", "tls.handshake")
    assert c["detail"]["verify_code"] == 20
    # the peer certificate is still described (unverified) so the admin sees who issued it
    assert "stowpath Lab CA" in by_id(result)["tls.server_certificate"]["detail"]["issuer"]
    assert by_id(result)["tls.hostname"]["status"] == "pass"


def test_environment_ca_bundle_never_overrides_the_given_one(svc, target_for, pki, monkeypatch):
    # the trap of this machine: env vars that would make verification pass must not be used
    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.setenv(var, pki["ca"])
    monkeypatch.setenv("SSL_CERT_DIR", str(__import__("pathlib").Path(pki["ca"]).parent))
    result = run_tls_probe(target_for(svc, ca_bundle=pki["other_ca"]))
    assert_failure(result, "unknown_ca", "tls.handshake")


def test_expired_server_certificate(svc_expired_server, target_for):
    result = run_tls_probe(target_for(svc_expired_server))
    c = assert_failure(result, "expired_certificate", "tls.handshake")
    assert c["detail"]["verify_code"] == 10
    server = by_id(result)["tls.server_certificate"]
    assert server["status"] == "fail" and server["detail"]["days_left"] < 0


def test_server_certificate_for_another_hostname(svc_wrong_host, target_for):
    result = run_tls_probe(target_for(svc_wrong_host))
    assert_failure(result, "hostname_mismatch", "tls.handshake")
    host = by_id(result)["tls.hostname"]
    assert host["status"] == "fail"
    assert host["detail"]["sans"] == ["DNS:wrong.lab.example"]


def test_url_host_not_in_the_certificate(svc, target_for):
    url = svc.url.replace("dicom.lab.example", "pacs-cloud.lab.example")
    result = run_tls_probe(target_for(svc, url=url))
    assert_failure(result, "hostname_mismatch", "tls.handshake")


def test_connection_refused(target_for, svc):
    port = cd.free_port()
    result = run_tls_probe(target_for(svc, url=f"https://dicom.lab.example:{port}/dicomweb/studies"))
    assert_failure(result, "connection_refused", "tls.connect")


def test_wrong_path_is_404(svc, target_for):
    url = svc.url.replace("/dicomweb/studies", "/dicom-web/studies")
    result = run_tls_probe(target_for(svc, url=url))
    c = assert_failure(result, "wrong_path", "tls.request")
    assert c["detail"]["http_status"] == 404


def test_service_down_is_a_service_error(svc_down, target_for):
    result = run_tls_probe(target_for(svc_down))
    c = assert_failure(result, "service_error", "tls.request")
    assert c["detail"]["http_status"] == 502
    assert by_id(result)["tls.handshake"]["status"] == "pass"


def test_basic_auth_good_and_bad_password(svc_basic, target_for):
    good = run_tls_probe(target_for(svc_basic, username=BASIC_USER, password=BASIC_PASSWORD))
    assert good["failure"] is None, good["checks"]
    bad = run_tls_probe(target_for(svc_basic, username=BASIC_USER, password="wrong-password"))
    c = assert_failure(bad, "auth_rejected", "tls.request")
    assert "wrong user or password" in c["cause"]
    assert "wrong-password" not in repr(bad)
    none = run_tls_probe(target_for(svc_basic))
    c = assert_failure(none, "auth_rejected", "tls.request")
    assert "requires credentials" in c["cause"]


@pytest.mark.slow
def test_slow_service_times_out(svc_slow, target_for):
    result = run_tls_probe(target_for(svc_slow, timeout=0.5))
    c = assert_failure(result, "timeout", "tls.request")
    assert c["detail"]["phase"] == "response"
    assert by_id(result)["tls.handshake"]["status"] == "pass"


@pytest.mark.slow
def test_slow_service_within_timeout_passes(svc_slow, target_for):
    result = run_tls_probe(target_for(svc_slow, timeout=5.0))
    assert result["failure"] is None, result["checks"]


def test_encrypted_key_without_or_with_wrong_password(svc, target_for, pki):
    for password, problem in ((None, "key_encrypted"), ("not-the-password", "key_bad_password")):
        result = run_tls_probe(target_for(svc, client_key=pki["client_key_encrypted"], client_key_password=password))
        c = assert_failure(result, "client_material", "tls.client_material")
        assert c["detail"]["problem"] == problem
        assert "not-the-password" not in repr(result)


def test_expiring_client_cert_warns(svc, target_for, pki):
    result = run_tls_probe(target_for(svc, client_cert=pki["client_expiring_cert"],
                                      client_key=pki["client_expiring_key"]))
    assert result["failure"] is None
    assert by_id(result)["tls.client_material"]["status"] == "warn"


def test_server_expiry_warning_window(svc, target_for):
    result = run_tls_probe(target_for(svc), warn_days=2000)
    assert result["failure"] is None
    assert by_id(result)["tls.server_certificate"]["status"] == "warn"


@pytest.mark.parametrize(("sans", "host", "ok"), [
    (["DNS:dicom.lab.example"], "dicom.lab.example", True),
    (["DNS:dicom.lab.example"], "DICOM.lab.example.", True),
    (["DNS:*.lab.example"], "dicom.lab.example", True),
    (["DNS:*.lab.example"], "a.dicom.lab.example", False),
    (["DNS:dicom.lab.example", "IP:127.0.0.1"], "127.0.0.1", True),
    (["DNS:dicom.lab.example"], "127.0.0.1", False),
])
def test_hostname_matches(sans, host, ok):
    assert hostname_matches(sans, host) is ok


def test_target_secrets_listed():
    t = Target(url="https://x/dicomweb/studies", ca_bundle="/x", client_key_password="a", password="b")
    assert t.secrets == ["a", "b"]


def test_plain_http_url_is_refused(svc, target_for):
    result = run_tls_probe(target_for(svc, url=svc.url.replace("https://", "http://")))
    assert_failure(result, "not_tls", "tls.connect")


def test_plain_http_on_the_tls_port_is_not_tls(target_for, svc):
    # a TLS client against a plain HTTP listener (Orthanc's internal port)
    url = f"https://dicom.lab.example:{svc.orthanc_port}/dicom-web/studies"
    result = run_tls_probe(target_for(svc, url=url))
    assert_failure(result, "not_tls", "tls.handshake")


@pytest.fixture()
def strict_tls_server(pki):
    """A TLS server that aborts the handshake without a valid client certificate (like HAProxy or an
    AWS ALB in mTLS verify mode), unlike nginx's HTTP 400. Real sockets on loopback, one thread."""
    import socket
    import ssl
    import threading

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki["server_cert"], pki["server_key"])
    ctx.load_verify_locations(pki["ca"])
    ctx.verify_mode = ssl.CERT_REQUIRED
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(65536)
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/dicom+json\r\n"
                                b"Content-Length: 2\r\nConnection: close\r\n\r\n[]")
            except (OSError, ssl.SSLError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(2)
    listener.close()


@pytest.mark.parametrize(("cert", "code"), [
    (None, "client_cert_missing"),
    ("client_other_ca", "client_cert_rejected"),
    ("client_expired", "client_cert_rejected"),
    ("client", None),
])
def test_handshake_level_client_cert_rejection(strict_tls_server, target_for, svc, pki, cert, code):
    url = f"https://dicom.lab.example:{strict_tls_server}/dicomweb/studies"
    kw = {"client_cert": pki[f"{cert}_cert"], "client_key": pki[f"{cert}_key"]} if cert else {
        "client_cert": None, "client_key": None}
    result = run_tls_probe(target_for(svc, url=url, **kw))
    if code is None:
        assert result["failure"] is None, result["checks"]
        return
    assert result["failure"]["code"] == code, result["checks"]
    request = by_id(result)["tls.request"]
    # the TLS alert, or (racing the server's close) a reset right after the handshake
    assert request["detail"].get("tls_alert") or "right after the TLS handshake" in request["cause"]
    if cert:
        assert "likely:" in request["cause"]
