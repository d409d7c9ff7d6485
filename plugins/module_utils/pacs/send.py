"""PACS-driven transfer test (guide section 6): the PACS sends a study to its cloud destination,
then the study is looked up on the cloud through QIDO-RS.

The send is the PACS's asynchronous STOW-RS job (the synchronous form hides every failure behind
HTTP 500), so a failure is reported with the PACS's own error: the job's ErrorCode,
Content.FunctionErrorCode and, when the PACS log is readable, the exact curl error or HTTP status,
each explained as a likely cause and action.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from ..checks import check
from ..dicomweb.qido import QidoResult, lookup_study
from ..dicomweb.target import Target
from .base import PacsError
from .orthanc import LogTail, OrthancDriver
from .orthanc_errors import explain_job_failure, log_facts

# What the send test says when the controller's own QIDO-RS lookup fails in these two ways.
_QIDO_EXPLAINED = {
    "client_material": ("the client certificate, key or CA bundle given for QIDO-RS cannot be loaded",
                        "check client_cert/client_key/client_key_password/ca_file of the task"),
    "not_found": ("the study is not on the cloud although the PACS reported success",
                  "check the cloud's ingestion (the PACS may be sending to another endpoint)"),
}


def _job_summary(job: dict[str, Any]) -> dict[str, Any]:
    content = job.get("Content") or {}
    return {
        "id": job.get("ID"),
        "state": job.get("State"),
        "error_code": job.get("ErrorCode"),
        "error_description": job.get("ErrorDescription"),
        "error_details": job.get("ErrorDetails") or "",
        "function_error_code": content.get("FunctionErrorCode"),
        "function_error_description": content.get("FunctionErrorDescription"),
        "instances": content.get("InstancesCount"),
        "runtime_s": job.get("EffectiveRuntime"),
    }


def confirm_on_cloud(cloud: Target, study_uid: str, attempts: int = 3, wait_s: float = 1.0) -> dict[str, Any]:
    """``{"found", "http_status", "duration_s", "url", "error", "cause", "action"}`` for one study UID.

    Asks QIDO-RS up to ``attempts`` times (``wait_s`` apart) while the answer is an empty match list.
    """
    q: QidoResult = lookup_study(cloud, study_uid, attempts=attempts, interval_s=wait_s)
    out: dict[str, Any] = {
        "found": q.found, "http_status": q.status, "duration_s": round(q.elapsed_s, 3),
        "url": cloud.url + ("&" if "?" in cloud.url else "?") + urlencode({"StudyInstanceUID": study_uid}),
        "error": None, "cause": None, "action": None,
    }
    fail = q.failure
    if fail is None:
        return out
    cause, action = _QIDO_EXPLAINED.get(fail.code, (fail.cause, fail.action))
    if fail.code != "not_found":
        out["error"] = f"HTTP {q.status}" if q.status is not None else fail.cause
    out.update(cause=cause, action=action)
    return out


def pacs_send(
    driver: OrthancDriver,
    destination: str,
    cloud: Target | None,
    study: str | None = None,
    instances: int = 1,
    cleanup: bool = True,
    job_timeout: float = 600.0,
    poll_s: float = 0.5,
    log_file: str | None = None,
    qido_attempts: int = 3,
) -> dict[str, Any]:
    """Run the PACS-driven send; returns ``{"ok", "checks", "job", "study_uid", "study_id", ...}``.

    ``study``: an Orthanc study id or a StudyInstanceUID already on the PACS; when None a fresh
    synthetic study (``STOWPATH^TEST^SYNTHETIC``, new UIDs) of ``instances`` instances is stored on
    the PACS first and deleted from it afterwards when ``cleanup``.
    """
    checks: list[dict[str, Any]] = []
    out: dict[str, Any] = {"ok": False, "checks": checks, "destination": destination, "timings": {}}
    base = f"pacs.send.{destination}"

    t0 = time.monotonic()
    synthetic = study is None
    try:
        if synthetic:
            from ..dicomweb.synth import make_study
            made = make_study(instances=instances)
            study_id = driver.upload_instances(made.instances)
            study_uid: str | None = made.study_uid
            out["bytes"] = made.size_bytes
        elif study and "." in study:
            study_uid = study
            study_id = driver.lookup_study(study) or ""
            if not study_id:
                raise PacsError(f"the PACS has no study with StudyInstanceUID {study}",
                                "load the test study on the PACS or omit study (a synthetic one is sent)")
        else:
            study_id = study or ""
            study_uid = driver.study_uid(study_id)
            if not study_uid:
                raise PacsError(f"the PACS has no study {study!r}", "pass an Orthanc study id or StudyInstanceUID")
    except PacsError as exc:
        checks.append(check(f"{base}.study", "pacs", "Test study available on the PACS", "fail",
                            time.monotonic() - t0, exc.detail, cause=str(exc), action=exc.action))
        return out
    out.update(study_id=study_id, study_uid=study_uid, synthetic=synthetic)
    out["timings"]["prepare_s"] = round(time.monotonic() - t0, 3)

    t1 = time.monotonic()
    tail = LogTail(log_file)
    job: dict[str, Any] = {}
    try:
        try:
            if driver.get_destination(destination) is None:
                raise PacsError(f"the PACS has no DICOMweb destination {destination!r}",
                                "configure it first (stowpath.core.pacs_destination) and check its name")
            job_id = driver.start_stow(destination, [study_id])
            job = driver.wait_job(job_id, job_timeout, poll_s)
        except PacsError as exc:
            checks.append(check(f"{base}.job", "pacs", f"PACS sends study to destination {destination}", "fail",
                                time.monotonic() - t1, {"study_uid": study_uid}, cause=str(exc), action=exc.action))
            return out
        summary = _job_summary(job)
        out["job"] = summary
        send_s = time.monotonic() - t1
        out["timings"]["send_s"] = round(send_s, 3)
        title = f"PACS sends study {study_uid} to destination {destination} (STOW-RS job)"
        detail: dict[str, Any] = {"study_uid": study_uid, "job": summary}
        if summary["state"] == "Success":
            checks.append(check(f"{base}.job", "pacs", title, "pass", send_s, detail))
        else:
            lines = tail.new_lines()
            facts = log_facts(lines)
            if facts:
                detail["pacs_log"] = facts
            if summary["state"] not in ("Failure",):
                driver.cancel_job(job_id)
                why = explain_job_failure(16)
                cause = f"the PACS job did not finish within {job_timeout:.0f} s (state {summary['state']}): " + why.cause
                action = why.action
            else:
                why = explain_job_failure(summary["function_error_code"], summary["error_code"], lines)
                code = summary["function_error_code"]
                cause = (f"PACS job failed: FunctionErrorCode {code} ({summary['function_error_description']})"
                         f" -> {why.cause}")
                action = why.action
            detail["explanation"] = why.as_dict()
            checks.append(check(f"{base}.job", "pacs", title, "fail", send_s, detail, cause=cause, action=action))
            checks.append(check(f"{base}.qido", "dicomweb", "Study found on the cloud through QIDO-RS", "skip",
                                0.0, {"study_uid": study_uid}, cause="the PACS did not send the study"))
            return out

        if cloud is None:
            checks.append(check(f"{base}.qido", "dicomweb", "Study found on the cloud through QIDO-RS", "skip",
                                0.0, {"study_uid": study_uid}, cause="no QIDO-RS access given (qido_url)",
                                action="pass qido_url and the controller's TLS material to confirm arrival"))
            out["ok"] = True
            return out
        found = confirm_on_cloud(cloud, str(study_uid), attempts=qido_attempts)
        out["timings"]["qido_s"] = found["duration_s"]
        status = "pass" if found["found"] else "fail"
        qdetail = {k: found.get(k) for k in ("url", "http_status", "found", "error")}
        checks.append(check(f"{base}.qido", "dicomweb", f"Study {study_uid} found on the cloud through QIDO-RS",
                            status, found["duration_s"], qdetail,
                            cause=None if found["found"] else found.get("cause"),
                            action=None if found["found"] else found.get("action")))
        out["ok"] = bool(found["found"])
        return out
    finally:
        if synthetic and cleanup and study_id:
            try:
                driver.delete_study(study_id)
            except PacsError:
                pass
