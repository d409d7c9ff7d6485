"""STOW-RS: upload (multipart/related or single-part application/dicom) and response judgement.

Success is strict: every SOP Instance UID we sent must be in the response's
ReferencedSOPSequence (0008,1199) and none in FailedSOPSequence (0008,1198). A 200 with an empty
body or an empty ReferencedSOPSequence (duplicates on Orthanc) is not a success.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .client import Client, Failure, ProbeError, Response, classify_http, failure
from .multipart import DEFAULT_CHUNK, MultipartRelated, SinglePart

FORMS = ("multipart", "single", "auto")
ACCEPT = "application/dicom+json, application/dicom+xml;q=0.5, application/json;q=0.4"
TAG_REFERENCED_SEQ = "00081199"
TAG_FAILED_SEQ = "00081198"
TAG_REFERENCED_SOP_UID = "00081155"
TAG_FAILURE_REASON = "00081197"
TAG_WARNING_REASON = "00081196"
TAG_RETRIEVE_URL = "00081190"

FAILURE_REASONS = {
    0x0110: "processing failure",
    0x0111: "duplicate SOP instance",
    0x0117: "invalid SOP instance",
    0x0122: "SOP class not supported",
    0x0124: "not authorized",
    0xA700: "out of resources",
    0xA900: "data set does not match SOP class",
    0xC000: "cannot understand",
    0xC122: "referenced transfer syntax not supported",
}

EXPLAIN_415_SINGLE = (
    'this service accepts only multipart/related; type="application/dicom" (the DICOMweb STOW-RS '
    "standard form), not a single-part Content-Type: application/dicom POST as in the guide's curl "
    "example: set request_form: multipart (or auto), and configure the PACS for standard STOW-RS"
)
EXPLAIN_415_MULTIPART = (
    'this service rejected multipart/related; type="application/dicom" and may accept only the '
    "single-part Content-Type: application/dicom POST some vendors document: set request_form: "
    "single (or auto) and check the vendor's STOW-RS documentation"
)


@dataclass
class StowResult:
    """The judged answer of one STOW-RS request."""

    form: str
    expected: list[str]
    status: int | None = None
    referenced: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    failure: Failure | None = None
    bytes_sent: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    retrieve_url: str | None = None
    content_type: str = ""

    @property
    def missing(self) -> list[str]:
        ref = set(self.referenced)
        return [u for u in self.expected if u not in ref]

    @property
    def ok(self) -> bool:
        return self.failure is None and not self.missing and not any(u in self.failed for u in self.expected)

    @property
    def mb_per_s(self) -> float:
        secs = self.timings.get("total_s") or 0.0
        return round(self.bytes_sent / 1e6 / secs, 2) if secs > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "form": self.form,
            "http_status": self.status,
            "instances_sent": len(self.expected),
            "instances_referenced": len([u for u in self.expected if u in set(self.referenced)]),
            "failed": self.failed,
            "bytes_sent": self.bytes_sent,
            "mb_per_s": self.mb_per_s,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "response_content_type": self.content_type,
        }
        if len(self.expected) <= 5:
            out["sop_instance_uids"] = self.expected
        if self.missing and len(self.missing) <= 5:
            out["missing"] = self.missing
        if self.failure is not None:
            out["failure"] = {"code": self.failure.code, **self.failure.detail}
        return out


def _values(item: dict[str, Any], tag: str) -> list[Any]:
    elem = item.get(tag) or {}
    return list(elem.get("Value") or []) if isinstance(elem, dict) else []


def parse_stow_response(body: bytes, content_type: str = "") -> tuple[list[str], dict[str, str], str | None]:
    """``(referenced SOP UIDs, {failed SOP UID: reason}, first RetrieveURL)`` from a STOW-RS answer.

    DICOM JSON (``application/dicom+json``) or DICOM XML (``application/dicom+xml``); an empty or
    unparsable body gives empty results.
    """
    text = body.strip()
    if not text:
        return [], {}, None
    if "xml" in content_type.lower() or text.startswith(b"<"):
        return _parse_xml(text)
    try:
        data = json.loads(text)
    except ValueError:
        return [], {}, None
    if isinstance(data, list):
        data = data[0] if data else {}
    if not isinstance(data, dict):
        return [], {}, None
    referenced: list[str] = []
    failed: dict[str, str] = {}
    retrieve = None
    for item in _values(data, TAG_REFERENCED_SEQ):
        if isinstance(item, dict):
            referenced += [str(v) for v in _values(item, TAG_REFERENCED_SOP_UID)]
            if retrieve is None and _values(item, TAG_RETRIEVE_URL):
                retrieve = str(_values(item, TAG_RETRIEVE_URL)[0])
    for item in _values(data, TAG_FAILED_SEQ):
        if isinstance(item, dict):
            reasons = _values(item, TAG_FAILURE_REASON)
            code = reasons[0] if reasons else None
            for uid in _values(item, TAG_REFERENCED_SOP_UID):
                failed[str(uid)] = _reason(code)
    return referenced, failed, retrieve


def _reason(code: Any) -> str:
    try:
        num = int(code)
    except (TypeError, ValueError):
        return "unknown"
    return f"{num} (0x{num:04X}) {FAILURE_REASONS.get(num, 'failure')}"


def _parse_xml(text: bytes) -> tuple[list[str], dict[str, str], str | None]:
    try:
        from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - target without defusedxml; expat >= 2.4.1 limits expansion
        from xml.etree.ElementTree import fromstring
    try:
        root = fromstring(text)
    except Exception:  # noqa: BLE001 - any malformed answer counts as "nothing referenced"
        return [], {}, None
    referenced: list[str] = []
    failed: dict[str, str] = {}
    retrieve = None
    for seq in root.iter("DicomAttribute"):
        tag = seq.get("tag", "").upper()
        if tag not in (TAG_REFERENCED_SEQ, TAG_FAILED_SEQ):
            continue
        for item in seq.findall("Item"):
            uid = reason = url = None
            for attr in item.findall("DicomAttribute"):
                value = attr.findtext("Value")
                t = attr.get("tag", "").upper()
                if t == TAG_REFERENCED_SOP_UID:
                    uid = value
                elif t == TAG_FAILURE_REASON:
                    reason = value
                elif t == TAG_RETRIEVE_URL:
                    url = value
            if uid and tag == TAG_REFERENCED_SEQ:
                referenced.append(uid.strip())
                retrieve = retrieve or url
            elif uid:
                failed[uid.strip()] = _reason(reason)
    return referenced, failed, retrieve


def judge(resp: Response, form: str, expected: Sequence[str], bytes_sent: int, *,
          has_client_cert: bool, has_basic_auth: bool) -> StowResult:
    """Turn one HTTP answer into a :class:`StowResult` (with failure class and explanation)."""
    result = StowResult(form=form, expected=list(expected), status=resp.status, bytes_sent=bytes_sent,
                        timings=resp.timings, content_type=resp.content_type)
    result.referenced, result.failed, result.retrieve_url = parse_stow_response(resp.body, resp.content_type)
    fail = classify_http(resp, has_client_cert=has_client_cert, has_basic_auth=has_basic_auth)
    if fail is not None and fail.code == "unsupported_media_type":
        fail.cause = "HTTP 415: " + (EXPLAIN_415_SINGLE if form == "single" else EXPLAIN_415_MULTIPART)
        fail.action = ("set request_form: multipart (or auto)" if form == "single"
                       else "set request_form: single (or auto)")
    if fail is None:
        ours_failed = {u: r for u, r in result.failed.items() if u in set(expected)}
        if ours_failed:
            fail = failure("stow_rejected",
                           f"HTTP {resp.status} but the service lists {len(ours_failed)} instance(s) in "
                           f"FailedSOPSequence: {next(iter(ours_failed.values()))}",
                           failed=ours_failed)
            fail.action = "read the FailureReason and the service's logs; check the payload's SOP class"
        elif result.missing:
            fail = failure("stow_not_referenced",
                           f"HTTP {resp.status} but {len(result.missing)} of {len(expected)} SOP Instance UID(s) "
                           "are not in ReferencedSOPSequence (empty or partial answer: not stored, or "
                           "stored before as a duplicate)", missing=len(result.missing))
            fail.action = "check the service's STOW-RS response and logs; a 2xx alone does not prove storage"
    elif result.failed:
        fail.detail["failed"] = {u: r for u, r in list(result.failed.items())[:5]}
    result.failure = fail
    return result


def _error_result(form: str, expected: Sequence[str], exc: ProbeError, bytes_sent: int) -> StowResult:
    return StowResult(form=form, expected=list(expected), failure=exc.failure, timings=exc.timings,
                      bytes_sent=bytes_sent)


def stow_multipart(client: Client, files: Sequence[str], sop_uids: Sequence[str], *,
                   chunk_size: int = DEFAULT_CHUNK, has_client_cert: bool, has_basic_auth: bool) -> StowResult:
    """POST all ``files`` as one ``multipart/related; type="application/dicom"`` body, streamed."""
    body = MultipartRelated(files, chunk_size=chunk_size)
    length = len(body)
    headers = {"Content-Type": body.content_type, "Accept": ACCEPT}
    try:
        resp = client.request("POST", client.endpoint.target(), headers, body, length)
    except ProbeError as exc:
        return _error_result("multipart", sop_uids, exc, length)
    return judge(resp, "multipart", sop_uids, length, has_client_cert=has_client_cert,
                 has_basic_auth=has_basic_auth)


def stow_single(client: Client, files: Sequence[str], sop_uids: Sequence[str], *,
                chunk_size: int = DEFAULT_CHUNK, has_client_cert: bool, has_basic_auth: bool) -> StowResult:
    """POST each file as ``Content-Type: application/dicom`` (the guide's curl form); merged result."""
    total = StowResult(form="single", expected=list(sop_uids))
    t0 = time.monotonic()
    for path, uid in zip(files, sop_uids, strict=True):
        body = SinglePart(path, chunk_size)
        length = len(body)
        try:
            resp = client.request("POST", client.endpoint.target(),
                                  {"Content-Type": "application/dicom", "Accept": ACCEPT}, body, length)
        except ProbeError as exc:
            res = _error_result("single", [uid], exc, length)
        else:
            res = judge(resp, "single", [uid], length, has_client_cert=has_client_cert,
                        has_basic_auth=has_basic_auth)
        total.status = res.status
        total.bytes_sent += res.bytes_sent
        total.referenced += res.referenced
        total.failed.update(res.failed)
        total.content_type = res.content_type
        total.retrieve_url = total.retrieve_url or res.retrieve_url
        if res.failure is not None:
            total.failure = res.failure
            break
    total.timings = {"total_s": time.monotonic() - t0}
    return total


def stow(client: Client, files: Sequence[str], sop_uids: Sequence[str], form: str = "multipart", *,
         chunk_size: int = DEFAULT_CHUNK, has_client_cert: bool = True,
         has_basic_auth: bool = False) -> list[StowResult]:
    """Upload in the requested form; ``auto`` tries multipart, then single-part after a 415.

    Returns every attempt (the last one decides).
    """
    if form not in FORMS:
        raise ValueError(f"request_form must be one of {FORMS}, not {form!r}")
    kw: dict[str, Any] = {"chunk_size": chunk_size, "has_client_cert": has_client_cert,
                          "has_basic_auth": has_basic_auth}
    if form == "single":
        return [stow_single(client, files, sop_uids, **kw)]
    first = stow_multipart(client, files, sop_uids, **kw)
    if form == "multipart" or first.failure is None or first.failure.code != "unsupported_media_type":
        return [first]
    second = stow_single(client, files, sop_uids, **kw)
    if second.failure is not None and second.failure.code == "unsupported_media_type":
        second.failure.cause = ("HTTP 415 for both multipart/related; type=\"application/dicom\" and single-part "
                                "application/dicom: the URL may not be a STOW-RS endpoint, or the service wants "
                                "another part type")
        second.failure.action = "check the dicomweb_url and the vendor's STOW-RS documentation"
    return [first, second]


def file_size_total(files: Sequence[str]) -> int:
    return sum(os.path.getsize(f) for f in files)
