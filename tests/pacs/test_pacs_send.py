"""PACS-driven send against real services: success, and every failure explained by the PACS's own error."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.target import Target
from ansible_collections.stowpath.core.plugins.module_utils.pacs.base import DestinationSpec, PacsError
from ansible_collections.stowpath.core.plugins.module_utils.pacs.destination import ensure_destination
from ansible_collections.stowpath.core.plugins.module_utils.pacs.orthanc import OrthancApi, OrthancDriver
from ansible_collections.stowpath.core.plugins.module_utils.pacs.send import pacs_send

from lab.services import pacs as lab_pacs

from .pacs_helpers import CLOUD_PASSWORD, CLOUD_USER, KEY_PASSWORD, tls_url


def driver(h: lab_pacs.OrthancHandle) -> OrthancDriver:
    return OrthancDriver(OrthancApi(h.url), h.config, fingerprint_iterations=1000)


def configure(h: lab_pacs.OrthancHandle, name: str, url: str, timeout: int = 300, **kw: Any) -> None:
    r = ensure_destination(driver(h), DestinationSpec(name=name, url=url, timeout=timeout, **kw), min_timeout=1)
    assert r["checks"][0]["status"] == "pass"


def by_id(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"].rsplit(".", 1)[1]: c for c in out["checks"]}


# ---------------------------------------------------------------- plain HTTP cloud (a second Orthanc)

def test_send_success_confirmed_by_qido(pacs: lab_pacs.OrthancHandle, plain_cloud: lab_pacs.OrthancHandle) -> None:
    url = plain_cloud.url + "/dicomweb/studies"
    configure(pacs, "plain", url)
    out = pacs_send(driver(pacs), "plain", Target(url=url), instances=2, log_file=pacs.logfile)
    checks = by_id(out)
    assert out["ok"] is True, out
    assert checks["job"]["status"] == "pass" and checks["qido"]["status"] == "pass"
    assert checks["job"]["detail"]["job"]["instances"] == "2"
    # It is on the cloud, and the synthetic study was removed from the PACS again.
    assert lab_pacs._request(plain_cloud, "GET", f"/dicomweb/studies?StudyInstanceUID={out['study_uid']}")[0] == 200
    assert driver(pacs).lookup_study(out["study_uid"]) is None


def test_send_existing_study_by_uid(pacs: lab_pacs.OrthancHandle, plain_cloud: lab_pacs.OrthancHandle) -> None:
    url = plain_cloud.url + "/dicomweb/studies"
    configure(pacs, "plain", url)
    loaded = lab_pacs.load_test_studies(pacs, count=1, instances=1)[0]
    out = pacs_send(driver(pacs), "plain", Target(url=url), study=loaded["study_uid"])
    assert out["ok"] is True and out["study_id"] == loaded["id"]
    assert driver(pacs).lookup_study(loaded["study_uid"]) == loaded["id"]  # not ours to delete


def test_cloud_down_is_function_error_9_connection_refused(pacs: lab_pacs.OrthancHandle) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    url = f"http://127.0.0.1:{port}/dicomweb/studies"
    configure(pacs, "down", url)
    out = pacs_send(driver(pacs), "down", Target(url=url), log_file=pacs.logfile)
    job = by_id(out)["job"]
    assert out["ok"] is False and job["status"] == "fail"
    assert job["detail"]["job"]["function_error_code"] == 9
    assert "FunctionErrorCode 9" in job["cause"] and "refused" in job["cause"]
    assert "firewall allows TCP 443" in job["action"]
    assert job["detail"]["pacs_log"]["curl_error"] == 7
    assert by_id(out)["qido"]["status"] == "skip"
    # Without the PACS log the code alone still explains it.
    out = pacs_send(driver(pacs), "down", None)
    job = by_id(out)["job"]
    assert "FunctionErrorCode 9" in job["cause"] and "network" in job["cause"]


def test_wrong_path_is_function_error_17(pacs: lab_pacs.OrthancHandle, plain_cloud: lab_pacs.OrthancHandle) -> None:
    configure(pacs, "wrongpath", plain_cloud.url + "/not-dicomweb/studies")
    out = pacs_send(driver(pacs), "wrongpath", None, log_file=pacs.logfile)
    job = by_id(out)["job"]
    assert job["detail"]["job"]["function_error_code"] == 17
    assert "404" in job["cause"] and "confirm endpoint path" in job["action"]
    assert job["detail"]["explanation"]["guide_row"] == "400/404/500 HTTP responses"


def test_unknown_destination_fails_clearly(pacs: lab_pacs.OrthancHandle) -> None:
    out = pacs_send(driver(pacs), "no-such-destination", None)
    job = by_id(out)["job"]
    assert job["status"] == "fail" and "no DICOMweb destination" in job["cause"]


def test_unknown_study_fails_clearly(pacs: lab_pacs.OrthancHandle) -> None:
    out = pacs_send(driver(pacs), "plain", None, study="1.2.3.4.5.6.7.8.9")
    assert by_id(out)["study"]["status"] == "fail"


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts TCP connections and never answers (the slow service / dropped packets)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join()
    for c in conns:
        c.close()
    srv.close()


def test_slow_service_is_a_timeout(pacs: lab_pacs.OrthancHandle, silent_server: int) -> None:
    configure(pacs, "slow", f"http://127.0.0.1:{silent_server}/dicomweb/studies", timeout=2)
    out = pacs_send(driver(pacs), "slow", None, log_file=pacs.logfile)
    job = by_id(out)["job"]
    assert job["detail"]["job"]["function_error_code"] == 9
    assert job["detail"]["pacs_log"]["curl_error"] == 28
    assert "timed out" in job["cause"] and "increase timeouts" in job["action"]
    assert job["detail"]["explanation"]["guide_row"] == "Transfer timeouts"


# ---------------------------------------------------------------- the mTLS cloud (nginx + Orthanc)

@pytest.fixture(scope="module")
def tls_pacs(tmp_path_factory: pytest.TempPathFactory, lab_pki: dict[str, str]) -> Iterator[lab_pacs.OrthancHandle]:
    """A PACS that trusts the lab CA (HttpsCACertificates), like a configured facility PACS."""
    h = lab_pacs.start_pacs(tmp_path_factory.mktemp("tlspacs"), https_ca_certificates=lab_pki["ca"])
    yield h
    lab_pacs.stop_pacs(h)


def mtls(lab_pki: dict[str, str], **kw: Any) -> dict[str, Any]:
    base = {"client_cert": lab_pki["client_cert"], "client_key": lab_pki["client_key"],
            "username": CLOUD_USER, "password": CLOUD_PASSWORD}
    base.update(kw)
    return base


def controller(h: Any, lab_pki: dict[str, str]) -> Target:
    return Target(url=tls_url(h), ca_bundle=lab_pki["ca"], client_cert=lab_pki["client_cert"],
                       client_key=lab_pki["client_key"], username=CLOUD_USER, password=CLOUD_PASSWORD)


def test_mtls_send_success(tls_pacs: lab_pacs.OrthancHandle, tls_cloud: Any, lab_pki: dict[str, str]) -> None:
    configure(tls_pacs, "mtls", tls_url(tls_cloud), **mtls(lab_pki))
    out = pacs_send(driver(tls_pacs), "mtls", controller(tls_cloud, lab_pki), log_file=tls_pacs.logfile)
    assert out["ok"] is True, out["checks"]
    assert CLOUD_PASSWORD not in json.dumps(out)


def test_mtls_encrypted_key(tls_pacs: lab_pacs.OrthancHandle, tls_cloud: Any, lab_pki: dict[str, str]) -> None:
    configure(tls_pacs, "mtls-enc", tls_url(tls_cloud),
              **mtls(lab_pki, client_key=lab_pki["client_key_encrypted"], client_key_password=KEY_PASSWORD))
    access = controller(tls_cloud, lab_pki)
    access.client_key, access.client_key_password = lab_pki["client_key_encrypted"], KEY_PASSWORD
    out = pacs_send(driver(tls_pacs), "mtls-enc", access)
    assert out["ok"] is True, out["checks"]
    # A wrong key password: the PACS cannot use its client certificate (curl 58).
    configure(tls_pacs, "mtls-enc-bad", tls_url(tls_cloud),
              **mtls(lab_pki, client_key=lab_pki["client_key_encrypted"], client_key_password="wrong"))
    job = by_id(pacs_send(driver(tls_pacs), "mtls-enc-bad", None, log_file=tls_pacs.logfile))["job"]
    assert job["detail"]["pacs_log"]["curl_error"] == 58
    assert "key password" in job["action"]


def test_bad_password_is_function_error_29(tls_pacs: lab_pacs.OrthancHandle, tls_cloud: Any,
                                           lab_pki: dict[str, str]) -> None:
    configure(tls_pacs, "badpw", tls_url(tls_cloud), **mtls(lab_pki, password="not-the-password"))
    out = pacs_send(driver(tls_pacs), "badpw", None, log_file=tls_pacs.logfile)
    job = by_id(out)["job"]
    assert job["detail"]["job"]["function_error_code"] == 29
    assert "401" in job["cause"] and "password" in job["action"]
    assert "not-the-password" not in json.dumps(out)


def test_missing_client_cert_is_http_400(tls_pacs: lab_pacs.OrthancHandle, tls_cloud: Any,
                                         lab_pki: dict[str, str]) -> None:
    configure(tls_pacs, "nocert", tls_url(tls_cloud), username=CLOUD_USER, password=CLOUD_PASSWORD)
    job = by_id(pacs_send(driver(tls_pacs), "nocert", None, log_file=tls_pacs.logfile))["job"]
    assert job["detail"]["job"]["function_error_code"] == 8
    assert "client certificate" in job["cause"]


def test_expired_client_cert_is_http_400(tls_pacs: lab_pacs.OrthancHandle, tls_cloud: Any,
                                         lab_pki: dict[str, str]) -> None:
    configure(tls_pacs, "expired", tls_url(tls_cloud), **mtls(
        lab_pki, client_cert=lab_pki["client_expired_cert"], client_key=lab_pki["client_expired_key"]))
    job = by_id(pacs_send(driver(tls_pacs), "expired", None))["job"]
    assert job["detail"]["job"]["function_error_code"] == 8
    assert "expired" in job["cause"]


def test_missing_certificate_file_is_function_error_13(tls_pacs: lab_pacs.OrthancHandle, tls_cloud: Any,
                                                       lab_pki: dict[str, str], tmp_path: Path) -> None:
    configure(tls_pacs, "nofile", tls_url(tls_cloud), **mtls(lab_pki, client_cert=str(tmp_path / "absent.crt")))
    job = by_id(pacs_send(driver(tls_pacs), "nofile", None))["job"]
    assert job["detail"]["job"]["function_error_code"] == 13
    assert "cannot open the client certificate" in job["cause"]


def test_untrusted_cloud_ca_is_function_error_9_tls(tmp_path: Path, tls_cloud: Any, lab_pki: dict[str, str]) -> None:
    h = lab_pacs.start_pacs(tmp_path / "wrongca", https_ca_certificates=lab_pki["other_ca"])
    try:
        configure(h, "wrongca", tls_url(tls_cloud), **mtls(lab_pki))
        job = by_id(pacs_send(driver(h), "wrongca", None, log_file=h.logfile))["job"]
        assert job["detail"]["job"]["function_error_code"] == 9
        assert job["detail"]["pacs_log"]["curl_error"] == 60
        assert "not trusted" in job["cause"] and "HttpsCACertificates" in job["action"]
        assert job["detail"]["explanation"]["guide_row"] == "TLS handshake failures"
    finally:
        lab_pacs.stop_pacs(h)


def test_cloud_backend_down_is_502(tls_pacs: lab_pacs.OrthancHandle, tmp_path: Path, lab_pki: dict[str, str]) -> None:
    from lab.services import cloud_dicomweb as cd

    h = cd.start_cloud_dicomweb(tmp_path / "down", server_cert=lab_pki["server_cert"], server_key=lab_pki["server_key"],
                                client_ca=lab_pki["ca"], start_backend=False)
    try:
        configure(tls_pacs, "backend-down", tls_url(h), client_cert=lab_pki["client_cert"],
                  client_key=lab_pki["client_key"])
        job = by_id(pacs_send(driver(tls_pacs), "backend-down", None, log_file=tls_pacs.logfile))["job"]
        assert job["detail"]["job"]["function_error_code"] == 9
        assert job["detail"]["pacs_log"]["http_status"] == 502
        assert "down" in job["cause"]
    finally:
        cd.stop_cloud_dicomweb(h)


def test_qido_failure_is_explained(tls_pacs: lab_pacs.OrthancHandle, tls_cloud: Any, lab_pki: dict[str, str]) -> None:
    """The PACS sent the study but the controller's own QIDO-RS access is wrong (no client cert)."""
    configure(tls_pacs, "mtls", tls_url(tls_cloud), **mtls(lab_pki))
    access = Target(url=tls_url(tls_cloud), ca_bundle=lab_pki["ca"], username=CLOUD_USER, password=CLOUD_PASSWORD)
    out = pacs_send(driver(tls_pacs), "mtls", access)
    checks = by_id(out)
    assert checks["job"]["status"] == "pass"
    assert checks["qido"]["status"] == "fail" and checks["qido"]["detail"]["http_status"] == 400
    assert "client certificate" in checks["qido"]["cause"]


def test_pacs_api_unreachable_raises() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(PacsError, match="cannot reach the PACS REST API"):
        OrthancDriver(OrthancApi(f"http://127.0.0.1:{port}", timeout=2)).get_destination("x")
