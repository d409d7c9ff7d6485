"""QIDO-RS: find a study by its Study Instance UID (and the ``limit=1`` request of the TLS probe).

The one QIDO-RS client: the STOW-RS probe looks up what it uploaded on an open :class:`Client`;
the PACS-driven send test confirms arrival on the cloud with :func:`lookup_study` (a ``Target``).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

from .client import Client, Failure, ProbeError, Response, classify_http, failure
from .target import Target, authorization, open_client, tls_context

ACCEPT = "application/dicom+json, application/json;q=0.9"
TAG_STUDY_UID = "0020000D"
TAG_NUM_INSTANCES = "00201208"


@dataclass
class QidoResult:
    found: bool
    status: int | None
    matches: int
    attempts: int
    elapsed_s: float
    failure: Failure | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def parse_qido(body: bytes) -> list[dict[str, Any]]:
    """The DICOM JSON array of a QIDO-RS answer (``[]`` for an empty body, e.g. 204)."""
    text = body.strip()
    if not text:
        return []
    data = json.loads(text)
    if not isinstance(data, list):
        raise ValueError("QIDO-RS answer is not a JSON array")  # noqa: TRY004 - a bad answer, not a bad argument
    return [d for d in data if isinstance(d, dict)]


def _first(item: dict[str, Any], tag: str) -> Any:
    value = (item.get(tag) or {}).get("Value") or [None]
    return value[0]


def query(client: Client, params: dict[str, object]) -> Response:
    return client.request("GET", client.endpoint.target(params), {"Accept": ACCEPT})


def find_study(client: Client, study_uid: str, *, wait_s: float = 10.0, interval_s: float = 0.5,
               max_attempts: int | None = None, has_client_cert: bool = True,
               has_basic_auth: bool = False) -> QidoResult:
    """``GET studies?StudyInstanceUID=X`` until it matches, ``wait_s`` passed or ``max_attempts`` were made.

    An empty answer (200 ``[]`` or 204) means "not yet"; a failure code ``not_found`` means it never came.
    """
    t0 = time.monotonic()
    attempts = 0
    while True:
        attempts += 1
        try:
            resp = query(client, {"StudyInstanceUID": study_uid, "includefield": TAG_NUM_INSTANCES})
        except ProbeError as exc:
            return QidoResult(False, None, 0, attempts, time.monotonic() - t0, exc.failure)
        fail = classify_http(resp, has_client_cert=has_client_cert, has_basic_auth=has_basic_auth)
        if fail is not None:
            return QidoResult(False, resp.status, 0, attempts, time.monotonic() - t0, fail)
        try:
            items = parse_qido(resp.body)
        except ValueError as exc:
            return QidoResult(False, resp.status, 0, attempts, time.monotonic() - t0,
                              failure("bad_response", f"QIDO-RS answer is not DICOM JSON: {exc}"))
        hits = [i for i in items if _first(i, TAG_STUDY_UID) == study_uid]
        if hits:
            return QidoResult(True, resp.status, len(hits), attempts, time.monotonic() - t0,
                              detail={"number_of_study_related_instances": _first(hits[0], TAG_NUM_INSTANCES)})
        if time.monotonic() - t0 + interval_s > wait_s or (max_attempts is not None and attempts >= max_attempts):
            waited = f"{wait_s:g} s" if math.isfinite(wait_s) else f"{attempts} attempt(s)"
            fail = failure("not_found", f"QIDO-RS does not list the study after {waited} (HTTP {resp.status}, "
                                        f"{len(items)} result(s))")
            fail.action = "the service accepted the upload but does not index it: ask the vendor"
            return QidoResult(False, resp.status, 0, attempts, time.monotonic() - t0, fail)
        time.sleep(interval_s)


def lookup_study(target: Target, study_uid: str, *, attempts: int = 3, interval_s: float = 1.0) -> QidoResult:
    """Find ``study_uid`` at ``target`` with at most ``attempts`` queries ``interval_s`` apart.

    A TLS material problem is the failure ``client_material`` (no request made).
    """
    ctx, fail = tls_context(target)
    if fail is not None:
        return QidoResult(False, None, 0, 0, 0.0, fail)
    auth_header, fail = authorization(target)
    if fail is not None:
        return QidoResult(False, None, 0, 0, 0.0, fail)
    with open_client(target, ctx, auth_header) as client:
        return find_study(client, study_uid, wait_s=math.inf, interval_s=interval_s, max_attempts=max(1, attempts),
                          has_client_cert=bool(target.client_cert), has_basic_auth=bool(target.username))
