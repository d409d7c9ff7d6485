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

from ..checks import check
from .base import PacsError
from .orthanc import LogTail, OrthancDriver
from .orthanc_errors import explain_job_failure, log_facts
from .qido import CloudAccess, find_study


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


def pacs_send(
    driver: OrthancDriver,
    destination: str,
    cloud: CloudAccess | None,
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
            from .synthetic import make_study
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
        found = find_study(cloud, str(study_uid), attempts=qido_attempts)
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
