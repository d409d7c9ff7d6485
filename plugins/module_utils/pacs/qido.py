"""Confirm on the cloud side, through QIDO-RS, that a study arrived (``GET .../studies?StudyInstanceUID=X``).

Uses the verification controller's own TLS material (CA bundle, client certificate, encrypted keys
supported through an ``ssl.SSLContext``) and optional Basic auth. Orthanc answers ``[]`` with 200
when nothing matches, so "found" means the UID is in the answer.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from .orthanc_errors import CURL_ERRORS, Explanation, http_status_explanation

STUDY_UID_TAG = "0020000D"


@dataclass
class CloudAccess:
    """How the controller reaches the cloud's QIDO-RS (``url`` is the ``.../studies`` endpoint)."""

    url: str
    ca_file: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    client_key_password: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    validate_certs: bool = True
    timeout: float = 30.0

    def secrets(self) -> list[str]:
        return [s for s in (self.client_key_password, self.password) if s]


def _opener(access: CloudAccess) -> urllib.request.OpenerDirector:
    handlers: list[Any] = [urllib.request.ProxyHandler({})]
    if access.url.startswith("https:"):
        ctx = ssl.create_default_context(cafile=access.ca_file) if access.validate_certs else \
            ssl._create_unverified_context()
        if access.client_cert:
            ctx.load_cert_chain(access.client_cert, access.client_key, password=access.client_key_password)
        handlers.append(urllib.request.HTTPSHandler(context=ctx))
    return urllib.request.build_opener(*handlers)


def _classify(exc: BaseException) -> Explanation:
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, ssl.SSLCertVerificationError):
        return CURL_ERRORS[60]
    if isinstance(reason, ssl.SSLError):
        return CURL_ERRORS[35]
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return CURL_ERRORS[28]
    if isinstance(reason, socket.gaierror):
        return CURL_ERRORS[6]
    return CURL_ERRORS[7]


def find_study(access: CloudAccess, study_uid: str, attempts: int = 3, wait_s: float = 1.0) -> dict[str, Any]:
    """``{"found", "http_status", "duration_s", "url", "error", "cause", "action"}`` for one study UID.

    Retries ``attempts`` times (``wait_s`` apart) while the answer is an empty match list.
    """
    query = access.url + ("&" if "?" in access.url else "?") + urlencode({"StudyInstanceUID": study_uid})
    headers = {"Accept": "application/dicom+json"}
    if access.username:
        token = base64.b64encode(f"{access.username}:{access.password or ''}".encode()).decode()
        headers["Authorization"] = "Basic " + token
    out: dict[str, Any] = {"found": False, "http_status": None, "url": query, "error": None,
                           "cause": None, "action": None}
    start = time.monotonic()
    try:
        opener = _opener(access)
    except (OSError, ssl.SSLError) as exc:
        out.update(error=f"cannot load the controller's TLS material: {exc}",
                   cause="the client certificate, key or CA bundle given for QIDO-RS cannot be loaded",
                   action="check client_cert/client_key/client_key_password/ca_file of the task")
        out["duration_s"] = round(time.monotonic() - start, 3)
        return out
    for attempt in range(attempts):
        req = urllib.request.Request(query, headers=headers, method="GET")
        try:
            with opener.open(req, timeout=access.timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, b""
        except (urllib.error.URLError, OSError) as exc:
            why = _classify(exc)
            out.update(error=str(getattr(exc, "reason", exc)), cause=why.cause, action=why.action,
                       category=why.category)
            break
        out["http_status"] = status
        if status != 200:
            why = http_status_explanation(status)
            out.update(error=f"HTTP {status}", cause=why.cause, action=why.action, category=why.category)
            break
        try:
            matches = json.loads(raw) if raw else []
        except ValueError:
            out.update(error="QIDO-RS answer is not JSON", cause="the URL does not answer QIDO-RS",
                       action="confirm endpoint path")
            break
        uids = {str(m.get(STUDY_UID_TAG, {}).get("Value", [""])[0]) for m in matches if isinstance(m, dict)}
        if study_uid in uids:
            out["found"] = True
            break
        if attempt + 1 < attempts:
            time.sleep(wait_s)
    else:
        out.update(cause="the study is not on the cloud although the PACS reported success",
                   action="check the cloud's ingestion (the PACS may be sending to another endpoint)")
    out["duration_s"] = round(time.monotonic() - start, 3)
    return out
