"""The onboarding report: JSON schema, JUnit that parses, HTML with every failure explained, no secret leaks."""

from __future__ import annotations

import html
import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "collections"))

from ansible_collections.stowpath.core.plugins.module_utils.checks import check  # noqa: E402
from ansible_collections.stowpath.core.plugins.module_utils.report.model import (  # noqa: E402
    COMMON_ISSUES,
    build_report,
    checks_from_results,
)
from ansible_collections.stowpath.core.plugins.module_utils.report.redaction import (  # noqa: E402
    SecretLeak,
    is_secret_key,
    sanitize,
)
from ansible_collections.stowpath.core.plugins.module_utils.report.writer import (  # noqa: E402
    render_all,
    write_report,
)

TEMPLATE = str(REPO / "templates" / "report" / "report.html.j2")
PSK = "Tunnel1PskValue.abc123"
AUTH_KEY = "DxBgpMd5Key~777"
BASIC_PW = "Basic-Auth-Pw-Report-9"
# a truncated, fake PEM block (built at run time so no key-looking text is committed)
PRIVATE_KEY = "-----BEGIN " + "PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END " + "PRIVATE KEY-----"
SECRETS = [PSK, AUTH_KEY, BASIC_PW]


def site() -> dict[str, Any]:
    return {
        "site_name": "lab-facility", "hostname": "cgw", "gateway_platform": "linux_strongswan",
        "cloud_provider": "aws_vpn", "connection_type": "vpn", "connection_id": "vpn-0f3a9c2d7e1b45a60",
        "routing": "bgp", "local_asn": 65020, "cloud_asn": 64512,
        "wan": {"interface": "eth0", "address": "198.51.100.24"},
        "lan": {"interface": "eth1", "cidrs": ["203.0.113.0/26"]},
        "dicomweb": {"url": "https://dicom.vendor.example/dicomweb/studies", "cidrs": ["203.0.113.128/26"]},
        "tunnels": [{"name": "tun1", "local_outside": "198.51.100.24", "remote_outside": "192.0.2.61",
                     "local_inside": "169.254.21.6", "remote_inside": "169.254.21.5", "inside_cidr": "169.254.21.4/30",
                     "psk": PSK, "ike": {"version": 2, "encryption": "aes256"}}],
        "dx": None,
    }


def sample_checks() -> list[dict[str, Any]]:
    return [
        check("input.site", "input", "Site parameters valid", "pass", 0.01),
        check("network.tunnel.tun1", "network", "Tunnel tun1 to 192.0.2.61 ESTABLISHED", "pass", 0.4,
              {"state": "ESTABLISHED", "psk": PSK}),
        check("network.tunnel.tun2", "network", "Tunnel tun2 to 192.0.2.62 ESTABLISHED", "fail", 0.5,
              {"state": "CONNECTING"}, cause="tunnel down: IKE not answered", action="check UDP 500/4500 to 192.0.2.62"),
        check("network.bgp.tun1", "network", "BGP 169.254.21.5 Established", "pass", 0.2,
              {"prefixes_received": 1, "auth_key": AUTH_KEY}),
        check("network.route.dicomweb", "network", "Route to 203.0.113.128/26 via the tunnel", "pass", 0.1),
        check("network.firewall.https", "network", "Firewall allows TCP 443 to 203.0.113.128/26 only", "warn", 0.1,
              cause="counter did not move", action="re-run after traffic"),
        check("tls.handshake", "tls", "TLS 1.3 handshake with mTLS", "fail", 0.3,
              {"protocol": "TLSv1.3", "days_to_expiry": -2, "key_matches_cert": True, "client_key": PRIVATE_KEY},
              cause="server certificate expired 2 days ago"),
        check("dicomweb.stow", "dicomweb", "STOW-RS upload", "fail", 1.2,
              {"http_status": 404, "url": "https://stow:" + BASIC_PW + "@dicom.vendor.example/wrong"}),
        check("dicomweb.qido", "dicomweb", "QIDO-RS finds the study", "skip", 0.0, cause="STOW-RS failed"),
        check("pacs.send.cloud.job", "pacs", "PACS sends study", "fail", 3.1,
              {"job": {"function_error_code": 9}, "explanation": {"guide_row": "Transfer timeouts"},
               "Authorization": "Basic c3RvdzpzZWNyZXQ="},
              cause=f"PACS job failed: FunctionErrorCode 9 -> the transfer timed out (password {BASIC_PW})",
              action="increase timeouts; verify firewall allows 443"),
        check("pacs.destination.cloud", "pacs", "PACS destination (by hand)", "warn", 0.0,
              {"checklist": [{"setting": "Label", "value": "Cloud STOW-RS", "note": "n"}],
               "CertificateKeyPassword": "KeyPw-Camel"}),
        check("drift.gateway", "drift", "No drift on the gateway", "pass", 0.5),
    ]


@pytest.fixture
def written(tmp_path: Path) -> dict[str, Any]:
    report = build_report(site(), sample_checks(), {"render": 1.25, "push": 3.5}, secrets=SECRETS)
    return {"report": report, **write_report(report, str(tmp_path / "reports"), ["json", "junit", "html"],
                                             TEMPLATE, SECRETS)}


def test_files_land_in_reports_site_name(written: dict[str, Any], tmp_path: Path) -> None:
    d = tmp_path / "reports" / "lab-facility"
    assert written["report_dir"] == str(d)
    assert sorted(p.name for p in d.iterdir()) == ["report.html", "report.json", "report.xml"]


def test_json_schema(written: dict[str, Any]) -> None:
    data = json.loads(Path(written["files"]["report.json"]).read_text())
    assert data["schema"] == "stowpath/report/v1" and data["site_name"] == "lab-facility"
    assert data["status"] == "fail"
    assert data["summary"] == {"total": 12, "pass": 5, "fail": 4, "warn": 2, "skip": 1, "duration_s": 6.41}
    for c in data["checks"]:
        assert set(c) >= {"id", "group", "title", "status", "duration_s", "detail", "cause", "action", "section"}
        assert c["status"] in ("pass", "fail", "warn", "skip") and isinstance(c["duration_s"], float)
    by_id = {c["id"]: c for c in data["checks"]}
    assert by_id["network.tunnel.tun2"]["section"] == "tunnels"
    assert by_id["network.bgp.tun1"]["section"] == "bgp"
    assert by_id["network.route.dicomweb"]["section"] == "routes"
    assert by_id["network.firewall.https"]["section"] == "firewall"
    assert data["timings"] == {"render": 1.25, "push": 3.5}
    assert data["groups"]["network"]["fail"] == 1 and data["groups"]["network"]["status"] == "fail"
    # Every failure has a cause and an action; a missing action is filled from the guide's table.
    assert all(f["cause"] and f["action"] for f in data["failures"])
    stow = by_id["dicomweb.stow"]
    assert stow["guide_row"] == "400/404/500 HTTP responses"
    assert stow["cause"] == "URL or payload error" and stow["action"] == "Confirm endpoint path and payload format"
    assert by_id["tls.handshake"]["action"] == "Validate cert chain and expiration dates"
    assert by_id["pacs.send.cloud.job"]["guide_row"] == "Transfer timeouts"
    assert data["common_issues"] == COMMON_ISSUES


def test_junit_parses(written: dict[str, Any]) -> None:
    root = ET.parse(written["files"]["report.xml"]).getroot()
    assert root.tag == "testsuites" and root.get("tests") == "12" and root.get("failures") == "4"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert sorted(suites) == sorted(f"lab-facility.{g}" for g in ("input", "network", "tls", "dicomweb", "pacs", "drift"))
    net = suites["lab-facility.network"]
    assert net.get("tests") == "5" and net.get("failures") == "1"
    cases = root.findall(".//testcase")
    assert len(cases) == 12
    failures = root.findall(".//testcase/failure")
    assert len(failures) == 4
    tun2 = next(c for c in cases if c.get("name", "").startswith("network.tunnel.tun2"))
    f = tun2.find("failure")
    assert f is not None and f.get("message") == "tunnel down: IKE not answered"
    assert "check UDP 500/4500" in (f.text or "")
    assert len(root.findall(".//testcase/skipped")) == 1
    assert any("WARN" in (s.text or "") for s in root.findall(".//testcase/system-out"))
    assert float(tun2.get("time", "0")) == 0.5


def test_html_explains_every_failure_and_is_self_contained(written: dict[str, Any]) -> None:
    page = Path(written["files"]["report.html"]).read_text()
    for f in written["report"]["failures"]:
        assert html.escape(f["cause"]) in page, f["id"]
        assert html.escape(f["action"]) in page, f["id"]
    for row in COMMON_ISSUES:
        assert html.escape(row["symptom"]) in page and html.escape(row["action"]) in page
    for section in ("Tunnels", "BGP", "Routes and path", "Firewall", "TLS certificates and handshake",
                    "STOW-RS and QIDO-RS", "PACS", "Timings"):
        assert f">{section}" in page
    assert "Cloud STOW-RS" in page  # the manual checklist is shown
    assert "TLSv1.3" in page  # TLS facts shown
    # No scripts, no external assets, no links off the page.
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert not re.search(r'(src|href)\s*=\s*"(?!#)', page)


def test_no_secret_in_any_output(written: dict[str, Any]) -> None:
    for path in written["files"].values():
        text = Path(path).read_text()
        for secret in [*SECRETS, "KeyPw-Camel", "c3RvdzpzZWNyZXQ=", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"]:
            assert secret not in text, (path, secret)
        assert "PRIVATE KEY-----\n" not in text
    data = json.loads(Path(written["files"]["report.json"]).read_text())
    assert data["site"]["tunnels"][0]["psk"] == "********"
    detail = {c["id"]: c["detail"] for c in data["checks"]}
    assert detail["network.bgp.tun1"]["auth_key"] == "********"
    assert detail["tls.handshake"]["key_matches_cert"] is True  # a boolean fact is kept
    assert detail["pacs.destination.cloud"]["CertificateKeyPassword"] == "********"


def test_a_secret_that_slips_through_is_refused(tmp_path: Path) -> None:
    report = build_report(site(), sample_checks())  # built without the known secret values...
    report["checks"][0]["title"] = f"oops {BASIC_PW}"
    with pytest.raises(SecretLeak):
        render_all(report, ["json"], None, SECRETS)  # ...the writer still refuses them
    report["checks"][0]["title"] = "x"
    report["checks"][0]["detail"] = {"note": PRIVATE_KEY}
    with pytest.raises(SecretLeak, match="private key"):
        render_all(report, ["json"], None, [])
    assert not (tmp_path / "reports").exists()


def test_check_mode_writes_nothing(tmp_path: Path) -> None:
    report = build_report(site(), sample_checks(), secrets=SECRETS)
    out = write_report(report, str(tmp_path / "r"), ["json", "junit", "html"], TEMPLATE, SECRETS, check_mode=True)
    assert out["written"] is False and out["files"]["report.html"] == str(tmp_path / "r" / "lab-facility" / "report.html")
    assert not (tmp_path / "r").exists()


def test_secret_key_names() -> None:
    for key in ("psk", "secret", "password", "auth_key", "private_key", "CertificateKeyPassword", "key", "api_token",
                "Authorization"):
        assert is_secret_key(key), key
    for key in ("keepalive", "hold_time", "protocol", "days_to_expiry", "monkey_business"):
        assert not is_secret_key(key), key
    assert sanitize({"client_key_file": "/etc/tls/client.key"}) == {"client_key_file": "/etc/tls/client.key"}
    assert sanitize({"client_key": "/etc/tls/client.key"}) == {"client_key": "********"}


def test_checks_from_registered_results() -> None:
    one = {"changed": False, "checks": [check("tls.a", "tls", "a", "pass")]}
    looped = {"results": [{"checks": [check("network.tunnel.t1", "network", "b", "pass")]}, {"skipped": True}]}
    assert [c["id"] for c in checks_from_results([one, looped, {"skipped": True}, {}])] == ["tls.a", "network.tunnel.t1"]


def test_invalid_check_is_rejected() -> None:
    with pytest.raises(ValueError, match="status"):
        build_report(site(), [{"id": "x", "group": "tls", "title": "t", "status": "ok"}])
    with pytest.raises(ValueError, match="lacks"):
        build_report(site(), [{"id": "x", "status": "pass"}])
