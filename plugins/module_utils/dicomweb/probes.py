"""The TLS probe and the STOW-RS probe: steps, timings and ``checks`` (one shape for the report)."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import ssl
import tempfile
import time
from typing import Any

from ..checks import check
from .client import (
    Client,
    Endpoint,
    Failure,
    ProbeError,
    classify_exception,
    classify_http,
    failure,
    tls_info,
)
from .multipart import DEFAULT_CHUNK
from .qido import find_study, query
from .stow import StowResult, stow
from .target import Target, authorization, open_client, tls_context
from .tls import (
    DEFAULT_WARN_DAYS,
    MaterialError,
    cert_facts,
    cert_facts_der,
    load_certs,
    load_key,
    make_context,
    verify_chain,
)

__all__ = ["Target", "hostname_matches", "run_stow_probe", "run_tls_probe", "run_tls_then_stow_probe",
           "stow_skipped"]

STOW_TITLE = "STOW-RS upload of a synthetic instance"


def hostname_matches(sans: list[str], host: str) -> bool:
    """RFC 6125 style: exact DNS SAN, single left-most ``*`` label, or IP SAN for an IP host."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        return f"IP:{ip}" in sans
    host = host.lower().rstrip(".")
    for san in sans:
        if not san.startswith("DNS:"):
            continue
        name = san[4:].lower().rstrip(".")
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False


def _client_facts(target: Target) -> tuple[dict[str, Any] | None, Failure | None]:
    """Facts of the local client certificate, or the reason the material cannot be used."""
    if not target.client_cert:
        return None, None
    try:
        cert_pem = _read(target.client_cert)
        certs = load_certs(cert_pem, "client certificate")
        facts = cert_facts(certs[0])
        if target.client_key:
            load_key(_read(target.client_key), target.client_key_password)
        elif b"PRIVATE KEY" not in cert_pem:
            raise MaterialError("no_key", "no client key given (client_key) and none in the certificate file")
        roots = load_certs(_read(target.ca_bundle), "CA bundle") if target.ca_bundle else []
        facts["chains_to_ca_bundle"] = verify_chain(certs[0], certs[1:], roots).ok
        return facts, None
    except OSError as exc:
        return None, failure("client_material", f"cannot read TLS material: {exc.strerror}: {exc.filename}")
    except MaterialError as exc:
        return None, failure("client_material", str(exc), problem=exc.code)


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _enrich_client_rejection(fail: Failure, client: dict[str, Any] | None) -> None:
    if client is None or fail.code != "client_cert_rejected" or "client_cert_hints" in fail.detail:
        return
    hints = []
    if client.get("expired"):
        hints.append(f"the client certificate expired on {client['not_after'][:10]}")
    elif client.get("not_yet_valid"):
        hints.append(f"the client certificate is not valid before {client['not_before'][:10]}")
    if client.get("chains_to_ca_bundle") is False:
        hints.append(f"the client certificate is issued by '{client['issuer']}', not by the CA in the CA bundle "
                     "(the service probably does not trust it)")
    if hints:
        fail.cause += "; likely: " + "; ".join(hints)
        fail.detail["client_cert_hints"] = hints


def _explain_reset(fail: Failure, phase: str, target: Target, client: dict[str, Any] | None) -> Failure:
    """A connection closed right after a good handshake, before any HTTP answer.

    TLS front ends that verify client certificates in the handshake (HAProxy, cloud load
    balancers) send an alert and close; the client often sees only the reset. With local evidence
    (no client certificate, an expired one, one from another CA) that is the likely cause.
    """
    if fail.code != "connection_reset" or phase not in ("send", "response"):
        return fail
    base = "the service closed the connection right after the TLS handshake, before any HTTP answer"
    if not target.client_cert:
        out = failure("client_cert_missing", f"{base}: it probably requires a client certificate (mTLS) "
                      "and none was sent", **fail.detail)
        return out
    out = failure("client_cert_rejected", f"{base}: it probably rejected the client certificate", **fail.detail)
    _enrich_client_rejection(out, client)
    if "client_cert_hints" in out.detail:
        return out
    fail.cause = (f"{base}; if the service verifies client certificates in the handshake it may have "
                  "rejected this one, otherwise a firewall/proxy cut the connection")
    return fail


def _peek_server(endpoint: Endpoint, timeout: float) -> list[dict[str, Any]]:
    """The server's chain without verification (only to explain a failed verification)."""
    ctx = make_context("", verify=False)
    try:
        with socket.create_connection((endpoint.address, endpoint.port), timeout) as raw, \
                ctx.wrap_socket(raw, server_hostname=endpoint.host) as tls:
            info = tls_info(tls)
            return [cert_facts_der(d) for d in info["peer_chain_der"]]
    except (OSError, ssl.SSLError, ValueError):
        return []


def _server_checks(chain: list[dict[str, Any]], host: str, warn_days: int, verified: bool,
                   checks: list[dict[str, Any]]) -> None:
    if not chain:
        checks.append(check("tls.server_certificate", "tls", "Server certificate", "skip",
                            cause="no certificate received"))
        checks.append(check("tls.hostname", "tls", f"Server certificate covers {host}", "skip"))
        return
    leaf = chain[0]
    if leaf["expired"]:
        st, cause, action = ("fail", f"the server certificate expired on {leaf['not_after'][:10]}",
                             "the vendor must renew the server certificate")
    elif leaf["days_left"] < warn_days:
        st, cause, action = ("warn", f"the server certificate expires in {leaf['days_left']} days",
                             "remind the vendor to renew the server certificate")
    else:
        st, cause, action = "pass", None, None
    checks.append(check(
        "tls.server_certificate", "tls",
        f"Server certificate {leaf['subject']} valid until {leaf['not_after'][:10]} ({leaf['days_left']} days)",
        st, detail={"subject": leaf["subject"], "issuer": leaf["issuer"], "not_after": leaf["not_after"],
                    "days_left": leaf["days_left"], "sans": leaf["sans"], "verified": verified,
                    "sha256_fingerprint": leaf["sha256_fingerprint"]},
        cause=cause, action=action))
    match = hostname_matches(leaf["sans"], host)
    checks.append(check(
        "tls.hostname", "tls", f"Server certificate covers {host}", "pass" if match else "fail",
        detail={"host": host, "sans": leaf["sans"]},
        cause=None if match else f"the certificate is for {', '.join(leaf['sans']) or leaf['subject']}, not {host}",
        action=None if match else "connect by the hostname in the vendor's dicomweb_url (DNS/hosts entry)"))


def _fail_check(cid: str, group: str, title: str, fail: Failure, duration: float = 0.0,
                extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return check(cid, group, title, "fail", duration, detail={"code": fail.code, **fail.detail, **(extra or {})},
                 cause=fail.cause, action=fail.action)


def _token_step(target: Target, cid: str, group: str,
                checks: list[dict[str, Any]]) -> tuple[str | None, Failure | None]:
    """Obtain the Authorization header; with a bearer token, a check says where it came from and its expiry."""
    t0 = time.monotonic()
    header, fail = authorization(target)
    if target.bearer is None:
        return header, fail
    source = "token URL " + str(target.bearer.token_url) if target.bearer.token_url else "static token"
    if fail is not None:
        checks.append(_fail_check(cid, group, f"Bearer token from {source}", fail, time.monotonic() - t0))
        return None, fail
    facts = dict(target.token_facts)
    left = facts.get("expires_in_s")
    title = f"Bearer token from {source}" + (f" (expires in {left} s)" if left is not None else "")
    checks.append(check(cid, group, title, "pass", time.monotonic() - t0,
                        detail={**facts, "auth_method": target.bearer.method if target.bearer.token_url else "static",
                                "renewal": "fetched again before expiry (refresh margin "
                                           f"{target.bearer.refresh_margin_s:g} s)" if target.bearer.token_url
                                           else "static: renewed by replacing dicomweb_token in the vault"}))
    return header, None


def run_tls_probe(target: Target, warn_days: int = DEFAULT_WARN_DAYS) -> dict[str, Any]:
    """Handshake with the CA bundle + client certificate, then a real request (QIDO ``limit=1``).

    Checks: ``tls.client_material``, ``tls.connect``, ``tls.handshake``, ``tls.server_certificate``,
    ``tls.hostname``, ``tls.request``. Returns ``{"checks", "tls", "failure"}``.
    """
    ep = target.endpoint
    checks: list[dict[str, Any]] = []
    facts: dict[str, Any] = {"url": target.url, "host": ep.host, "port": ep.port, "address": ep.address}
    result: dict[str, Any] = {"checks": checks, "tls": facts, "failure": None}

    def finish(fail: Failure | None) -> dict[str, Any]:
        if fail is not None:
            result["failure"] = {"code": fail.code, "cause": fail.cause, "action": fail.action}
        return result

    if ep.scheme != "https":
        fail = failure("not_tls", f"{target.url} is not an https:// URL: STOW-RS must use TLS")
        fail.action = "use the vendor's https:// dicomweb_url"
        checks.append(_fail_check("tls.connect", "tls", f"TLS to {ep.host}:{ep.port}", fail))
        return finish(fail)
    client_facts, fail = _client_facts(target)
    if client_facts is not None:
        facts["client_cert"] = {k: client_facts[k] for k in ("subject", "issuer", "not_after", "days_left",
                                                             "expired", "chains_to_ca_bundle")}
    ctx, ctx_fail = tls_context(target)
    fail = fail or ctx_fail
    if fail is not None:
        checks.append(_fail_check("tls.client_material", "tls", "Client TLS material loads", fail))
        return finish(fail)
    if client_facts is not None:
        st = "fail" if client_facts["expired"] else ("warn" if client_facts["days_left"] < warn_days else "pass")
        checks.append(check(
            "tls.client_material", "tls",
            f"Client certificate {client_facts['subject']} loads ({client_facts['days_left']} days left)", st,
            detail=facts["client_cert"],
            cause={"fail": "the client certificate has expired",
                   "warn": f"the client certificate expires in {client_facts['days_left']} days"}.get(st),
            action=None if st == "pass" else "obtain a renewed client certificate from the vendor"))

    auth_header, fail = _token_step(target, "tls.token", "tls", checks)
    if fail is not None:
        return finish(fail)
    client = open_client(target, ctx, auth_header)
    conn = client._new()
    t0 = time.monotonic()
    try:
        conn.connect()
    except (OSError, ssl.SSLError) as exc:
        phase = conn.phase
        fail = classify_exception(exc, ep, phase, target.timeout)
        elapsed = time.monotonic() - t0
        if phase == "connect":
            checks.append(_fail_check("tls.connect", "tls", f"TCP connect to {ep.address}:{ep.port}", fail, elapsed))
            return finish(fail)
        checks.append(check("tls.connect", "tls", f"TCP connect to {ep.address}:{ep.port}", "pass",
                            conn.timings.get("connect_s", 0.0)))
        _enrich_client_rejection(fail, client_facts)
        checks.append(_fail_check("tls.handshake", "tls", f"TLS handshake with {ep.host}", fail,
                                  conn.timings.get("tls_s", elapsed)))
        if isinstance(exc, ssl.SSLCertVerificationError):
            chain = _peek_server(ep, target.timeout)
            facts["peer_chain"] = [c["subject"] for c in chain]
            _server_checks(chain, ep.host, warn_days, False, checks)
        return finish(fail)
    checks.append(check("tls.connect", "tls", f"TCP connect to {ep.address}:{ep.port}", "pass",
                        conn.timings.get("connect_s", 0.0)))
    info = tls_info(conn.sock)
    chain = [cert_facts_der(d) for d in info.get("peer_chain_der", [])]
    facts.update({"protocol": info.get("protocol"), "cipher": info.get("cipher"),
                  "peer_chain": [c["subject"] for c in chain]})
    if chain:
        facts["server_cert"] = {k: chain[0][k] for k in ("subject", "issuer", "not_after", "days_left", "sans")}
        facts["days_to_expiry"] = chain[0]["days_left"]
    facts["hostname_match"] = True
    checks.append(check(
        "tls.handshake", "tls", f"TLS handshake with {ep.host}: {info.get('protocol')} {info.get('cipher')}", "pass",
        conn.timings.get("tls_s", 0.0),
        detail={"protocol": info.get("protocol"), "cipher": info.get("cipher"), "peer_chain": facts["peer_chain"],
                "verified_by_ca_bundle": target.ca_bundle, "client_cert_sent": bool(target.client_cert)}))
    _server_checks(chain, ep.host, warn_days, True, checks)

    client._conn = conn
    what = " + ".join(x for x in ("client certificate" if target.client_cert else "",
                                  "Basic auth" if target.username else "",
                                  "bearer token" if target.bearer else "") if x) or "no credentials"
    title = f"HTTPS request with {what} (QIDO-RS GET studies?limit=1)"
    try:
        resp = query(client, {"limit": 1})
    except ProbeError as exc:
        fail = _explain_reset(exc.failure, exc.phase, target, client_facts)
        _enrich_client_rejection(fail, client_facts)
        checks.append(_fail_check("tls.request", "tls", title, fail, exc.timings.get("total_s", 0.0)))
        client.close()
        return finish(fail)
    client.close()
    fail = classify_http(resp, has_client_cert=bool(target.client_cert), has_basic_auth=bool(target.username))
    if fail is not None:
        _enrich_client_rejection(fail, client_facts)
        checks.append(_fail_check("tls.request", "tls", title, fail, resp.timings.get("total_s", 0.0)))
        return finish(fail)
    facts["http_status"] = resp.status
    checks.append(check("tls.request", "tls", f"{title}: HTTP {resp.status}", "pass",
                        resp.timings.get("total_s", 0.0),
                        detail={"http_status": resp.status, "content_type": resp.content_type,
                                "mtls_proven": bool(target.client_cert)}))
    failed = [c for c in checks if c["status"] == "fail"]
    if failed:
        first = failed[0]
        result["failure"] = {"code": first["detail"].get("code", "check_failed"), "cause": first["cause"],
                             "action": first["action"]}
    return result


# --------------------------------------------------------------------------- STOW-RS probe


def _stow_check(cid: str, title: str, attempts: list[StowResult], extra: dict[str, Any]) -> dict[str, Any]:
    last = attempts[-1]
    detail = {**last.as_dict(), **extra}
    if len(attempts) > 1:
        detail["attempts"] = [{"form": a.form, "http_status": a.status,
                               "code": a.failure.code if a.failure else None} for a in attempts]
    duration = sum(a.timings.get("total_s", 0.0) for a in attempts)
    if last.ok:
        note = ""
        if len(attempts) > 1:
            note = " (accepted only single-part application/dicom; multipart got 415)"
        warned = [u for u in last.expected if u in last.warnings]
        if warned:
            return check(cid, "dicomweb", f"{title}: HTTP {last.status}, {len(last.expected)} instance(s) referenced, "
                         f"{len(warned)} with a warning{note}", "warn", duration, detail=detail,
                         cause=f"stored with WarningReason {last.warnings[warned[0]]}",
                         action="check the warning in the service's documentation; the instance is stored")
        return check(cid, "dicomweb", f"{title}: HTTP {last.status}, {len(last.expected)} instance(s) referenced{note}",
                     "pass", duration, detail=detail)
    fail = last.failure or failure("stow_not_referenced", "instance(s) not referenced")
    return check(cid, "dicomweb", title, "fail", duration, detail={"code": fail.code, **detail},
                 cause=fail.cause, action=fail.action)


def run_stow_probe(
    target: Target,
    *,
    request_form: str = "multipart",
    study_size_mb: float = 0.0,
    instance_mb: float = 2.0,
    qido: bool = True,
    qido_wait_s: float = 10.0,
    work_dir: str | None = None,
    keep_files: bool = False,
    chunk_size: int = DEFAULT_CHUNK,
    files: list[str] | None = None,
    files_new_uids: bool = True,
    synthetic: bool = True,
) -> dict[str, Any]:
    """Upload a synthetic instance (and optionally a ``study_size_mb`` study), then find it via QIDO-RS.

    With ``files`` (paths of files or study folders) each item is uploaded too and judged per
    instance (``synthetic=False``: only those). Checks: ``dicomweb.token`` (bearer), ``dicomweb.stow``,
    ``dicomweb.qido``, ``dicomweb.stow_large``, ``dicomweb.qido_large``, ``dicomweb.stow_file.N``,
    ``dicomweb.qido_file.N``.
    """
    from . import synth  # pydicom only when the probe really runs

    checks: list[dict[str, Any]] = []
    result: dict[str, Any] = {"checks": checks, "failure": None, "url": target.url}
    has_cert, has_auth = bool(target.client_cert), bool(target.username)
    ctx, fail = tls_context(target)
    if fail is None:
        _, fail = _client_facts(target)
    if fail is not None:
        checks.append(_fail_check("dicomweb.stow", "dicomweb", STOW_TITLE, fail))
        result["failure"] = {"code": fail.code, "cause": fail.cause, "action": fail.action}
        return result

    auth_header, fail = _token_step(target, "dicomweb.token", "dicomweb", checks)
    if fail is not None:
        result["failure"] = {"code": fail.code, "cause": fail.cause, "action": fail.action}
        return result

    tmp = tempfile.mkdtemp(prefix="stowpath-probe-", dir=work_dir)
    try:
        with open_client(target, ctx, auth_header) as client:
            if files:
                from .testfiles import load_items, run_files

                items = load_items(files, os.path.join(tmp, "files"), new_uids=files_new_uids)
                checks.extend(run_files(client, items, form="multipart" if request_form == "auto" else request_form,
                                        chunk_size=chunk_size, qido=qido, qido_wait_s=qido_wait_s,
                                        has_cert=has_cert, has_auth=has_auth))
                result["files"] = [f.facts() for item in items for f in item.files][:100]
            if synthetic:
                inst = synth.write_instance(os.path.join(tmp, "probe.dcm"))
                ds_study = inst.study_instance_uid
                result.update({"sop_instance_uid": inst.sop_instance_uid, "study_instance_uid": ds_study,
                               "patient_name": synth.PATIENT_NAME})
                attempts = stow(client, [inst.path], [inst.sop_instance_uid], request_form, chunk_size=chunk_size,
                                has_client_cert=has_cert, has_basic_auth=has_auth)
                accepted = attempts[-1].form if attempts[-1].ok else None
                result["accepted_form"] = accepted
                checks.append(_stow_check("dicomweb.stow", f"STOW-RS upload ({request_form}) of a synthetic instance",
                                          attempts, {"study_instance_uid": ds_study}))
                if accepted is None:
                    checks.append(check("dicomweb.qido", "dicomweb", "QIDO-RS finds the uploaded study", "skip",
                                        cause="the upload failed"))
                elif qido:
                    q = find_study(client, ds_study, wait_s=qido_wait_s, has_client_cert=has_cert, has_basic_auth=has_auth)
                    checks.append(_qido_check("dicomweb.qido", "QIDO-RS finds the uploaded study", q, ds_study))

                if study_size_mb and study_size_mb > 0:
                    if accepted is None:
                        checks.append(check("dicomweb.stow_large", "dicomweb",
                                            f"STOW-RS upload of a {study_size_mb:g} MB study", "skip",
                                            cause="the single-instance upload failed"))
                    else:
                        _large(client, tmp, study_size_mb, instance_mb, accepted, chunk_size, qido, qido_wait_s,
                               has_cert, has_auth, checks, result)
    finally:
        if keep_files:
            result["work_dir"] = tmp
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    failed = [c for c in checks if c["status"] == "fail"]
    if failed:
        result["failure"] = {"code": failed[0]["detail"].get("code", "check_failed"), "cause": failed[0]["cause"],
                             "action": failed[0]["action"]}
    return result


def stow_skipped(cause: str, action: str | None = None) -> dict[str, Any]:
    """The ``dicomweb.stow`` check of an upload that was not attempted (check mode, a failed TLS probe)."""
    return check("dicomweb.stow", "dicomweb", STOW_TITLE, "skip", cause=cause, action=action)


def run_tls_then_stow_probe(
    target: Target, warn_days: int = DEFAULT_WARN_DAYS, *, upload: bool = True, **stow_options: Any,
) -> dict[str, Any]:
    """The TLS probe, then - only when it passed - the STOW-RS probe, on one ``target`` (one token).

    Returns the STOW-RS probe's result (``upload=False``, as in check mode: a ``dicomweb.stow`` skip
    instead of an upload) with ``checks`` = the TLS checks then the STOW-RS/QIDO-RS checks, ``failure``
    = the first failure of either, and ``tls_probe`` = the TLS probe's own result (``checks``, ``tls``,
    ``failure``, ``token``). When the TLS probe failed nothing is uploaded: its checks are followed by
    a ``dicomweb.stow`` skip naming the TLS failure. ``stow_options`` are :func:`run_stow_probe`'s.
    """
    tls = run_tls_probe(target, warn_days)
    if target.token_facts:
        tls["token"] = dict(target.token_facts)
    if tls["failure"] is not None:
        skipped = stow_skipped(f"not attempted: the TLS probe failed ({tls['failure']['code']})",
                               "fix the TLS failure first")
        return {"checks": [*tls["checks"], skipped], "failure": tls["failure"], "url": target.url, "tls_probe": tls}
    if upload:
        stow_result = run_stow_probe(target, **stow_options)
    else:
        stow_result = {"checks": [stow_skipped("check mode: nothing uploaded")], "failure": None}
    return {**stow_result, "checks": [*tls["checks"], *stow_result["checks"]], "tls_probe": tls}


def _large(client: Client, tmp: str, size_mb: float, instance_mb: float, form: str, chunk_size: int,
           qido: bool, qido_wait_s: float, has_cert: bool, has_auth: bool,
           checks: list[dict[str, Any]], result: dict[str, Any]) -> None:
    from . import synth

    t0 = time.monotonic()
    study = synth.generate_study(os.path.join(tmp, "study"), size_mb, instance_mb)
    gen_s = time.monotonic() - t0
    attempts = stow(client, study.files, study.sop_instance_uids, form, chunk_size=chunk_size,
                    has_client_cert=has_cert, has_basic_auth=has_auth)
    last = attempts[-1]
    result["large_study"] = {"study_instance_uid": study.study_instance_uid, "instances": len(study.instances),
                             "payload_bytes": study.total_bytes, "mb_per_s": last.mb_per_s,
                             "generate_s": round(gen_s, 3)}
    result["throughput_mb_s"] = last.mb_per_s
    checks.append(_stow_check("dicomweb.stow_large",
                              f"STOW-RS upload of a {size_mb:g} MB study ({len(study.instances)} instances, "
                              f"{form}) at {last.mb_per_s} MB/s",
                              attempts, {"study_instance_uid": study.study_instance_uid,
                                         "payload_bytes": study.total_bytes, "generate_s": round(gen_s, 3)}))
    if qido and last.ok:
        q = find_study(client, study.study_instance_uid, wait_s=qido_wait_s, has_client_cert=has_cert,
                       has_basic_auth=has_auth)
        checks.append(_qido_check("dicomweb.qido_large", "QIDO-RS finds the large study", q,
                                  study.study_instance_uid))


def _qido_check(cid: str, title: str, q: Any, study_uid: str) -> dict[str, Any]:
    detail = {"study_instance_uid": study_uid, "http_status": q.status, "attempts": q.attempts, **q.detail}
    if q.found:
        return check(cid, "dicomweb", f"{title} (HTTP {q.status})", "pass", q.elapsed_s, detail=detail)
    fail = q.failure or failure("not_found", "study not found")
    return check(cid, "dicomweb", title, "fail", q.elapsed_s, detail={"code": fail.code, **fail.detail, **detail},
                 cause=fail.cause, action=fail.action)

