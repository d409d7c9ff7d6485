"""TLS and HTTP/STOW-RS layers: the TLS probe's classification (``dicomweb/probes.run_tls_probe``) and a
probe upload (``dicomweb/stow``) classified by status, with where the time went.

Evidence in: the TLS probe result and the STOW result (``StowResult.as_dict()`` plus the PS3.18 reasons).
Findings out.
"""

from __future__ import annotations

from typing import Any

from .causes import finding

TLS_CODES = {
    "expired_certificate": "tls.server_cert_expired",
    "certificate_not_yet_valid": "tls.server_cert_not_yet_valid",
    "unknown_ca": "tls.unknown_ca",
    "hostname_mismatch": "tls.hostname_mismatch",
    "bad_certificate": "tls.handshake_failed",
    "client_cert_rejected": "tls.client_cert_rejected",
    "client_cert_missing": "tls.client_cert_missing",
    "tls_error": "tls.handshake_failed",
    "not_tls": "tls.handshake_failed",
}
HTTP_CODES = {
    "bad_request": "http.bad_request", "auth_rejected": "http.auth_rejected", "forbidden": "http.auth_rejected",
    "wrong_path": "http.path_not_found", "method_not_allowed": "http.path_not_found", "conflict": "http.conflict",
    "payload_too_large": "http.payload_too_large", "unsupported_media_type": "http.media_type",
    "timeout": "http.timeout", "stow_rejected": "http.partial", "stow_not_referenced": "http.partial",
    "client_cert_rejected": "tls.client_cert_rejected", "client_cert_missing": "tls.client_cert_missing",
}


def _timing_text(timings: dict[str, Any]) -> str:
    names = (("connect_s", "TCP connect"), ("tls_s", "TLS handshake"), ("send_s", "request sent"),
             ("wait_s", "waiting for the answer"), ("read_s", "reading the answer"), ("total_s", "total"))
    return ", ".join(f"{label} {float(timings[k]):.3f} s" for k, label in names if timings.get(k) is not None)


def evaluate_tls(tls: dict[str, Any] | None, warn_days: int = 30) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """TLS findings from the TLS probe (HTTP-level failures of its request are the HTTP layer's)."""
    if not tls:
        return [], {}
    facts = dict(tls.get("tls") or {})
    findings: list[dict[str, Any]] = []
    checks = {c["id"]: c for c in tls.get("checks") or []}
    evidence = [f"{c['id']}: {c['status']} {c['title']}" + (f" -- {c['cause']}" if c.get("cause") else "")
                for c in tls.get("checks") or []]
    fail = tls.get("failure") or {}
    code = fail.get("code")
    client = checks.get("tls.client_material") or {}
    if client.get("status") == "fail" and "expired" in str(client.get("cause") or ""):
        findings.append(finding("tls.client_cert_expired", client.get("cause") or "", evidence))
    elif code in TLS_CODES:
        findings.append(finding(TLS_CODES[code], fail.get("cause") or code, evidence, tls_code=code))
    elif code == "timeout" and checks.get("tls.handshake", {}).get("status") == "fail":
        findings.append(finding("tls.handshake_timeout", fail.get("cause") or "TLS handshake timed out", evidence))
    elif code == "connection_reset" and checks.get("tls.handshake", {}).get("status") == "fail":
        findings.append(finding("tls.handshake_failed", fail.get("cause") or "", evidence))
    expiring = []
    server = facts.get("server_cert") or {}
    if server.get("days_left") is not None and 0 <= server["days_left"] < warn_days:
        expiring.append(f"server certificate {server.get('subject')}: {server['days_left']} days left")
    cl = facts.get("client_cert") or {}
    if cl.get("days_left") is not None and 0 <= cl["days_left"] < warn_days and not cl.get("expired"):
        expiring.append(f"client certificate {cl.get('subject')}: {cl['days_left']} days left")
    if expiring and not findings:
        findings.append(finding("tls.cert_expiring", "; ".join(expiring), expiring))
    facts["days_to_expiry"] = {"server": server.get("days_left"), "client": cl.get("days_left")}
    return findings, facts


def evaluate_http(stow: dict[str, Any] | None, request_failure: dict[str, Any] | None = None
                  ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """HTTP findings from the STOW-RS probe (``stow``: StowResult.as_dict() + ``warnings``), or from the
    TLS probe's request when the upload was not attempted (``request_failure``)."""
    if not stow and not request_failure:
        return [], {}
    stow = stow or {}
    status = stow.get("http_status")
    fail = stow.get("failure") or request_failure or {}
    code = fail.get("code")
    timings = stow.get("timings") or fail.get("timings") or {}
    facts = {"http_status": status, "timings": timings, "bytes_sent": stow.get("bytes_sent"),
             "mbps": stow.get("mbps"), "failed": stow.get("failed") or {}, "warnings": stow.get("warnings") or []}
    ev = [f"HTTP {status} {fail.get('http_reason') or ''}".strip() if status else f"no HTTP answer ({code})"]
    if timings:
        ev.append("timings: " + _timing_text(timings))
    if fail.get("body_excerpt"):
        ev.append("body: " + str(fail["body_excerpt"])[:300])
    for uid, reason in (stow.get("failed") or {}).items():
        ev.append(f"FailureReason for {uid}: {reason}")
    for w in stow.get("warnings") or []:
        ev.append(f"WarningReason: {w}")
    if status == 202 or (status and 200 <= status < 300 and (stow.get("failed") or stow.get("warnings"))):
        if fail or stow.get("failed") or stow.get("warnings"):
            return [finding("http.partial", f"HTTP {status}: the service stored the upload only in part", ev)], facts
        return [], facts
    if not code:
        return [], facts
    if code == "service_error":
        cause = "http.service_unavailable" if status in (502, 503, 504) else "http.service_error"
    elif code == "timeout":
        if status in (408, 504):
            cause = "http.timeout"
        elif fail.get("phase") in ("connect", "tls"):
            return [], facts  # the path/TLS layers name it
        else:
            cause = "http.timeout"
            done = {k: round(float(v), 3) for k, v in timings.items() if k in ("connect_s", "tls_s", "send_s")}
            ev.append(f"the connection and TLS were set up ({done}) and the request was sent; no answer came "
                      f"within {fail.get('timeout_s')} s: the time went to the service")
    else:
        cause = HTTP_CODES.get(code, "http.error")
    summary = fail.get("cause") or f"HTTP {status}"
    return [finding(cause, summary, ev, http_status=status, code=code)], facts
