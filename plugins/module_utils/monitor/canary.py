"""The STOW-RS canary: upload one synthetic, obviously fake instance to the canary study and confirm it.

Every run creates a new Secondary Capture instance (new SOP Instance UID) of the vendor-agreed canary study
(fixed Study Instance UID, test patient ``STOWPATH^CANARY^SYNTHETIC``), uploads it by STOW-RS
(multipart/related, judged strictly: its SOP Instance UID must come back in ReferencedSOPSequence) and
looks it up by QIDO-RS at instance level. The result carries the classified failure reason (the codes of
``dicomweb/client.py``: ``tls_error``, ``client_cert_rejected``, ``wrong_path``, ``service_error``,
``timeout``, ``not_found``...) so alerts can say what broke.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ..dicomweb.client import Client, ProbeError, classify_http
from ..dicomweb.qido import parse_qido
from ..dicomweb.stow import stow
from ..dicomweb.synth import synthetic_dataset
from ..dicomweb.target import Target, tls_context

CANARY_PATIENT_ID = "STOWPATH-CANARY"
CANARY_PATIENT_NAME = "STOWPATH^CANARY^SYNTHETIC"
CANARY_DESCRIPTION = "STOWPATH CANARY - SYNTHETIC TEST OBJECT - NOT PATIENT DATA"
TAG_SOP_UID = "00080018"
# a fixed, recognisable default for the canary study (agree the real one with the cloud vendor)
DEFAULT_CANARY_STUDY_UID = "2.25.3019930421866251430587230162731005"


@dataclass
class CanaryResult:
    ok: bool
    reason: str  # "ok" or a failure code
    cause: str = ""
    total_s: float = 0.0
    stow_s: float | None = None
    qido_s: float | None = None
    http_status: int | None = None
    sop_uid: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


def canary_dataset(study_uid: str, patient_id: str = CANARY_PATIENT_ID) -> Any:
    ds = synthetic_dataset(study_uid=study_uid, series_uid=study_uid + ".1", patient_id=patient_id,
                           rows=16, cols=16, description=CANARY_DESCRIPTION)
    ds.PatientName = CANARY_PATIENT_NAME
    return ds


def find_instance(client: Client, study_uid: str, sop_uid: str, *, attempts: int = 10, interval_s: float = 0.5,
                  has_client_cert: bool = True, has_basic_auth: bool = False) -> tuple[bool, str, str, int | None]:
    """QIDO-RS ``studies/{study}/instances?SOPInstanceUID=X`` until it lists the instance:
    ``(found, reason, cause, http_status)``."""
    target = (f"{client.endpoint.studies_path}/{quote(study_uid)}/instances?SOPInstanceUID={quote(sop_uid)}"
              f"&includefield={TAG_SOP_UID}")
    status: int | None = None
    for i in range(max(1, attempts)):
        try:
            resp = client.request("GET", target, {"Accept": "application/dicom+json, application/json;q=0.9"})
        except ProbeError as exc:
            return False, exc.failure.code, exc.failure.cause, None
        status = resp.status
        fail = classify_http(resp, has_client_cert=has_client_cert, has_basic_auth=has_basic_auth)
        if fail is not None:
            return False, fail.code, fail.cause, status
        try:
            items = parse_qido(resp.body)
        except ValueError as exc:
            return False, "bad_response", f"QIDO-RS answer is not DICOM JSON: {exc}", status
        if any(((it.get(TAG_SOP_UID) or {}).get("Value") or [None])[0] == sop_uid for it in items):
            return True, "ok", "", status
        if i + 1 < attempts:
            time.sleep(interval_s)
    return False, "not_found", f"QIDO-RS does not list the canary instance after {attempts} queries", status


def run_canary(target: Target, study_uid: str = DEFAULT_CANARY_STUDY_UID, *, qido_attempts: int = 10,
               qido_interval_s: float = 0.5, workdir: str | None = None) -> CanaryResult:
    """One canary round against ``target`` (the STOW-RS URL with its trust and client material)."""
    t0 = time.monotonic()
    ctx, fail = tls_context(target)
    if fail is not None:
        return CanaryResult(False, fail.code, fail.cause, time.monotonic() - t0)
    ds = canary_dataset(study_uid)
    sop_uid = str(ds.SOPInstanceUID)
    fd, path = tempfile.mkstemp(prefix="stowpath-canary-", suffix=".dcm", dir=workdir)
    os.close(fd)
    try:
        ds.save_as(path, enforce_file_format=True)
        has_cert, has_basic = bool(target.client_cert), bool(target.username)
        with Client(target.endpoint, ctx, timeout=target.timeout, username=target.username, password=target.password,
                    user_agent="stowpath-canary/1") as client:
            t_stow = time.monotonic()
            res = stow(client, [path], [sop_uid], "multipart", has_client_cert=has_cert, has_basic_auth=has_basic)[-1]
            stow_s = time.monotonic() - t_stow
            if res.failure is not None:
                return CanaryResult(False, res.failure.code, res.failure.cause, time.monotonic() - t0, stow_s,
                                    http_status=res.status, sop_uid=sop_uid)
            t_qido = time.monotonic()
            found, reason, cause, status = find_instance(client, study_uid, sop_uid, attempts=qido_attempts,
                                                         interval_s=qido_interval_s, has_client_cert=has_cert,
                                                         has_basic_auth=has_basic)
            qido_s = time.monotonic() - t_qido
            return CanaryResult(found, reason, cause, time.monotonic() - t0, stow_s, qido_s,
                                http_status=status if not found else res.status, sop_uid=sop_uid)
    finally:
        os.unlink(path)
