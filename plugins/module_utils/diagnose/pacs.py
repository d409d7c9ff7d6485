"""PACS layer: the STOW-RS destination's settings (URL, timeout, certificate paths) and recent failed
transfers with their HTTP/curl error codes (the PACS API's jobs and its log).

Evidence in: the destination (as the PACS lists it), which files exist, failed jobs
(``{id, time, function_error_code, error_code, details}``) and log lines. Findings out.
"""

from __future__ import annotations

from typing import Any

from ..pacs.orthanc_errors import explain_job_failure, log_facts
from .causes import finding

MIN_TIMEOUT = 300
FILE_FIELDS = ("CertificateFile", "CertificateKeyFile")


def evaluate_pacs(expected_url: str, name: str, destination: dict[str, Any] | None, files_present: dict[str, bool],
                  failed_jobs: list[dict[str, Any]], log_lines: list[str], api_error: str | None = None,
                  min_timeout: int = MIN_TIMEOUT) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    findings: list[dict[str, Any]] = []
    if api_error:
        return [finding("pacs.api_unreachable", api_error, [api_error])], {}
    if destination is None:
        return [finding("pacs.destination_missing", f"the PACS has no destination {name!r}", [])], {}
    url = str(destination.get("Url") or "")
    timeout = destination.get("Timeout")
    settings = {"name": name, "url": url, "timeout": timeout,
                **{k: destination.get(k) for k in FILE_FIELDS if destination.get(k)}}
    facts: dict[str, Any] = {"destination": settings, "failed_jobs": failed_jobs[-5:]}
    shown = [f"destination {name}: Url {url}, Timeout {timeout}"] + \
            [f"{k}: {destination[k]}" for k in FILE_FIELDS if destination.get(k)]
    if url.rstrip("/") not in (expected_url.rstrip("/"), expected_url.rstrip("/").rsplit("/studies", 1)[0]):
        findings.append(finding("pacs.url_mismatch", f"the destination points at {url}, the vendor's URL is "
                                f"{expected_url}", shown))
    try:
        t = int(timeout) if timeout not in (None, "") else None
    except (TypeError, ValueError):
        t = None
    if t is not None and 0 < t < min_timeout:
        findings.append(finding("pacs.timeout_low", f"the destination's timeout is {t} s (the guide: at least "
                                f"{min_timeout} s for large studies)", shown, timeout=t))
    missing = [f"{k} {destination[k]}" for k in FILE_FIELDS if destination.get(k) and not files_present.get(destination[k], True)]
    if missing:
        findings.append(finding("pacs.tls_file_missing", f"{', '.join(missing)} does not exist on the PACS host", shown))
    if failed_jobs:
        ev = []
        for job in failed_jobs[-5:]:
            expl = explain_job_failure(job.get("function_error_code"), job.get("error_code"), log_lines)
            ev.append(f"job {job.get('id')} at {job.get('time')}: FunctionErrorCode {job.get('function_error_code')}"
                      f" -> {expl.cause}")
        lf = log_facts(log_lines)
        if lf.get("log"):
            ev.append("log: " + lf["log"])
        findings.append(finding("pacs.failed_transfers", f"{len(failed_jobs)} recent transfer(s) to the cloud failed", ev,
                                failed=len(failed_jobs)))
    return findings, facts
