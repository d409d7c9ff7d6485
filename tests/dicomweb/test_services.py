"""The lab PKI and the cloud DICOMweb launcher (nginx + Orthanc), including their CLIs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.probes import Target, run_tls_probe
from cryptography import x509

from .conftest import REPO, cd, generate_lab_pki


def load(path: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


def test_pki_material(pki):
    server = load(pki["server_cert"])
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["dicom.lab.example"]
    assert [str(i) for i in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    ca = load(pki["ca"])
    for name in ("server_cert", "client_cert", "client_expired_cert", "server_wrong_host_cert", "server_expired_cert"):
        load(pki[name]).verify_directly_issued_by(ca)
    with pytest.raises(ValueError):
        load(pki["client_other_ca_cert"]).verify_directly_issued_by(ca)
    assert load(pki["client_expired_cert"]).not_valid_after_utc < load(pki["client_cert"]).not_valid_before_utc
    for key in ("ca_key", "server_key", "client_key", "client_key_encrypted"):
        assert os.stat(pki[key]).st_mode & 0o777 == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in Path(pki["client_key_encrypted"]).read_bytes()


def test_pki_cli(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("cli-test-pw\n")
    out = tmp_path / "pki"
    proc = subprocess.run([sys.executable, str(REPO / "lab/services/pki.py"), str(out), "--ip", "203.0.113.140",
                           "--client-key-password-file", str(pw), "--no-test-material", "--key-type", "ec"],
                          capture_output=True, text=True, check=True)
    manifest = json.loads((out / "pki.json").read_text())
    assert set(manifest["files"]) == {"ca", "ca_key", "server_cert", "server_key", "client_cert", "client_key",
                                      "client_key_encrypted"}
    assert manifest["server_ips"] == ["203.0.113.140"]
    assert "client_key_encrypted" in proc.stdout


def test_apr1_matches_openssl():
    for password, salt in (("correct-horse", "abcdefgh"), ("x", "12345678"), ("a" * 40, "Zz./09Aa")):
        ours = cd.apr1_crypt(password, salt)
        theirs = subprocess.run(["openssl", "passwd", "-apr1", "-salt", salt, password],
                                capture_output=True, text=True, check=True).stdout.strip()
        assert ours == theirs


def test_bcrypt_line():
    import bcrypt

    line = cd.htpasswd_line("u", "pw", "bcrypt")
    user, hashed = line.split(":", 1)
    assert user == "u" and hashed.startswith("$2b$")
    assert bcrypt.checkpw(b"pw", hashed.encode())
    with pytest.raises(ValueError):
        cd.htpasswd_line("a:b", "pw")


def test_nginx_config_streams_large_bodies(svc):
    conf = Path(svc.files["nginx_conf"]).read_text()
    for line in ("client_max_body_size 0;", "proxy_request_buffering off;", "proxy_read_timeout 600s;",
                 "ssl_verify_client on;", "location /dicomweb/ {", "/dicom-web/;"):
        assert line in conf
    orthanc = json.loads(Path(svc.files["orthanc_conf"]).read_text())
    assert orthanc["RemoteAccessAllowed"] is False and orthanc["DicomServerEnabled"] is False


def test_apr1_htpasswd_and_optional_mtls_with_nginx(pki, tmp_path, target_for):
    h = cd.start_cloud_dicomweb(tmp_path / "svc", server_cert=pki["server_cert"], server_key=pki["server_key"],
                                client_ca=pki["ca"], mtls="optional", basic_auth={"u1": "apr1-password"},
                                htpasswd_scheme="apr1", start_backend=False)
    try:
        assert Path(h.state_dir, "htpasswd").read_text().startswith("u1:$apr1$")
        # Basic auth is checked by nginx before the (stopped) backend: 502 means "authenticated"
        ok = run_tls_probe(target_for(h, client_cert=None, client_key=None, username="u1", password="apr1-password"))
        assert ok["failure"]["code"] == "service_error"
        bad = run_tls_probe(target_for(h, client_cert=None, client_key=None, username="u1", password="nope"))
        assert bad["failure"]["code"] == "auth_rejected"
    finally:
        cd.stop_cloud_dicomweb(h)
    assert not any(cd._alive(p) for p in (h.nginx_pid, h.orthanc_pid) if p)


def test_cli_start_backend_down_up_stop_by_pid(tmp_path):
    """The CLI as the lab uses it; every step in a separate process, so stop works from the state file."""
    pki = generate_lab_pki(tmp_path / "pki", test_material=False, key_type="ec")
    state = tmp_path / "state"
    cli = [sys.executable, str(REPO / "lab/services/cloud_dicomweb.py")]

    def run(*args: str) -> str:
        proc = subprocess.run([*cli, *args, "--state-dir", str(state)], capture_output=True, text=True,
                              check=False, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    def probe() -> dict:
        handle = cd.CloudHandle.load(state)
        return run_tls_probe(Target(url=handle.url, ca_bundle=pki["ca"], connect_address="127.0.0.1", timeout=10))

    try:
        run("start", "--pki", str(tmp_path / "pki"), "--mtls", "off")
        status = json.loads(run("status"))
        assert status["processes"]["nginx"]["running"] and status["processes"]["orthanc"]["running"]
        assert probe()["failure"] is None
        orthanc_pid = cd.CloudHandle.load(state).orthanc_pid
        run("backend-stop")
        assert not cd._alive(orthanc_pid)
        down = probe()
        assert down["failure"]["code"] == "service_error" and "502" in down["failure"]["cause"]
        run("backend-start")
        assert probe()["failure"] is None
        handle = cd.CloudHandle.load(state)
    finally:
        run("stop")
    status = json.loads(run("status"))
    assert not any(p["running"] for p in status["processes"].values())
    for pid in (handle.nginx_pid, handle.orthanc_pid):
        assert not cd._alive(pid)


def test_refuses_a_second_start_in_the_same_state_dir(svc, pki):
    with pytest.raises(cd.ServiceError, match="already runs"):
        cd.start_cloud_dicomweb(svc.state_dir, server_cert=pki["server_cert"], server_key=pki["server_key"],
                                client_ca=pki["ca"])


def test_bad_server_key_reports_nginx_error(pki, tmp_path):
    with pytest.raises(cd.ServiceError, match="nginx -t rejected"):
        cd.start_cloud_dicomweb(tmp_path / "svc", server_cert=pki["server_cert"], server_key=pki["client_key"],
                                client_ca=pki["ca"], start_backend=False)
