"""Orthanc as the facility's PACS: its REST API for DICOMweb destinations, jobs and restarts.

Destinations live at ``/dicom-web/servers/{name}`` (DICOMweb plugin). What Orthanc reads back
(``GET /dicom-web/servers?expand``) is not what was written: ``Password``, ``CertificateKeyFile``
and ``CertificateKeyPassword`` come back ``null`` and ``HttpHeaders`` as a list of names, while
unknown keys are stored silently (as strings). So the driver compares only what it can read, reads
everything back after writing, and keeps a salted PBKDF2 fingerprint of the unreadable values in
the extra key ``StowpathFingerprint`` to know whether they still match (idempotence without ever
reading or logging a secret). ``Url`` is the DICOMweb root: Orthanc appends ``studies``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets as pysecrets
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

from . import orthanc_config
from .base import (
    MASK,
    DestinationSpec,
    FieldChange,
    PacsDriver,
    PacsError,
    RestartResult,
)

FINGERPRINT_KEY = "StowpathFingerprint"
FINGERPRINT_ITERATIONS = 100_000
# Keys Orthanc adds or reports on its own with these default values.
_DEFAULTS = {"Pkcs11": False, "HttpHeaders": []}
_HIDDEN = ("Password", "CertificateKeyFile", "CertificateKeyPassword")


class OrthancApi:
    """Minimal client for Orthanc's REST API (no proxies from the environment)."""

    def __init__(self, url: str, username: str | None = None, password: str | None = None,
                 timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._headers: dict[str, str] = {}
        if username:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self._headers["Authorization"] = "Basic " + token
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def request(self, method: str, path: str, body: Any = None, data: bytes | None = None,
                content_type: str = "application/json", timeout: float | None = None) -> tuple[int, Any]:
        """(HTTP status, decoded JSON or raw bytes). Connection problems raise :class:`PacsError`."""
        if body is not None:
            data = json.dumps(body).encode()
        headers = {**self._headers, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with self._opener.open(req, timeout=timeout or self.timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise PacsError(f"cannot reach the PACS REST API at {self.url}: {reason}",
                            "check api_url, that the PACS is running and that this host may reach its API port") from exc
        if status == 401:
            raise PacsError(f"the PACS REST API at {self.url} rejected the API credentials (HTTP 401)",
                            "check api_username/api_password")
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw

    def alive(self, timeout: float = 2.0) -> bool:
        try:
            return self.request("GET", "/system", timeout=timeout)[0] == 200
        except PacsError:
            return False


# ---------------------------------------------------------------- fingerprints of unreadable values

def secret_payload(spec: DestinationSpec) -> str:
    """Canonical text of everything Orthanc will not read back (never stored or shown as such)."""
    return json.dumps({"Password": spec.password or None, "CertificateKeyFile": spec.client_key or None,
                       "CertificateKeyPassword": spec.client_key_password or None,
                       "HttpHeaders": dict(sorted(spec.http_headers.items()))}, sort_keys=True)


def make_fingerprint(payload: str, iterations: int = FINGERPRINT_ITERATIONS, salt: bytes | None = None) -> str:
    salt = salt or pysecrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", payload.encode(), salt, iterations)
    return f"pbkdf2-sha256${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def fingerprint_matches(stored: Any, payload: str) -> bool:
    try:
        scheme, iterations, salt, digest = str(stored).split("$")
        if scheme != "pbkdf2-sha256" or not 1000 <= int(iterations) <= 10_000_000:
            return False
        expected = make_fingerprint(payload, int(iterations), base64.b64decode(salt))
        return hmac.compare_digest(expected.split("$")[3], digest)
    except (ValueError, TypeError):
        return False


# ---------------------------------------------------------------- the driver

def readable_fields(spec: DestinationSpec) -> dict[str, Any]:
    """What ``GET /dicom-web/servers?expand`` shows for ``spec`` once applied (fingerprint aside)."""
    out: dict[str, Any] = {"Url": spec.base_url, "Timeout": int(spec.timeout)}
    if spec.username:
        out["Username"] = spec.username
    if spec.client_cert:
        out["CertificateFile"] = spec.client_cert
    if spec.http_headers:
        out["HttpHeaders"] = sorted(spec.http_headers)
    return out


def put_body(spec: DestinationSpec, fingerprint: str) -> dict[str, Any]:
    """The JSON body of ``PUT /dicom-web/servers/{name}`` (holds secrets: never log it).

    The readable fields plus what Orthanc never shows: password, key path, key password, header values.
    """
    hidden: list[tuple[bool, str, Any]] = [
        (bool(spec.username), "Password", spec.password or ""),
        (bool(spec.client_cert), "CertificateKeyFile", spec.client_key),
        (bool(spec.client_cert and spec.client_key_password), "CertificateKeyPassword", spec.client_key_password),
        (bool(spec.http_headers), "HttpHeaders", dict(spec.http_headers)),
    ]
    body = {**readable_fields(spec), FINGERPRINT_KEY: fingerprint}
    body.update({key: value for present, key, value in hidden if present})
    return body


def _normal(current: dict[str, Any]) -> dict[str, Any]:
    """Orthanc's view without defaults, hidden (null) values and our fingerprint."""
    out = {}
    for key, value in current.items():
        if key == FINGERPRINT_KEY or value is None or (key in _DEFAULTS and value == _DEFAULTS[key]):
            continue
        if key == "HttpHeaders" and isinstance(value, list):
            value = sorted(value)
        if key == "Timeout":
            try:
                value = int(value)
            except (TypeError, ValueError):
                pass
        out[key] = value
    return out


def diff_destination(desired: DestinationSpec, current: dict[str, Any] | None) -> list[FieldChange]:
    """Field changes from Orthanc's view ``current`` to ``desired`` (secret values never appear)."""
    want = readable_fields(desired)
    if current is None:
        changes = [FieldChange(k, None, v) for k, v in want.items()]
        changes += [FieldChange(k, None, MASK) for k, present in
                    (("Password", desired.password), ("CertificateKeyFile", desired.client_key),
                     ("CertificateKeyPassword", desired.client_key_password)) if present]
        return changes
    have = _normal(current)
    if desired.managed_headers and isinstance(have.get("HttpHeaders"), list):
        kept = [h for h in have["HttpHeaders"] if h not in desired.managed_headers]
        if kept:
            have["HttpHeaders"] = kept
        else:
            del have["HttpHeaders"]
    changes = []
    for key in sorted(set(want) | set(have)):
        if have.get(key) != want.get(key):
            changes.append(FieldChange(key, have.get(key), want.get(key)))
    if not fingerprint_matches(current.get(FINGERPRINT_KEY), secret_payload(desired)):
        why = "differ" if current.get(FINGERPRINT_KEY) else "unknown (set outside stowpath)"
        changes.append(FieldChange("Password/CertificateKeyFile/CertificateKeyPassword/HttpHeaders values",
                                   f"{MASK} ({why})", f"{MASK} (from the task)"))
    return changes


class OrthancDriver(PacsDriver):
    """Orthanc (1.9+) with the DICOMweb plugin, through its REST API."""

    product = "orthanc"
    has_api = True

    def __init__(self, api: OrthancApi, config_path: str | None = None,
                 fingerprint_iterations: int = FINGERPRINT_ITERATIONS) -> None:
        self.api = api
        self.config_path = config_path
        self.iterations = fingerprint_iterations

    def _path(self, name: str) -> str:
        return "/dicom-web/servers/" + quote(name, safe="")

    def list_destinations(self) -> dict[str, dict[str, Any]]:
        status, body = self.api.request("GET", "/dicom-web/servers?expand")
        if status == 404:
            raise PacsError("the PACS has no DICOMweb API (/dicom-web/servers answered 404)",
                            "enable Orthanc's DICOMweb plugin (libOrthancDicomWeb) in its configuration")
        if status != 200 or not isinstance(body, dict):
            raise PacsError(f"GET /dicom-web/servers?expand answered HTTP {status}", "check the PACS log")
        return body

    def get_destination(self, name: str) -> dict[str, Any] | None:
        return self.list_destinations().get(name)

    def diff(self, desired: DestinationSpec, current: dict[str, Any] | None) -> list[FieldChange]:
        return diff_destination(desired, current)

    def apply(self, desired: DestinationSpec) -> dict[str, Any]:
        fingerprint = make_fingerprint(secret_payload(desired), self.iterations)
        status, body = self.api.request("PUT", self._path(desired.name), body=put_body(desired, fingerprint))
        if status != 200:
            detail = body if isinstance(body, dict) else {}
            raise PacsError(f"the PACS refused the destination (HTTP {status}: {detail.get('Message', '')})",
                            "check the destination fields and the PACS log")
        current = self.get_destination(desired.name)
        if current is None:
            raise PacsError(f"the PACS accepted destination {desired.name} but does not list it",
                            "check the PACS log")
        left = [c.field for c in diff_destination(desired, current)]
        if left:
            raise PacsError(f"the PACS did not store {', '.join(left)} as set (read back differs)",
                            "check the Orthanc/DICOMweb plugin version supports these fields (Timeout: Orthanc >= 1.9.1)")
        return current

    def delete(self, name: str) -> bool:
        if self.get_destination(name) is None:
            return False
        status, _ = self.api.request("DELETE", self._path(name))
        if status != 200:
            raise PacsError(f"DELETE {self._path(name)} answered HTTP {status}", "check the PACS log")
        return True

    def persistence(self) -> dict[str, Any]:
        """Whether runtime destinations survive a restart, read from the config (if we can read it)."""
        if not self.config_path:
            return {"known": False}
        try:
            settings = orthanc_config.load_settings(self.config_path)
        except (OSError, ValueError, TypeError) as exc:
            return {"known": False, "error": str(exc)}
        dicomweb = settings.get("DicomWeb", ("", {}))[1] or {}
        return {"known": True, "ServersInDatabase": bool(dicomweb.get("ServersInDatabase", False))}

    def verify_restart(self, name: str, down_timeout: float = 15.0, up_timeout: float = 120.0) -> RestartResult:
        """Hot-restart Orthanc (``POST /tools/reset``: stops and starts the server, re-reading its
        configuration) and check the destination is still listed afterwards."""
        start = time.monotonic()
        status, _ = self.api.request("POST", "/tools/reset", body={})
        if status != 200:
            return RestartResult(supported=False, detail=f"POST /tools/reset answered HTTP {status}")
        went_down = False
        deadline = time.monotonic() + down_timeout
        while time.monotonic() < deadline:
            if not self.api.alive(timeout=1.0):
                went_down = True
                break
            time.sleep(0.05)
        deadline = time.monotonic() + up_timeout
        while time.monotonic() < deadline and not self.api.alive(timeout=2.0):
            time.sleep(0.2)
        elapsed = time.monotonic() - start
        if not self.api.alive():
            return RestartResult(supported=True, restarted=went_down, survived=None, duration_s=elapsed,
                                 detail=f"the PACS did not come back within {up_timeout:.0f} s after the restart")
        survived = self.get_destination(name) is not None
        note = "" if went_down else " (restart not observed: the API never stopped answering)"
        return RestartResult(supported=True, restarted=went_down, survived=survived, duration_s=elapsed,
                             detail=("destination still present after restart" if survived else
                                     "destination lost on restart") + note)

    def ca_status(self, desired: DestinationSpec) -> dict[str, Any]:
        if not self.config_path:
            return {"status": "skip", "detail": {},
                    "cause": "Orthanc's CA for HTTPS peers (HttpsCACertificates/HttpsVerifyPeers) is in its "
                             "configuration file, which this task was not given",
                    "action": "pass orthanc_config (the Orthanc configuration file or directory on the PACS host)"}
        try:
            return orthanc_config.ca_status(self.config_path, desired.ca_file)
        except (OSError, ValueError, TypeError) as exc:
            return {"status": "fail", "detail": {"config": self.config_path},
                    "cause": f"cannot read the Orthanc configuration: {exc}",
                    "action": "check orthanc_config points to the PACS's configuration file or directory"}

    def plan_ca(self, desired: DestinationSpec) -> dict[str, tuple[str, str]]:
        """Config edits that make Orthanc verify the cloud with ``desired.ca_file``."""
        if not self.config_path or not desired.ca_file:
            raise PacsError("managing the CA needs orthanc_config and ca_file")
        return orthanc_config.plan_ca_merge(self.config_path, desired.ca_file, True)

    # ------------------------------------------------------------ PACS-driven send

    def upload_instances(self, instances: list[bytes]) -> str:
        """Store Part-10 files; return the Orthanc study id."""
        study_id = ""
        for data in instances:
            status, body = self.api.request("POST", "/instances", data=data, content_type="application/dicom",
                                            timeout=max(self.api.timeout, 120))
            if status != 200 or not isinstance(body, dict):
                raise PacsError(f"storing the test study on the PACS failed (HTTP {status})", "check the PACS log")
            study_id = body["ParentStudy"]
        return study_id

    def lookup_study(self, study_uid: str) -> str | None:
        status, body = self.api.request("POST", "/tools/lookup", data=study_uid.encode(), content_type="text/plain")
        if status == 200 and isinstance(body, list):
            for item in body:
                if item.get("Type") == "Study":
                    return str(item["ID"])
        return None

    def study_uid(self, study_id: str) -> str | None:
        status, body = self.api.request("GET", f"/studies/{quote(study_id, safe='')}")
        if status == 200 and isinstance(body, dict):
            return str(body.get("MainDicomTags", {}).get("StudyInstanceUID") or "") or None
        return None

    def delete_study(self, study_id: str) -> None:
        self.api.request("DELETE", f"/studies/{quote(study_id, safe='')}")

    def start_stow(self, name: str, resources: list[str]) -> str:
        status, body = self.api.request("POST", self._path(name) + "/stow",
                                        body={"Resources": resources, "Synchronous": False})
        if status == 404:
            raise PacsError(f"the PACS has no DICOMweb destination {name!r} (or no such study)",
                            "configure the destination first (stowpath.core.pacs_destination)")
        if status != 200 or not isinstance(body, dict) or "ID" not in body:
            raise PacsError(f"the PACS did not start the STOW-RS job (HTTP {status})", "check the PACS log")
        return str(body["ID"])

    def wait_job(self, job_id: str, timeout_s: float = 600.0, poll_s: float = 0.5) -> dict[str, Any]:
        """Poll ``/jobs/{id}`` until Success/Failure (every 0.1 s for the first 5 s, then every
        ``poll_s``); on timeout the last state is returned as is."""
        start = time.monotonic()
        deadline = start + timeout_s
        job: dict[str, Any] = {}
        while True:
            status, body = self.api.request("GET", f"/jobs/{quote(job_id, safe='')}")
            if status == 200 and isinstance(body, dict):
                job = body
                if job.get("State") in ("Success", "Failure"):
                    return job
            if time.monotonic() >= deadline:
                return job
            time.sleep(min(0.1, poll_s) if time.monotonic() - start < 5 else poll_s)

    def cancel_job(self, job_id: str) -> None:
        self.api.request("POST", f"/jobs/{quote(job_id, safe='')}/cancel", body={})


class LogTail:
    """Lines appended to a log file since construction (empty when the file cannot be read)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.offset = 0
        if path:
            try:
                self.offset = os.path.getsize(path)
            except OSError:
                self.path = None

    def new_lines(self, max_bytes: int = 256 * 1024) -> list[str]:
        if not self.path:
            return []
        try:
            size = os.path.getsize(self.path)
            start = self.offset if size >= self.offset else 0
            start = max(start, size - max_bytes)
            with open(self.path, "rb") as fh:
                fh.seek(start)
                text = fh.read().decode("utf-8", "replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if line.strip()]
