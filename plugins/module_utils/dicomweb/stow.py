"""STOW-RS: upload (multipart/related or single-part application/dicom) and response judgement.

Success is strict: every SOP Instance UID we sent must be in the response's
ReferencedSOPSequence (0008,1199) and none in FailedSOPSequence (0008,1198). A 200 with an empty
body or an empty ReferencedSOPSequence (duplicates on Orthanc) is not a success.

Answers are classified as PS3.18 section 10.5 defines them (200 all stored; 202 stored with
warnings, or some failed; 409 none stored; 400/415 request refused) and each FailureReason
(0008,1197) / WarningReason (0008,1196) through :data:`REASONS` (PS3.4 Annex B storage status codes
plus the codes cloud services document, e.g. Azure's 45070 duplicate instance).
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



@dataclass(frozen=True)
class Reason:
    """One FailureReason/WarningReason code: meaning, failure class, action, who defines it."""

    code: int
    kind: str  # failure | warning
    meaning: str
    klass: str
    action: str
    source: str = "PS3.4 / PS3.18"
    retry: bool = False


_ADMIN = "the PACS/modality must send a conformant instance; check it with dciodvfy and the vendor's conformance"
REASONS: dict[tuple[str, int], Reason] = {(r.kind, r.code): r for r in (
    Reason(0xA700, "failure", "out of resources", "stow_out_of_resources",
           "the service is out of storage or capacity: retry later and report it to the vendor", retry=True),
    Reason(0xA900, "failure", "data set does not match SOP class (Azure 43264: the instance failed validation)",
           "stow_sop_class_mismatch", "the instance's attributes do not fit its SOP Class: " + _ADMIN),
    Reason(0xC000, "failure", "cannot understand", "stow_cannot_understand",
           "the part is not a readable DICOM Part 10 instance (file meta, transfer syntax): send a valid file"),
    Reason(0x0110, "failure", "processing failure", "stow_processing_failure",
           "the service failed on this instance: read its logs; on Orthanc the instance's Study Instance UID "
           "differs from the study in the URL"),
    Reason(0x0111, "failure", "duplicate SOP instance", "stow_duplicate",
           "an instance with this SOP Instance UID is already stored: delete it first or send new UIDs"),
    Reason(0x0117, "failure", "invalid SOP instance", "stow_invalid_instance", _ADMIN),
    Reason(0x0122, "failure", "SOP class not supported", "stow_sop_class_not_supported",
           "the service does not store this SOP Class: ask the vendor which classes it accepts"),
    Reason(0x0124, "failure", "not authorized", "stow_not_authorized",
           "this client may not store here: ask the vendor to grant write access"),
    Reason(0xC122, "failure", "transfer syntax not supported", "stow_transfer_syntax_not_supported",
           "send the instance in a transfer syntax the service accepts (e.g. Explicit VR Little Endian)"),
    Reason(0xA901, "failure", "Study Instance UID does not match the request (Azure 43265)",
           "stow_study_uid_mismatch", "post to /studies, or to the study the instance belongs to",
           source="Azure DICOM service"),
    Reason(0xB00E, "failure", "instance already stored (Azure 45070: same Study/Series/SOP Instance UID)",
           "stow_duplicate", "an instance with these UIDs is already stored: delete it first to replace it, "
           "or send new UIDs", source="Azure DICOM service"),
    Reason(0xB00F, "failure", "instance being created by another request (Azure 45071)", "stow_busy",
           "retry after a short wait", source="Azure DICOM service", retry=True),
    Reason(0xB000, "warning", "coercion of data elements", "stow_warning_coerced",
           "the service changed some attributes while storing: check they are acceptable"),
    Reason(0xB006, "warning", "elements discarded", "stow_warning_discarded",
           "the service dropped some attributes while storing: check they are not needed"),
    Reason(0xB007, "warning", "data set does not match SOP class (Azure 45063)", "stow_warning_sop_class",
           "stored, but the instance does not fully match its SOP Class: " + _ADMIN),
)}
FAILURE_REASONS = {code: r.meaning for (kind, code), r in REASONS.items() if kind == "failure"}


def reason_for(code: int | None, kind: str = "failure") -> Reason:
    """The table entry of ``code`` (a generic one for codes the table does not know)."""
    if code is not None and (kind, code) in REASONS:
        return REASONS[(kind, code)]
    if kind == "warning":
        return Reason(code or 0, kind, "warning", "stow_warning", "read the service's documentation of this code",
                      source="unknown")
    if code is not None and 0xA000 <= code <= 0xAFFF:
        return Reason(code, kind, "refused", "stow_refused", "the service refused the instance: read its logs",
                      source="unknown")
    return Reason(code or 0, kind, "failure", "stow_failed", "read the FailureReason in the service's documentation "
                  "and its logs", source="unknown")


def reason_table() -> list[dict[str, Any]]:
    """The reason codes as data (for documentation and reports)."""
    return [{"code": r.code, "hex": f"0x{r.code:04X}", "kind": r.kind, "meaning": r.meaning, "class": r.klass,
             "action": r.action, "source": r.source, "retry": r.retry} for r in REASONS.values()]

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
    failed_codes: dict[str, int | None] = field(default_factory=dict)
    warnings: dict[str, str] = field(default_factory=dict)
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
            "warnings": self.warnings,
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


@dataclass
class StowAnswer:
    """What a STOW-RS response dataset says, instance by instance."""

    referenced: list[str] = field(default_factory=list)
    failed: dict[str, int | None] = field(default_factory=dict)
    warnings: dict[str, int | None] = field(default_factory=dict)
    retrieve_url: str | None = None
    dataset_warning: int | None = None


def parse_stow_answer(body: bytes, content_type: str = "") -> StowAnswer:
    """The STOW-RS response dataset: DICOM JSON (``application/dicom+json``) or XML (``application/dicom+xml``).

    ReferencedSOPSequence (0008,1199) items with their WarningReason (0008,1196), FailedSOPSequence
    (0008,1198) items with their FailureReason (0008,1197); an empty or unparsable body gives nothing.
    """
    text = body.strip()
    if not text:
        return StowAnswer()
    if "xml" in content_type.lower() or text.startswith(b"<"):
        return _parse_xml(text)
    try:
        data = json.loads(text)
    except ValueError:
        return StowAnswer()
    if isinstance(data, list):
        data = data[0] if data else {}
    if not isinstance(data, dict):
        return StowAnswer()
    out = StowAnswer(dataset_warning=_code(_first_value(data, TAG_WARNING_REASON)))
    for item in _values(data, TAG_REFERENCED_SEQ):
        if isinstance(item, dict):
            warn = _code(_first_value(item, TAG_WARNING_REASON))
            for uid in _values(item, TAG_REFERENCED_SOP_UID):
                out.referenced.append(str(uid))
                if warn is not None:
                    out.warnings[str(uid)] = warn
            if out.retrieve_url is None and _values(item, TAG_RETRIEVE_URL):
                out.retrieve_url = str(_values(item, TAG_RETRIEVE_URL)[0])
    for item in _values(data, TAG_FAILED_SEQ):
        if isinstance(item, dict):
            code = _code(_first_value(item, TAG_FAILURE_REASON))
            for uid in _values(item, TAG_REFERENCED_SOP_UID):
                out.failed[str(uid)] = code
    return out


def parse_stow_response(body: bytes, content_type: str = "") -> tuple[list[str], dict[str, str], str | None]:
    """``(referenced SOP UIDs, {failed SOP UID: reason text}, first RetrieveURL)`` from a STOW-RS answer."""
    ans = parse_stow_answer(body, content_type)
    return ans.referenced, {u: _reason(c) for u, c in ans.failed.items()}, ans.retrieve_url


def _first_value(item: dict[str, Any], tag: str) -> Any:
    values = _values(item, tag)
    return values[0] if values else None


def _code(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(str(value).strip(), 0) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        return None


def _reason(code: Any, kind: str = "failure") -> str:
    num = code if isinstance(code, int) else _code(code)
    if num is None:
        return "unknown"
    return f"{num} (0x{num:04X}) {reason_for(num, kind).meaning}"


def _parse_xml(text: bytes) -> StowAnswer:
    from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]  # required: untrusted input
    try:
        root = fromstring(text)
    except Exception:  # noqa: BLE001 - any malformed answer counts as "nothing referenced"
        return StowAnswer()
    out = StowAnswer()
    for attr in root.findall("DicomAttribute"):
        if attr.get("tag", "").upper() == TAG_WARNING_REASON:
            out.dataset_warning = _code(attr.findtext("Value"))
    for seq in root.iter("DicomAttribute"):
        tag = seq.get("tag", "").upper()
        if tag not in (TAG_REFERENCED_SEQ, TAG_FAILED_SEQ):
            continue
        for item in seq.findall("Item"):
            uid = reason = url = warn = None
            for attr in item.findall("DicomAttribute"):
                value = attr.findtext("Value")
                t = attr.get("tag", "").upper()
                if t == TAG_REFERENCED_SOP_UID:
                    uid = value
                elif t == TAG_FAILURE_REASON:
                    reason = value
                elif t == TAG_WARNING_REASON:
                    warn = value
                elif t == TAG_RETRIEVE_URL:
                    url = value
            if uid and tag == TAG_REFERENCED_SEQ:
                out.referenced.append(uid.strip())
                out.retrieve_url = out.retrieve_url or url
                if _code(warn) is not None:
                    out.warnings[uid.strip()] = _code(warn)
            elif uid:
                out.failed[uid.strip()] = _code(reason)
    return out


def classify_failed(status: int, ours: dict[str, int | None], total: int) -> Failure:
    """The failure class of instances in FailedSOPSequence, from the first one's FailureReason."""
    code = next(iter(ours.values()))
    reason = reason_for(code)
    stored = total - len(ours)
    what = {200: "HTTP 200", 202: f"HTTP 202 (accepted: {stored} of {total} stored)",
            409: "HTTP 409 (conflict: none stored)"}.get(status, f"HTTP {status}")
    codes = sorted({c for c in ours.values() if c is not None})
    fail = failure(reason.klass, f"{what}: {len(ours)} instance(s) in FailedSOPSequence, FailureReason "
                   + (f"{code} (0x{code:04X}) {reason.meaning}" if code is not None else "not given"),
                   failed={u: _reason(c) for u, c in list(ours.items())[:5]},
                   failure_reasons=[f"0x{c:04X}" for c in codes], reason_source=reason.source,
                   retryable=reason.retry, http_status=status)
    fail.action = reason.action
    return fail


def judge(resp: Response, form: str, expected: Sequence[str], bytes_sent: int, *,
          has_client_cert: bool, has_basic_auth: bool) -> StowResult:
    """Turn one HTTP answer into a :class:`StowResult` (with failure class and explanation)."""
    result = StowResult(form=form, expected=list(expected), status=resp.status, bytes_sent=bytes_sent,
                        timings=resp.timings, content_type=resp.content_type)
    ans = parse_stow_answer(resp.body, resp.content_type)
    result.referenced, result.retrieve_url = ans.referenced, ans.retrieve_url
    result.failed = {u: _reason(c) for u, c in ans.failed.items()}
    result.failed_codes = dict(ans.failed)
    result.warnings = {u: _reason(c, "warning") for u, c in ans.warnings.items()}
    if ans.dataset_warning is not None and not result.warnings:
        result.warnings = {u: _reason(ans.dataset_warning, "warning") for u in ans.referenced}
    fail = classify_http(resp, has_client_cert=has_client_cert, has_basic_auth=has_basic_auth)
    if fail is not None and fail.code == "unsupported_media_type":
        fail.cause = "HTTP 415: " + (EXPLAIN_415_SINGLE if form == "single" else EXPLAIN_415_MULTIPART)
        fail.action = ("set request_form: multipart (or auto)" if form == "single"
                       else "set request_form: single (or auto)")
    ours_failed = {u: c for u, c in ans.failed.items() if u in set(expected)}
    if ours_failed and (fail is None or fail.code in ("conflict", "bad_request", "http_error", "service_error")):
        fail = classify_failed(resp.status, ours_failed, len(expected))
    if fail is None:
        if result.missing:
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
