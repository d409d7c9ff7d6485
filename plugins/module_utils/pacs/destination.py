"""Ensure a PACS's STOW-RS destination (guide section 5) and return ``checks`` for the report.

Pure orchestration over a :class:`.base.PacsDriver`: validate (refuse a timeout below the vendor's
minimum), read, diff, apply unless check mode, read back, optionally make the PACS trust the vendor
CA (Orthanc: edit ``HttpsCACertificates`` in its configuration) and prove the destination survives
a restart. Nothing returned carries a secret value.
"""

from __future__ import annotations

import difflib
import time
from typing import Any

from ..checks import check
from .base import MASK, DestinationSpec, PacsDriver, PacsError, diff_text, validate_spec
from .checklist import checklist, checklist_text

_READABLE_SAFE = ("Url", "Timeout", "Username", "CertificateFile", "HttpHeaders", "Pkcs11", "HasDelete")


def masked_view(current: dict[str, Any] | None) -> dict[str, Any] | None:
    """The PACS's view of a destination with anything not known to be harmless masked."""
    if current is None:
        return None
    return {k: (v if k in _READABLE_SAFE or v is None else MASK) for k, v in sorted(current.items())}


def _file_diffs(edits: dict[str, tuple[str, str]]) -> list[dict[str, str]]:
    out = []
    for path, (old, new) in edits.items():
        lines = list(difflib.unified_diff(old.splitlines(True), new.splitlines(True), path, path, n=1))
        out.append({"before_header": path, "after_header": path, "before": "", "after": "".join(lines)})
    return out


def ensure_destination(
    driver: PacsDriver,
    spec: DestinationSpec,
    state: str = "present",
    check_mode: bool = False,
    min_timeout: int = 300,
    verify_restart: bool = False,
    manage_ca: bool = False,
) -> dict[str, Any]:
    """Bring the PACS to ``spec``; returns ``changed``, ``checks``, ``diff`` and facts (all masked).

    Raises :class:`.base.SpecError` (refused input, e.g. timeout < ``min_timeout``) and
    :class:`.base.PacsError` (PACS unreachable or refusing).
    """
    t0 = time.monotonic()
    warnings = validate_spec(spec, min_timeout) if state == "present" else []
    result: dict[str, Any] = {"changed": False, "destination": spec.masked(), "product": driver.product,
                              "warnings": warnings, "checks": [], "diff": []}
    checks = result["checks"]
    cid = f"pacs.destination.{spec.name}"

    if not driver.has_api and state == "absent":
        checks.append(check(cid, "pacs", f"PACS destination '{spec.label}' removed (by hand)", "skip", 0.0,
                            {"product": driver.product}, cause="this PACS has no API stowpath can drive",
                            action="delete the destination in the PACS UI"))
        return result
    if not driver.has_api:
        items = checklist(spec, min_timeout)
        result["checklist"] = items
        result["checklist_text"] = checklist_text(spec, min_timeout)
        checks.append(check(cid, "pacs", f"PACS destination '{spec.label}' -> {spec.stow_url} (by hand)", "warn",
                            time.monotonic() - t0, {"product": driver.product, "checklist": items},
                            cause="this PACS has no API stowpath can drive",
                            action="apply the checklist in the PACS UI (DICOMweb Destinations > STOW), save, "
                                   "restart the transfer service if required"))
        checks.append(_timeout_check(spec, min_timeout))
        return result

    current = driver.get_destination(spec.name)
    result["before"] = masked_view(current)
    if state == "absent":
        if current is not None:
            result["changed"] = True
            if not check_mode:
                driver.delete(spec.name)
            result["diff"] = [{"before": f"destination {spec.name}: present\n", "after": f"destination {spec.name}: absent\n"}]
        result["destination"] = {"name": spec.name}
        checks.append(check(cid, "pacs", f"PACS destination {spec.name} absent", "pass", time.monotonic() - t0))
        return result

    changes = driver.diff(spec, current)
    result["changes"] = [c.field for c in changes]
    if changes:
        result["changed"] = True
        before, after = diff_text(changes)
        result["diff"].append({"before_header": f"{driver.product} destination {spec.name}", "before": before,
                               "after_header": f"{driver.product} destination {spec.name}", "after": after})
        if not check_mode:
            current = driver.apply(spec)
    result["after"] = masked_view(current) if not check_mode or not changes else None
    title = f"PACS destination '{spec.label}' ({spec.name}) -> {spec.stow_url}"
    detail = {"product": driver.product, "auth": spec.auth, "timeout": spec.timeout, "url": spec.stow_url,
              "base_url": spec.base_url, "changed_fields": result["changes"]}
    if changes and check_mode:
        checks.append(check(cid, "pacs", title, "warn", time.monotonic() - t0, detail,
                            cause="check mode: the PACS differs from the desired destination in "
                                  + ", ".join(result["changes"]),
                            action="run without --check to configure it"))
    else:
        checks.append(check(cid, "pacs", title, "pass", time.monotonic() - t0, detail))
    checks.append(_timeout_check(spec, min_timeout))

    # The CA the PACS verifies the cloud with (global in Orthanc).
    t1 = time.monotonic()
    if spec.stow_url.startswith("http:"):
        ca = {"status": "skip", "detail": {"url": spec.stow_url},
              "cause": "the destination URL is plain http: there is no TLS certificate to verify",
              "action": "use the vendor's https:// URL"}
    else:
        ca = driver.ca_status(spec)
    edits: dict[str, tuple[str, str]] = {}
    if manage_ca and ca["status"] == "fail" and spec.ca_file and hasattr(driver, "plan_ca"):
        edits = driver.plan_ca(spec)
        if edits:
            result["changed"] = True
            result["diff"].extend(_file_diffs(edits))
            result["config_files_changed"] = sorted(edits)
            if not check_mode:
                from .orthanc_config import write_edits
                write_edits(edits)
                verify_restart = True  # Orthanc reads the CA only at start: restart so it takes effect
                ca = driver.ca_status(spec)
    result["ca"] = ca
    if not (check_mode and edits):
        checks.append(check(f"{cid}.ca", "pacs", "PACS verifies the cloud's certificate with the vendor CA",
                            ca["status"], time.monotonic() - t1, ca.get("detail"), ca.get("cause"), ca.get("action")))
    else:
        checks.append(check(f"{cid}.ca", "pacs", "PACS verifies the cloud's certificate with the vendor CA", "warn",
                            time.monotonic() - t1, ca.get("detail"),
                            "check mode: the PACS configuration would be edited: " + ", ".join(sorted(edits)),
                            "run without --check (the PACS is then restarted so the CA takes effect)"))

    # Survives a restart?
    persistence = driver.persistence() if hasattr(driver, "persistence") else {"known": False}
    result["persistence"] = persistence
    rid, rtitle = f"{cid}.restart", "PACS destination survives a PACS restart"
    if verify_restart and not check_mode:
        r = driver.verify_restart(spec.name)
        result["restart"] = {"supported": r.supported, "restarted": r.restarted, "survived": r.survived,
                             "duration_s": round(r.duration_s, 3), "detail": r.detail}
        if not r.supported:
            checks.append(check(rid, "pacs", rtitle, "skip", r.duration_s, result["restart"], cause=r.detail))
        elif r.survived:
            status = "pass" if r.restarted else "warn"
            checks.append(check(rid, "pacs", rtitle, status, r.duration_s, {**result["restart"], **persistence},
                                cause=None if r.restarted else r.detail,
                                action=None if r.restarted else "restart the PACS in a maintenance window and re-run"))
        else:
            checks.append(check(rid, "pacs", rtitle, "fail", r.duration_s, {**result["restart"], **persistence},
                                cause=r.detail + (": runtime destinations are not stored in the database "
                                                  "(DicomWeb.ServersInDatabase is false)"
                                                  if persistence.get("ServersInDatabase") is False else ""),
                                action="set DicomWeb.ServersInDatabase to true in the Orthanc configuration (or "
                                       "define the destination in DicomWeb.Servers), restart, re-run"))
    elif persistence.get("known") and persistence.get("ServersInDatabase") is False:
        checks.append(check(rid, "pacs", rtitle, "fail", 0.0, persistence,
                            cause="DicomWeb.ServersInDatabase is false: a destination created through the API is "
                                  "lost when the PACS restarts",
                            action="set DicomWeb.ServersInDatabase to true in the Orthanc configuration and restart"))
    else:
        checks.append(check(rid, "pacs", rtitle, "skip", 0.0, persistence,
                            cause="restart not tested (verify_restart is off" + (", check mode)" if check_mode else ")")))
    return result


def _timeout_check(spec: DestinationSpec, min_timeout: int) -> dict[str, Any]:
    return check(f"pacs.destination.{spec.name}.timeout", "pacs",
                 f"PACS destination timeout {spec.timeout} s >= minimum {min_timeout} s", "pass", 0.0,
                 {"timeout": spec.timeout, "min_timeout": min_timeout})


def refused(spec_name: str, message: str) -> dict[str, Any]:
    """The failed check for refused input (so the report shows why nothing was configured)."""
    return check(f"pacs.destination.{spec_name}", "pacs", f"PACS destination {spec_name} refused", "fail", 0.0,
                 {}, cause=message, action="fix the task parameters (see the message) and re-run")


__all__ = ["PacsError", "ensure_destination", "masked_view", "refused"]
