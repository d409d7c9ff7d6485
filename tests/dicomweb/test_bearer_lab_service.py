"""Bearer tokens and STOW-RS answer classes against the lab cloud service on loopback (no shared lab).

The service is ``cloud_dicomweb.py`` (nginx + Orthanc) switched live to bearer mode by
``cloud_token.set_auth`` (token endpoint + auth_request validator) with ``stow_replies`` routing
``X-Stowpath-Reply`` POSTs; every test here uses its own instance per worker.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb import oauth
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.client import Client, classify_http
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.oauth import TokenConfig
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.probes import (
    Target,
    run_stow_probe,
    run_tls_probe,
)
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.stow import stow
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.target import tls_context

from .conftest import REPO, _load, cd

ct = _load("stowpath_lab_cloud_token", REPO / "lab" / "services" / "cloud_token.py")
sr = _load("stowpath_lab_stow_replies", REPO / "lab" / "services" / "stow_replies.py")


@pytest.fixture(scope="module")
def bearer_svc(services: Any) -> Iterator[dict[str, Any]]:
    h = services.get("bearer")
    info = ct.set_auth(h.state_dir, "bearer")
    sr.enable(h.state_dir)
    yield {"h": h, **info, "secret": Path(info["client_secret_file"]).read_text(),
           "token_url": f"https://dicom.lab.example:{h.https_port}/oauth2/token"}
    ct.set_auth(h.state_dir, "mtls")
    st = ct._load_state(Path(h.state_dir))
    if st.get("replies_pid"):
        cd._kill(st["replies_pid"], h.state_dir)


@pytest.fixture(autouse=True)
def _fresh_tokens() -> None:
    oauth.clear_cache()


def bearer_target(svc: dict[str, Any], pki: dict[str, str], **kw: Any) -> Target:
    cfg = {"token_url": svc["token_url"], "client_id": "lab-facility", "client_secret": svc["secret"],
           "ca_bundle": pki["ca"]}
    cfg.update(kw.pop("token", {}))
    return Target(url=svc["h"].url, ca_bundle=pki["ca"], connect_address="127.0.0.1", timeout=10.0,
                  bearer=TokenConfig(**cfg), **kw)


def codes(result: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["detail"].get("code", c["status"]) for c in result["checks"]}


def test_client_secret_grant_then_stow_and_qido(bearer_svc, pki):
    t = bearer_target(bearer_svc, pki)
    res = run_stow_probe(t)
    assert res["failure"] is None, res["checks"]
    token_check = next(c for c in res["checks"] if c["id"] == "dicomweb.token")
    assert token_check["detail"]["claim_aud"] == bearer_svc["audience"]
    assert 0 < token_check["detail"]["expires_in_s"] <= 300
    secret, token = bearer_svc["secret"], t.issued_tokens[0]
    assert secret in t.secrets and token in t.secrets
    assert secret not in repr(t) and token not in repr(t) and token not in str(res)


@pytest.mark.parametrize("method", ["client_secret_post", "private_key_jwt"])
def test_other_client_auth_methods(bearer_svc, pki, method):
    token: dict[str, Any] = {"auth_method": method}
    if method == "private_key_jwt":
        token.update(client_id="lab-facility-jwt", client_secret=None,
                     assertion_key_file=bearer_svc["jwt_client_key_file"])
    res = run_tls_probe(bearer_target(bearer_svc, pki, token=token))
    assert res["failure"] is None, res["checks"]


def test_token_is_cached_and_refreshed_before_expiry(bearer_svc, pki, tmp_path):
    cache = tmp_path / "tokens.json"
    cfg = TokenConfig(token_url=bearer_svc["token_url"], client_id="lab-facility", client_secret=bearer_svc["secret"],
                      ca_bundle=pki["ca"], connect_address="127.0.0.1", cache_file=str(cache))
    ctx = tls_context(Target(url=bearer_svc["token_url"], ca_bundle=pki["ca"]))[0]
    first = oauth.get_token(cfg, ctx)
    assert oauth.get_token(cfg, ctx).access_token == first.access_token
    assert cache.stat().st_mode & 0o777 == 0o600
    oauth.clear_cache()
    assert oauth.get_token(cfg, ctx).source == "cache"
    cfg.refresh_margin_s = 301  # the token (300 s) is "about to expire": a new one is fetched
    assert oauth.get_token(cfg, ctx).access_token != first.access_token


def test_bad_client_secret(bearer_svc, pki):
    res = run_tls_probe(bearer_target(bearer_svc, pki, token={"client_secret": "wrong"}))
    assert codes(res)["tls.token"] == "token_client_rejected"
    assert "wrong" not in str(res)


def test_wrong_audience_rejected_by_the_service(bearer_svc, pki):
    res = run_tls_probe(bearer_target(bearer_svc, pki, token={"audience": ct.OTHER_AUDIENCE}))
    assert codes(res)["tls.token"] == "pass"
    assert codes(res)["tls.request"] == "token_wrong_audience", res["checks"]


def test_audience_refused_by_the_token_endpoint(bearer_svc, pki):
    res = run_tls_probe(bearer_target(bearer_svc, pki, token={"audience": "https://nobody.example"}))
    assert codes(res)["tls.token"] == "token_audience_rejected"
    res = run_tls_probe(bearer_target(bearer_svc, pki, token={"scope": "dicomweb.delete"}))
    assert codes(res)["tls.token"] == "token_scope_rejected"


def test_expired_token(bearer_svc, pki):
    oauth_dir = Path(bearer_svc["oauth_dir"])
    expired = ct.issue(oauth_dir, "lab-facility", bearer_svc["audience"], "dicomweb.write", 60,
                       now=time.time() - 3600)
    res = run_tls_probe(Target(url=bearer_svc["h"].url, ca_bundle=pki["ca"], connect_address="127.0.0.1",
                               bearer=TokenConfig(token=expired)))
    assert codes(res)["tls.token"] == "token_expired"  # refused before sending: the JWT says so
    t = Target(url=bearer_svc["h"].url, ca_bundle=pki["ca"], connect_address="127.0.0.1")
    with Client(t.endpoint, tls_context(t)[0], authorization=f"Bearer {expired}") as client:
        resp = client.request("GET", t.endpoint.target({"limit": 1}))
    fail = classify_http(resp, has_client_cert=False, has_basic_auth=False)
    assert resp.status == 401 and fail is not None and fail.code == "token_expired"


def test_no_token_and_garbage_token(bearer_svc, pki):
    res = run_tls_probe(Target(url=bearer_svc["h"].url, ca_bundle=pki["ca"], connect_address="127.0.0.1"))
    assert codes(res)["tls.request"] == "token_required"
    res = run_tls_probe(Target(url=bearer_svc["h"].url, ca_bundle=pki["ca"], connect_address="127.0.0.1",
                               bearer=TokenConfig(token="not-a-jwt")))
    assert codes(res)["tls.request"] == "token_rejected"


def test_token_endpoint_down(bearer_svc, pki):
    unreachable = bearer_target(bearer_svc, pki, token={"token_url": "https://127.0.0.1:9/oauth2/token"})
    assert codes(run_tls_probe(unreachable))["tls.token"] == "token_endpoint_unreachable"
    h = bearer_svc["h"]
    ct.stop_token(h.state_dir)
    try:
        res = run_tls_probe(bearer_target(bearer_svc, pki))
        assert codes(res)["tls.token"] == "token_endpoint_error"  # nginx: 502 from the stopped endpoint
    finally:
        ct.set_auth(h.state_dir, "bearer")


def test_mtls_plus_bearer_and_back_to_mtls(services, pki, target_for):
    h = services.get("bearer-switch")
    conf = Path(h.files["nginx_conf"]).read_text()
    ct.set_auth(h.state_dir, "mtls+bearer")
    try:
        res = run_tls_probe(target_for(h))
        assert codes(res)["tls.request"] == "token_required"
        secret = Path(ct.describe(h.state_dir)["client_secret_file"]).read_text()
        url = f"https://dicom.lab.example:{h.https_port}/oauth2/token"
        res = run_tls_probe(target_for(h, bearer=TokenConfig(token_url=url, client_id="lab-facility",
                                                              client_secret=secret, ca_bundle=pki["ca"])))
        assert res["failure"] is None, res["checks"]
        assert codes(run_tls_probe(target_for(h, client_cert=None, client_key=None)))["tls.request"] in (
            "client_cert_missing", "token_required")
    finally:
        ct.set_auth(h.state_dir, "mtls")
    assert Path(h.files["nginx_conf"]).read_text() == conf
    assert run_tls_probe(target_for(h))["failure"] is None


# ----------------------------------------------------------------------- STOW-RS answer classes

REPLIES = [
    ("status=200", 200, None, "pass"),
    ("warn=0xB000", 202, None, "warn"),
    ("warn=0xB007; format=xml", 202, None, "warn"),
    ("fail=0xA700", 409, "stow_out_of_resources", "fail"),
    ("status=202; fail=0xA700; failed=1", 202, "stow_out_of_resources", "fail"),
    ("fail=0xA900", 409, "stow_sop_class_mismatch", "fail"),
    ("fail=43264", 409, "stow_sop_class_mismatch", "fail"),
    ("fail=0xC000; format=xml", 409, "stow_cannot_understand", "fail"),
    ("fail=0x0110", 409, "stow_processing_failure", "fail"),
    ("fail=0x0122", 409, "stow_sop_class_not_supported", "fail"),
    ("fail=45070", 409, "stow_duplicate", "fail"),
    ("status=200; fail=0x0111", 200, "stow_duplicate", "fail"),
]


@pytest.mark.parametrize(("spec", "status", "code", "check_status"), REPLIES)
def test_stow_answer_classes(bearer_svc, pki, tmp_path, spec, status, code, check_status):
    from ansible_collections.stowpath.core.plugins.module_utils.dicomweb import synth
    from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.probes import _stow_check
    from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.target import authorization, open_client

    t = bearer_target(bearer_svc, pki)
    header, fail = authorization(t)
    assert fail is None
    insts = [synth.write_instance(tmp_path / f"{n}.dcm") for n in range(2)]
    with open_client(t, tls_context(t)[0], header) as client:
        client.extra_headers = {"X-Stowpath-Reply": spec}
        attempts = stow(client, [i.path for i in insts], [i.sop_instance_uid for i in insts])
    res = attempts[-1]
    assert res.status == status
    assert (res.failure.code if res.failure else None) == code, res.failure
    assert _stow_check("dicomweb.stow", "t", attempts, {})["status"] == check_status
    if "failed=1" in spec:
        assert len(res.failed) == 1 and len(res.referenced) == 1
        assert "1 of 2 stored" in res.failure.cause
