"""run_tls_then_stow_probe (stow_probe tls_probe: true) against real nginx + Orthanc: one run, both probes' checks."""

from __future__ import annotations

from typing import Any

from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.probes import (
    run_stow_probe,
    run_tls_probe,
    run_tls_then_stow_probe,
)

from .conftest import BASIC_PASSWORD, BASIC_USER
from .test_bearer_lab_service import _fresh_tokens, bearer_svc, bearer_target  # noqa: F401 - fixtures

TLS_IDS = ["tls.client_material", "tls.connect", "tls.handshake", "tls.server_certificate", "tls.hostname",
           "tls.request"]


def ids(checks: list[dict[str, Any]]) -> list[str]:
    return [c["id"] for c in checks]


def without_timings(checks: list[dict[str, Any]]) -> list[tuple[str, str, str, str | None]]:
    return [(c["id"], c["group"], c["status"], c["cause"]) for c in checks]


def test_tls_checks_then_stow_checks_in_one_run(svc_basic, target_for):
    target = target_for(svc_basic, username=BASIC_USER, password=BASIC_PASSWORD)
    result = run_tls_then_stow_probe(target, request_form="auto")
    assert result["failure"] is None, result["checks"]
    assert ids(result["checks"]) == [*TLS_IDS, "dicomweb.stow", "dicomweb.qido"]
    assert {c["status"] for c in result["checks"]} == {"pass"}
    tls = result["tls_probe"]
    assert ids(tls["checks"]) == TLS_IDS
    assert tls["failure"] is None
    assert tls["tls"]["protocol"] == "TLSv1.3"
    assert result["checks"][:len(TLS_IDS)] == tls["checks"]
    assert result["accepted_form"] == "multipart"
    assert result["sop_instance_uid"]


def test_same_checks_as_the_two_probes_separately(svc, target_for):
    combined = run_tls_then_stow_probe(target_for(svc))
    separate = run_tls_probe(target_for(svc))["checks"] + run_stow_probe(target_for(svc))["checks"]
    assert without_timings(combined["checks"]) == without_timings(separate)


def test_tls_failure_skips_the_upload_and_names_the_cause(svc, target_for, pki):
    result = run_tls_then_stow_probe(target_for(svc, ca_bundle=pki["other_ca"]))
    assert result["failure"]["code"] == "unknown_ca"
    assert result["tls_probe"]["failure"] == result["failure"]
    assert "sop_instance_uid" not in result
    assert result["checks"][:-1] == result["tls_probe"]["checks"]
    skipped = result["checks"][-1]
    assert skipped == {"id": "dicomweb.stow", "group": "dicomweb", "title": "STOW-RS upload of a synthetic instance",
                       "status": "skip", "duration_s": 0.0, "detail": {},
                       "cause": "not attempted: the TLS probe failed (unknown_ca)",
                       "action": "fix the TLS failure first"}
    assert not any(c["id"].startswith("dicomweb.") for c in result["tls_probe"]["checks"])


def test_no_upload_still_proves_tls(svc, target_for):
    result = run_tls_then_stow_probe(target_for(svc), upload=False)
    assert result["failure"] is None
    assert ids(result["checks"]) == [*TLS_IDS, "dicomweb.stow"]
    assert result["checks"][-1]["status"] == "skip"
    assert result["checks"][-1]["cause"] == "check mode: nothing uploaded"
    assert "sop_instance_uid" not in result


def test_stow_failure_after_tls_passed(svc, target_for):
    result = run_tls_then_stow_probe(target_for(svc), request_form="single")
    assert result["tls_probe"]["failure"] is None
    assert result["failure"]["code"] == "unsupported_media_type"
    assert [c["status"] for c in result["checks"][len(TLS_IDS):]] == ["fail", "skip"]


def test_bearer_token_is_fetched_once_for_both_probes(bearer_svc, pki):  # noqa: F811 - fixture
    target = bearer_target(bearer_svc, pki)
    result = run_tls_then_stow_probe(target)
    assert result["failure"] is None, result["checks"]
    # no client certificate here: no tls.client_material check
    assert ids(result["checks"]) == ["tls.token", *TLS_IDS[1:], "dicomweb.token", "dicomweb.stow", "dicomweb.qido"]
    assert len(target.issued_tokens) == 1
    assert result["tls_probe"]["token"]["claim_aud"] == bearer_svc["audience"]
    assert target.issued_tokens[0] not in str(result)
