"""dicomweb_auth: the authentication modes and their variables, checked before any device is touched."""

from __future__ import annotations

import json

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.ansible_site import controller_site_args
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.auth_policy import check_auth, parse_modes
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.target import renewal_summary
from ansible_collections.stowpath.core.plugins.module_utils.errors import SiteError, SiteErrors
from ansible_collections.stowpath.core.plugins.module_utils.site import load_site, masked
from stowpath_testlib import EXAMPLE_PARAMS, base_vars

PASSWORD = "Fake.basic.password.42"
TOKEN = "fake-static-token-value-0001"
CLIENT_SECRET = "fake-client-secret-value-0002"
MTLS = {"dicomweb_client_cert_file": "/etc/pki/client.crt", "dicomweb_client_key_file": "/etc/pki/client.key"}
XML = str(EXAMPLE_PARAMS / "aws-vpn-bgp.xml")
CC = {"dicomweb_token_url": "https://login.vendor.example/oauth2/token", "dicomweb_client_id": "stowpath-site1",
      "dicomweb_client_secret": CLIENT_SECRET}


def fields(hv: dict) -> list[str]:
    return [p.field for p in check_auth(hv)[1]]


@pytest.mark.parametrize("value, modes", [
    ("mtls", ["mtls"]), ("mtls, bearer", ["mtls", "bearer"]), ("MTLS+bearer", ["mtls", "bearer"]),
    (["bearer", "mtls"], ["mtls", "bearer"]), ("basic", ["basic"]),
])
def test_modes_are_parsed(value, modes):
    assert parse_modes(value) == (modes, [])


@pytest.mark.parametrize("value, needle", [
    ("kerberos", "'kerberos' is not an authentication mode"), ([], "is empty"), ({"mtls": 1}, "not a mode or a list"),
])
def test_bad_mode_values(value, needle):
    _, problems = parse_modes(value)
    assert needle in " ".join(p.problem for p in problems)


@pytest.mark.parametrize("hv, label, token", [
    ({"dicomweb_auth": "mtls", **MTLS}, "mtls", None),
    ({"dicomweb_auth": ["mtls"], "tls_material_client_cert_content": "PEM", "tls_material_client_key_content": "PEM"},
     "mtls", None),
    ({"dicomweb_auth": "basic", "dicomweb_username": "u", "dicomweb_password": PASSWORD}, "basic", None),
    ({"dicomweb_auth": "mtls,bearer", **MTLS, "dicomweb_token": TOKEN}, "mtls+bearer", "static"),
    ({"dicomweb_auth": "bearer", **CC}, "bearer", "client_credentials"),
    ({"dicomweb_auth": "bearer", **{k: v for k, v in CC.items() if k != "dicomweb_client_secret"},
      "dicomweb_client_assertion_key_file": "/etc/pki/assertion.key"}, "bearer", "client_credentials"),
    ({"dicomweb_auth": "sigv4", "dicomweb_aws_region": "us-east-1"}, "sigv4", None),
    # inferred (no dicomweb_auth): today's inventories
    ({}, "none", None), (MTLS, "mtls", None), ({**MTLS, **CC}, "mtls+bearer", "client_credentials"),
])
def test_valid_configurations(hv, label, token):
    policy, problems = check_auth(hv)
    assert problems == []
    assert policy.as_dict()["label"] == label and policy.token == token
    assert policy.inferred is ("dicomweb_auth" not in hv)
    shown = json.dumps(policy.as_dict())
    assert PASSWORD not in shown and TOKEN not in shown and CLIENT_SECRET not in shown


@pytest.mark.parametrize("hv, expected", [
    ({"dicomweb_auth": "mtls"}, ["dicomweb_client_cert_file", "dicomweb_client_key_file"]),
    ({"dicomweb_auth": "basic", "dicomweb_username": "u"}, ["dicomweb_password"]),
    ({"dicomweb_auth": "bearer"}, ["dicomweb_token"]),
    ({"dicomweb_auth": "bearer", "dicomweb_token_url": CC["dicomweb_token_url"]},
     ["dicomweb_client_id", "dicomweb_client_secret"]),
    ({"dicomweb_auth": "bearer", **CC, "dicomweb_token": TOKEN}, ["dicomweb_token"]),
    ({"dicomweb_auth": "bearer", **CC, "dicomweb_token_url": "http://login.vendor.example/token"},
     ["dicomweb_token_url"]),
    ({"dicomweb_auth": "bearer", **CC, "dicomweb_client_assertion_key_file": "/k"}, ["dicomweb_client_secret"]),
    ({"dicomweb_auth": ["basic", "bearer"], "dicomweb_username": "u", "dicomweb_password": PASSWORD,
      "dicomweb_token": TOKEN}, ["dicomweb_auth"]),
    ({"dicomweb_auth": "bearer", "dicomweb_token": TOKEN, "dicomweb_username": "u"}, ["dicomweb_username"]),
    ({"dicomweb_auth": "sigv4", "dicomweb_aws_region": "Virginia"}, ["dicomweb_aws_region"]),
    # inferred: what the variables imply is checked the same way
    ({"dicomweb_username": "u", "dicomweb_token": TOKEN, "dicomweb_password": PASSWORD}, ["dicomweb_auth"]),
    ({"dicomweb_password": PASSWORD}, ["dicomweb_username"]),
    ({"dicomweb_client_cert_file": "/c"}, ["dicomweb_client_key_file"]),
])
def test_problems_name_the_variable(hv, expected):
    assert fields(hv) == expected


def errors(**hv: object) -> str:
    with pytest.raises((SiteError, SiteErrors)) as err:
        load_site(base_vars(cloud_params_file=XML, **hv), "gw1", ".")
    return str(err.value)


def test_site_validation_names_host_field_and_fix_and_never_a_secret():
    text = errors(dicomweb_auth=["basic", "bearer"], dicomweb_username="u", dicomweb_password=PASSWORD,
                  dicomweb_token=TOKEN)
    assert "host gw1: dicomweb_auth: basic and bearer cannot be combined" in text and "Fix: choose one" in text
    text = errors(dicomweb_auth="bearer", dicomweb_token_url=CC["dicomweb_token_url"])
    assert "host gw1: dicomweb_client_id: is required for dicomweb_auth bearer" in text
    assert "Fix: set dicomweb_client_secret or dicomweb_client_assertion_key_file" in text
    assert "'oauth' is not an authentication mode" in errors(dicomweb_auth="oauth", dicomweb_client_secret=CLIENT_SECRET)
    for secret in (PASSWORD, TOKEN, CLIENT_SECRET):
        assert secret not in text


def test_site_model_carries_the_policy_without_secrets():
    site = load_site(base_vars(cloud_params_file=XML, dicomweb_auth="mtls,bearer", **MTLS, **CC), "gw", ".")
    auth = site["dicomweb_auth"]
    assert (auth["label"], auth["token"], auth["client_id"], auth["token_method"]) == (
        "mtls+bearer", "client_credentials", "stowpath-site1", "client_secret")
    assert CLIENT_SECRET not in json.dumps(masked(site))
    assert "dicomweb_auth" not in load_site(base_vars(cloud_params_file=XML), "gw", ".")  # golden site.json unchanged


def test_the_action_plugin_moves_auth_secrets_out_of_site():
    site = {"site_name": "x", "dicomweb_token": TOKEN, "dicomweb_password": PASSWORD,
            "dicomweb_client_secret": CLIENT_SECRET, "tls_material_client_key_content": "KEY PEM", "dicomweb_auth": "bearer"}
    out = controller_site_args({"site": site, "hostname": "gw"}, {}, lambda p: b"", lambda r, p: r, False)
    assert set(out["site_secrets"]) == {"dicomweb_token", "dicomweb_password", "dicomweb_client_secret",
                                        "tls_material_client_key_content"}
    assert TOKEN not in json.dumps(out["site"]) and out["site"]["dicomweb_auth"] == "bearer"


@pytest.mark.parametrize("hv, needles", [
    ({}, ["nothing to renew"]),
    ({"dicomweb_auth": "mtls", **MTLS}, ["client certificate is not renewed", "cert_expiry_warn_days"]),
    ({"dicomweb_token": TOKEN}, ["static token", "not renewed"]),
    ({**CC}, ["client-credentials grant at https://login.vendor.example/oauth2/token", "client stowpath-site1",
              "a client secret", "2/3 of each token's lifetime"]),
    ({"dicomweb_auth": "sigv4"}, ["SigV4", "renewed by botocore"]),
])
def test_renewal_summary(hv, needles):
    text = renewal_summary(check_auth(hv)[0].as_dict())
    for needle in needles:
        assert needle in text
    assert CLIENT_SECRET not in text


def test_renewal_summary_reads_the_refresher_status():
    auth = check_auth(CC)[0].as_dict()
    ok = renewal_summary(auth, {"last_refresh": "2026-01-01T10:00:00Z", "expires_at": "2026-01-01T11:00:00Z",
                                "next_refresh": "2026-01-01T10:40:00Z", "error": None})
    assert "last refresh 2026-01-01T10:00:00Z, token expires 2026-01-01T11:00:00Z" in ok
    bad = renewal_summary(auth, {"last_attempt": "2026-01-01T10:41:00Z", "error": "token endpoint unreachable",
                                 "expires_at": "2026-01-01T11:00:00Z"})
    assert "last error at 2026-01-01T10:41:00Z: token endpoint unreachable" in bad
