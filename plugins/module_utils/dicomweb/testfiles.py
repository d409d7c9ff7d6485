"""User-supplied test files for the STOW-RS probe (a vendor's test image or test study).

Each item is a file (one instance) or a folder (a study: every file below it). Every file is read
with pydicom (header only) for its UIDs, SOP Class and transfer syntax; a file pydicom cannot read
as DICOM is still sent, alone, the way ``curl --data-binary @file`` would, so the service's answer
to it is classified too (``not_dicom``). By default the instances are sent as copies with new
Study/Series/SOP Instance UIDs (consistent within an item), so a re-run is not answered as a
duplicate; the originals are never changed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..checks import check
from .client import Client, failure
from .qido import find_study
from .stow import StowResult, stow

MAX_FILES = 2000


@dataclass
class TestFile:
    path: str
    sent_path: str
    dicom: bool
    sop_instance_uid: str | None = None
    study_instance_uid: str | None = None
    sop_class: str | None = None
    transfer_syntax: str | None = None
    transfer_syntax_name: str | None = None
    error: str | None = None

    def facts(self) -> dict[str, Any]:
        return {"file": self.path, "dicom": self.dicom, "sop_instance_uid": self.sop_instance_uid,
                "study_instance_uid": self.study_instance_uid, "sop_class": self.sop_class,
                "transfer_syntax": self.transfer_syntax, "transfer_syntax_name": self.transfer_syntax_name,
                **({"error": self.error} if self.error else {})}


@dataclass
class TestItem:
    """One user item: a file or a folder (study)."""

    source: str
    files: list[TestFile] = field(default_factory=list)

    @property
    def dicom_files(self) -> list[TestFile]:
        return [f for f in self.files if f.dicom]

    @property
    def other_files(self) -> list[TestFile]:
        return [f for f in self.files if not f.dicom]


def expand(paths: Sequence[str]) -> list[tuple[str, list[str]]]:
    """``[(item, [files])]``: a file is itself, a folder every regular file below it (sorted)."""
    out: list[tuple[str, list[str]]] = []
    for raw in paths:
        path = os.path.expanduser(raw)
        if os.path.isdir(path):
            files = sorted(os.path.join(d, n) for d, _, names in os.walk(path) for n in names
                           if not n.startswith(".") and os.path.isfile(os.path.join(d, n)))
            out.append((path, files[:MAX_FILES]))
        elif os.path.isfile(path):
            out.append((path, [path]))
        else:
            out.append((path, []))
    return out


def inspect(path: str) -> TestFile:
    """The DICOM facts of ``path`` (header only), or why it is not DICOM."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        sop = str(ds.SOPInstanceUID)
        meta = getattr(ds, "file_meta", None)
        ts = str(meta.TransferSyntaxUID) if meta is not None and "TransferSyntaxUID" in meta else None
    except (InvalidDicomError, AttributeError, KeyError, ValueError, EOFError, TypeError) as exc:
        return TestFile(path, path, False, error=f"{type(exc).__name__}: {str(exc)[:200]}")
    except OSError as exc:
        return TestFile(path, path, False, error=f"cannot read: {exc.strerror}")
    cls = ds.get("SOPClassUID")
    ts_name = None
    if ts:
        from pydicom.uid import UID

        ts_name = UID(ts).name
    return TestFile(path, path, True, sop, str(ds.get("StudyInstanceUID", "")) or None,
                    str(cls.name) if cls is not None and hasattr(cls, "name") else (str(cls) if cls else None),
                    ts, ts_name)


def renew_uids(item: TestItem, out_dir: str) -> None:
    """Copy the item's DICOM files into ``out_dir`` with new Study/Series/SOP Instance UIDs (one mapping per item)."""
    import pydicom
    from pydicom.uid import generate_uid

    os.makedirs(out_dir, exist_ok=True)
    mapping: dict[str, str] = {}

    def new(uid: str) -> str:
        if uid not in mapping:
            mapping[uid] = generate_uid()
        return mapping[uid]

    for index, tf in enumerate(item.dicom_files):
        ds = pydicom.dcmread(tf.path)
        for kw in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
            if kw in ds:
                setattr(ds, kw, new(str(getattr(ds, kw))))
        if getattr(ds, "file_meta", None) is not None:
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        dest = os.path.join(out_dir, f"{index:05d}.dcm")
        ds.save_as(dest, enforce_file_format=True)
        tf.sent_path = dest
        tf.sop_instance_uid = str(ds.SOPInstanceUID)
        tf.study_instance_uid = str(ds.get("StudyInstanceUID", "")) or None


def load_items(paths: Sequence[str], work_dir: str, new_uids: bool = True) -> list[TestItem]:
    items: list[TestItem] = []
    for n, (source, files) in enumerate(expand(paths)):
        item = TestItem(source, [inspect(f) for f in files])
        if new_uids and item.dicom_files:
            renew_uids(item, os.path.join(work_dir, f"item-{n}"))
        items.append(item)
    return items


def _describe(files: Sequence[TestFile]) -> str:
    names = sorted({f.transfer_syntax_name or f.transfer_syntax or "?" for f in files})
    return ", ".join(names)


def run_files(client: Client, items: Sequence[TestItem], *, form: str, chunk_size: int, qido: bool,
              qido_wait_s: float, has_cert: bool, has_auth: bool) -> list[dict[str, Any]]:
    """One STOW-RS request per item (its DICOM files), one per non-DICOM file; then QIDO-RS per stored study."""
    checks: list[dict[str, Any]] = []
    for n, item in enumerate(items):
        name = os.path.basename(item.source.rstrip("/")) or item.source
        if not item.files:
            fail = failure("no_files", f"{item.source} does not exist or holds no files")
            fail.action = "give an existing DICOM file or a folder of a study (paths on the host running the probe)"
            checks.append(check(f"dicomweb.stow_file.{n}", "dicomweb", f"STOW-RS of test item {name}", "fail",
                                detail={"code": fail.code, "item": item.source}, cause=fail.cause,
                                action=fail.action))
            continue
        if item.dicom_files:
            dfiles = item.dicom_files
            attempts = stow(client, [f.sent_path for f in dfiles], [str(f.sop_instance_uid) for f in dfiles], form,
                            chunk_size=chunk_size, has_client_cert=has_cert, has_basic_auth=has_auth)
            checks.append(_file_check(f"dicomweb.stow_file.{n}", name, item, dfiles, attempts[-1]))
            study_uids = sorted({f.study_instance_uid for f in dfiles if f.study_instance_uid})
            if qido and attempts[-1].ok:
                for study_uid in study_uids:
                    q = find_study(client, study_uid, wait_s=qido_wait_s, has_client_cert=has_cert,
                                   has_basic_auth=has_auth)
                    status = "pass" if q.found else "fail"
                    fail = q.failure
                    checks.append(check(f"dicomweb.qido_file.{n}", "dicomweb",
                                        f"QIDO-RS finds the study of test item {name}", status, q.elapsed_s,
                                        detail={"study_instance_uid": study_uid, "http_status": q.status,
                                                **({"code": fail.code} if fail and not q.found else {})},
                                        cause=fail.cause if fail and not q.found else None,
                                        action=fail.action if fail and not q.found else None))
        for m, tf in enumerate(item.other_files):
            checks.append(_non_dicom(client, f"dicomweb.stow_file.{n}.other{m}", tf, form, chunk_size,
                                     has_cert, has_auth))
    return checks


def _file_check(cid: str, name: str, item: TestItem, files: Sequence[TestFile], res: StowResult) -> dict[str, Any]:
    title = f"STOW-RS of test item {name}: {len(files)} instance(s), {_describe(files)}"
    detail: dict[str, Any] = {**res.as_dict(), "item": item.source,
                              "files": [f.facts() for f in files[:20]]}
    per_file = {}
    for f in files:
        uid = str(f.sop_instance_uid)
        if uid in res.failed:
            per_file[f.path] = f"rejected: {res.failed[uid]}"
        elif uid in set(res.referenced):
            per_file[f.path] = "referenced" + (f" with warning {res.warnings[uid]}" if uid in res.warnings else "")
        else:
            per_file[f.path] = "not referenced"
    detail["per_file"] = dict(list(per_file.items())[:50])
    if res.ok:
        status = "warn" if any(str(f.sop_instance_uid) in res.warnings for f in files) else "pass"
        return check(cid, "dicomweb", f"{title}: HTTP {res.status}, all referenced", status,
                     res.timings.get("total_s", 0.0), detail=detail,
                     cause="stored with warnings" if status == "warn" else None)
    fail = res.failure or failure("stow_not_referenced", "instance(s) not referenced")
    return check(cid, "dicomweb", title, "fail", res.timings.get("total_s", 0.0),
                 detail={"code": fail.code, **detail}, cause=fail.cause, action=fail.action)


def _non_dicom(client: Client, cid: str, tf: TestFile, form: str, chunk_size: int, has_cert: bool,
               has_auth: bool) -> dict[str, Any]:
    """Send a file pydicom cannot read, alone; the expected outcome is a rejection."""
    name = os.path.basename(tf.path)
    attempts = stow(client, [tf.path], [], "single" if form == "single" else "multipart", chunk_size=chunk_size,
                    has_client_cert=has_cert, has_basic_auth=has_auth)
    res = attempts[-1]
    detail = {**res.as_dict(), **tf.facts()}
    local = f"{name} is not a DICOM Part 10 file ({tf.error})"
    action = "give the vendor's test image as a DICOM Part 10 file (.dcm with the DICM preamble)"
    if res.failure is not None and res.failure.code in ("bad_request", "stow_cannot_understand", "conflict",
                                                        "unsupported_media_type", "stow_failed"):
        return check(cid, "dicomweb", f"STOW-RS of {name}: rejected as not DICOM (HTTP {res.status})", "fail",
                     res.timings.get("total_s", 0.0), detail={"code": "not_dicom", **detail},
                     cause=f"{local}; the service rejected it: {res.failure.cause}", action=action)
    if res.failure is not None:
        return check(cid, "dicomweb", f"STOW-RS of {name}", "fail", res.timings.get("total_s", 0.0),
                     detail={"code": res.failure.code, **detail}, cause=f"{local}; {res.failure.cause}",
                     action=res.failure.action)
    return check(cid, "dicomweb", f"STOW-RS of {name}: not DICOM, yet HTTP {res.status}", "fail",
                 res.timings.get("total_s", 0.0), detail={"code": "not_dicom", **detail},
                 cause=f"{local}; the service answered HTTP {res.status} without referencing anything", action=action)
