"""The PACS bearer-token refresher against a real Orthanc PACS (loopback) and the lab's real token service
(``lab/services/cloud_token.py``'s TokenService, in-process over plain HTTP), with a stdlib "cloud" that
validates every STOW-RS request's token with the same service."""

from __future__ import annotations

import http.server
import json
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb import oauth
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.synth import make_study
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.target import refresher_status_text
from ansible_collections.stowpath.core.plugins.module_utils.pacs import token_refresh as tr
from ansible_collections.stowpath.core.plugins.module_utils.pacs.base import DestinationSpec, PacsError
from ansible_collections.stowpath.core.plugins.module_utils.pacs.orthanc import (
    FINGERPRINT_KEY,
    OrthancApi,
    OrthancDriver,
)

from lab.services import cloud_token as ct

API_PASSWORD = "Fake-Basic-Pw-For-Refresher-1"


class Served:
    def __init__(self, handler: type) -> None:
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def token_svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    oauth_dir = tmp_path_factory.mktemp("oauth") / "oauth"
    conf = ct.ensure_material(oauth_dir, "dicom.lab.example", ttl=300)
    svc = ct.TokenService(oauth_dir)
    served = Served(ct._handler(svc))
    yield {"svc": svc, "conf": conf, "secret": (oauth_dir / "lab-facility.secret").read_text(), "served": served,
           "token_url": f"http://127.0.0.1:{served.port}/oauth2/token"}
    served.close()


@pytest.fixture(scope="module")
def cloud(token_svc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A STOW-RS endpoint that accepts a request only with a token the token service validates."""
    seen: list[dict[str, Any]] = []
    stored: list[str] = []  # the SOP Instance UIDs the test sends (the STOW-RS answer lists them)
    svc = token_svc["svc"]

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":  # Orthanc's ChunkedTransfers
                while (size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)) > 0:
                    self.rfile.read(size + 2)
                self.rfile.readline()
            else:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, _ = svc.validate(self.headers.get("Authorization", ""))
            seen.append({"authorization": self.headers.get("Authorization", ""), "status": status})
            ref = [{"00081150": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.7"]},
                    "00081155": {"vr": "UI", "Value": [uid]}} for uid in stored]
            body = json.dumps({"00081199": {"vr": "SQ", "Value": ref}}).encode() if status == 204 else b""
            self.send_response(200 if status == 204 else 401)
            self.send_header("Content-Type", "application/dicom+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    served = Served(Handler)
    yield {"url": f"http://127.0.0.1:{served.port}/dicomweb/studies", "seen": seen, "stored": stored}
    served.close()


@pytest.fixture(autouse=True)
def _fresh_tokens() -> None:
    oauth.clear_cache()


def config(token_svc: dict[str, Any], pacs: Any, tmp_path: Path, server: str, **extra: Any) -> tr.RefreshConfig:
    raw = {"api_url": pacs.url, "server": server, "token_url": token_svc["token_url"], "client_id": "lab-facility",
           "client_secret": token_svc["secret"], "status_file": str(tmp_path / "status.json"), **extra}
    return tr.RefreshConfig.from_dict(raw)


# ---------------------------------------------------------------- pure parts

def test_refresh_delay_is_two_thirds_with_jitter_and_a_floor():
    assert tr.refresh_delay(300, rand=lambda: 0.5) == 200.0
    assert tr.refresh_delay(300, rand=lambda: 0.0) == 180.0 and tr.refresh_delay(300, rand=lambda: 1.0) == 220.0
    assert tr.refresh_delay(20, rand=lambda: 0.5) == 13.333  # short tokens still renew before expiry
    assert tr.refresh_delay(3, rand=lambda: 0.0) == 1.8 and tr.refresh_delay(300, fraction=0.01, min_s=30, rand=lambda: 0.5) == 30


def test_entry_body_keeps_fields_and_refuses_to_strip_hidden_values():
    current = {"Url": "https://c.example/dicomweb/", "Username": "u", "Password": None, "CertificateFile": "/c.crt",
               "CertificateKeyFile": None, "Timeout": 300, "HttpHeaders": ["X-Site"], FINGERPRINT_KEY: "pbkdf2..."}
    body = tr.entry_body(current, {"password": "pw", "client_key": "/c.key"}, {"X-Site": "s1"}, "TOKEN")
    assert body == {"Url": "https://c.example/dicomweb/", "Username": "u", "Password": "pw", "CertificateFile": "/c.crt",
                    "CertificateKeyFile": "/c.key", "Timeout": 300, FINGERPRINT_KEY: "pbkdf2...",
                    "HttpHeaders": {"X-Site": "s1", "Authorization": "Bearer TOKEN"}}
    with pytest.raises(PacsError, match="has Username but the refresher's config has no password"):
        tr.entry_body(current, {"client_key": "/c.key"}, {}, "TOKEN")


def test_config_errors_are_named():
    with pytest.raises(ValueError, match="needs dicomweb_client_id"):
        tr.RefreshConfig.from_dict({"server": "s", "token_url": "https://login.example/token", "client_secret": "x"})
    with pytest.raises(ValueError, match="token_url is required"):
        tr.RefreshConfig.from_dict({"server": "s"})


# ---------------------------------------------------------------- against Orthanc and the token service

def test_refresh_sets_the_header_and_the_pacs_sends_with_a_valid_token(token_svc, cloud, pacs, tmp_path):
    driver = OrthancDriver(OrthancApi(pacs.url), fingerprint_iterations=1000)
    driver.apply(DestinationSpec(name="cloud-bearer", url=cloud["url"], timeout=60))
    before = driver.get_destination("cloud-bearer")
    logs: list[str] = []
    cfg = config(token_svc, pacs, tmp_path, "cloud-bearer")
    r = tr.Refresher(cfg, OrthancApi(pacs.url), log=logs.append, rand=lambda: 0.5)
    assert r.step() == pytest.approx(200.0, abs=1)  # 2/3 of the lab token's 300 s
    after = driver.get_destination("cloud-bearer")
    assert after["HttpHeaders"] == ["Authorization"]
    assert {k: after[k] for k in ("Url", "Timeout", FINGERPRINT_KEY)} == {k: before[k] for k in
                                                                         ("Url", "Timeout", FINGERPRINT_KEY)}
    study = make_study()
    cloud["stored"][:] = study.sop_uids
    sid = driver.upload_instances(study.instances)
    job = driver.wait_job(driver.start_stow("cloud-bearer", [sid]), timeout_s=60)
    assert cloud["seen"] and cloud["seen"][-1]["status"] == 204, cloud["seen"]
    token = cloud["seen"][-1]["authorization"][len("Bearer "):]
    assert job.get("State") == "Success", job
    # a second refresh puts a new token in place; the PACS's next send uses it
    r.step()
    job = driver.wait_job(driver.start_stow("cloud-bearer", [sid]), timeout_s=60)
    assert job.get("State") == "Success" and cloud["seen"][-1]["authorization"] != f"Bearer {token}"
    status = json.loads(Path(cfg.status_file).read_text())
    assert stat.S_IMODE(os.stat(cfg.status_file).st_mode) == 0o600
    assert status["ok"] and status["error"] is None and status["consecutive_failures"] == 0
    assert "last refresh" in refresher_status_text(status)
    text = Path(cfg.status_file).read_text() + "\n".join(logs)
    assert token not in text and token_svc["secret"] not in text and "new token, lifetime 300 s" in text


def test_token_url_down_retries_with_backoff_and_keeps_the_token(token_svc, pacs, tmp_path):
    driver = OrthancDriver(OrthancApi(pacs.url), fingerprint_iterations=1000)
    driver.apply(DestinationSpec(name="cloud-down", url="https://c.example/dicomweb/studies", username="facility",
                                 password=API_PASSWORD))
    good = config(token_svc, pacs, tmp_path, "cloud-down", password=API_PASSWORD, retry_base_s=5, retry_max_s=60)
    logs: list[str] = []
    r = tr.Refresher(good, OrthancApi(pacs.url), log=logs.append, rand=lambda: 0.5)
    r.step()
    first = json.loads(Path(good.status_file).read_text())
    r.cfg = config(token_svc, pacs, tmp_path, "cloud-down", password=API_PASSWORD, retry_base_s=5, retry_max_s=60,
                   token_url="http://127.0.0.1:9/oauth2/token", token_timeout=2)
    assert [r.step() for _ in range(3)] == [5.0, 10.0, 20.0]
    status = json.loads(Path(good.status_file).read_text())
    assert status["consecutive_failures"] == 3 and "no answer from the token endpoint" in status["error"]
    assert status["last_refresh"] == first["last_refresh"] and status["expires_at"] == first["expires_at"]
    assert driver.get_destination("cloud-down")["HttpHeaders"] == ["Authorization"]  # the old token stays
    assert "last error at" in refresher_status_text(status)
    r.cfg = good
    r.step()
    assert r.failures == 0 and json.loads(Path(good.status_file).read_text())["ok"]
    assert API_PASSWORD not in "\n".join(logs) + Path(good.status_file).read_text()


def test_wrong_secret_and_missing_entry_are_reported(token_svc, pacs, tmp_path):
    cfg = config(token_svc, pacs, tmp_path, "no-such-server")
    r = tr.Refresher(cfg, OrthancApi(pacs.url), log=lambda _: None, rand=lambda: 0.5)
    r.step()
    assert "has no DICOMweb server 'no-such-server'" in r.status["error"]
    cfg = config(token_svc, pacs, tmp_path, "no-such-server", client_secret="wrong-secret-value")
    r = tr.Refresher(cfg, OrthancApi(pacs.url), log=lambda _: None, rand=lambda: 0.5)
    r.step()
    assert "invalid_client" in r.status["error"]


def test_main_once_reads_the_config_file(token_svc, pacs, tmp_path, capsys):
    OrthancDriver(OrthancApi(pacs.url), fingerprint_iterations=1000).apply(
        DestinationSpec(name="cloud-main", url="https://c.example/dicomweb/studies"))
    path = tmp_path / "refresh.json"
    path.write_text(json.dumps({"api_url": pacs.url, "server": "cloud-main", "token_url": token_svc["token_url"],
                                "client_id": "lab-facility", "client_secret": token_svc["secret"],
                                "status_file": str(tmp_path / "st.json")}))
    path.chmod(0o644)
    assert tr.main(["--config", str(path), "--once"]) == 0
    err = capsys.readouterr().err
    assert "chmod 600" in err and token_svc["secret"] not in err
    assert json.loads((tmp_path / "st.json").read_text())["ok"]
