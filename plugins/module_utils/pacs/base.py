"""The PACS driver boundary: one desired-destination shape, one driver interface per PACS product.

A driver reads the PACS's DICOMweb STOW-RS destination, diffs it against the desired one, applies
it, and (where the product allows) proves it survives a restart. Products without an API get a
human-readable checklist instead (:mod:`.checklist`). Secrets never leave a driver unmasked:
:meth:`DestinationSpec.masked` is what results and diffs show.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..dicomweb.target import ClientCredentials

MASK = "********"
DEFAULT_TIMEOUT = 300
VENDOR_MIN_TIMEOUT = 300
DEFAULT_LABEL = "Cloud STOW-RS"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class PacsError(Exception):
    """A problem talking to or configuring the PACS: what failed, and what to do about it."""

    def __init__(self, message: str, action: str = "", detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.action = action
        self.detail = detail or {}


class SpecError(ValueError):
    """The desired destination is invalid (names the parameter and the fix)."""


@dataclass
class DestinationSpec(ClientCredentials):
    """The desired DICOMweb STOW-RS destination, independent of the PACS product.

    ``url`` is the STOW-RS URL as the vendor gives it (``https://host/dicomweb/studies``);
    :attr:`base_url` is the DICOMweb root (``https://host/dicomweb/``) products like Orthanc want.
    Paths (``client_cert``, ``client_key``, ``ca_file``) are paths on the PACS host; the
    credentials are keyword-only.
    """

    name: str
    url: str
    label: str = DEFAULT_LABEL
    timeout: int = DEFAULT_TIMEOUT
    ca_file: str | None = None
    http_headers: dict[str, str] = field(default_factory=dict, repr=False)
    # headers another stowpath service keeps up to date on the PACS (the token refresher's Authorization):
    # never compared, never removed from the diff's point of view
    managed_headers: tuple[str, ...] = ()

    @property
    def stow_url(self) -> str:
        return stow_and_base(self.url)[0]

    @property
    def base_url(self) -> str:
        return stow_and_base(self.url)[1]

    def secrets(self) -> list[str]:
        return [s for s in (self.password, self.client_key_password, *self.http_headers.values()) if s]

    def masked(self) -> dict[str, Any]:
        """The spec as shown in results, diffs and reports (secret values replaced by ``********``)."""
        return {
            "name": self.name,
            "label": self.label,
            "url": self.stow_url,
            "base_url": self.base_url,
            "auth": self.auth,
            "timeout": self.timeout,
            "client_cert": self.client_cert,
            "client_key": self.client_key,
            "client_key_password": MASK if self.client_key_password else None,
            "username": self.username,
            "password": MASK if self.password else None,
            "ca_file": self.ca_file,
            "http_headers": {k: MASK for k in sorted(self.http_headers)},
        }


def stow_and_base(url: str) -> tuple[str, str]:
    """(STOW-RS URL ending in ``/studies``, DICOMweb root ending in ``/``) from either form."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    if path.endswith("/studies") or path == "studies":
        base_path = path[: -len("studies")]
        stow_path = path
    else:
        base_path = path + "/"
        stow_path = path + "/studies"
    if not base_path.startswith("/"):
        base_path = "/" + base_path
    stow = urlunsplit((parts.scheme, parts.netloc, stow_path, "", ""))
    base = urlunsplit((parts.scheme, parts.netloc, base_path, "", ""))
    return stow, base


def _loopback(host: str) -> bool:
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_spec(spec: DestinationSpec, min_timeout: int = VENDOR_MIN_TIMEOUT) -> list[str]:
    """Raise :class:`SpecError` for what must be refused; return warnings for what is merely unusual."""
    problems: list[str] = []
    warnings: list[str] = []
    if not NAME_RE.fullmatch(spec.name or ""):
        problems.append(f"name {spec.name!r} must match {NAME_RE.pattern} (it is part of the PACS's API path)")
    parts = urlsplit(spec.url or "")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        problems.append(f"url {spec.url!r} must be an absolute https:// URL like https://dicom.vendor.example/dicomweb/studies")
    elif parts.scheme == "http":
        warnings.append(f"url {spec.url} is plain http: studies would cross the network without TLS")
    if "/studies/" in parts.path.rstrip("/") + "/" and not parts.path.rstrip("/").endswith("/studies"):
        problems.append(f"url {spec.url!r} names a single study: give the STOW-RS endpoint ending in /studies")
    if parts.query or parts.fragment:
        problems.append("url must not carry a query or fragment")
    if parts.username or parts.password:
        problems.append("url must not embed credentials: use username/password")
    if min_timeout < 1:
        problems.append("min_timeout must be >= 1")
    if spec.timeout < min_timeout:
        problems.append(
            f"timeout {spec.timeout} s is below the minimum {min_timeout} s: large studies would be cut off "
            f"(guide section 5: set >= {VENDOR_MIN_TIMEOUT} seconds)")
    if bool(spec.client_cert) != bool(spec.client_key):
        problems.append("client_cert and client_key go together (mTLS needs both)")
    if spec.client_key_password and not spec.client_key:
        problems.append("client_key_password given without client_key")
    if bool(spec.username) != bool(spec.password):
        problems.append("username and password go together (Basic auth needs both)")
    if spec.auth == "none":
        warnings.append("no authentication configured (neither mTLS nor Basic auth)")
    if parts.scheme == "http" and (spec.username or spec.password) and not _loopback(parts.hostname or ""):
        problems.append("Basic auth (username/password) needs an https:// url: credentials are never sent over plain "
                        "http")
    if parts.scheme == "http" and not _loopback(parts.hostname or "") and (spec.bearer is not None or any(
            k.lower() in ("authorization", "proxy-authorization") for k in spec.http_headers)):
        problems.append("an Authorization header (bearer token) needs an https:// url: credentials are never sent "
                        "over plain http")
    if spec.client_cert and parts.scheme == "http":
        problems.append("mTLS (client_cert) needs an https:// url")
    for key in spec.http_headers:
        if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", key):
            problems.append(f"http_headers: {key!r} is not a valid header name")
    if problems:
        raise SpecError("; ".join(problems))
    return warnings


@dataclass
class FieldChange:
    """One field that differs; secret values are never held here, only that they differ."""

    field: str
    before: Any
    after: Any


@dataclass
class RestartResult:
    """Outcome of a restart-survival check."""

    supported: bool
    restarted: bool = False
    survived: bool | None = None
    duration_s: float = 0.0
    detail: str = ""


class PacsDriver(ABC):
    """What every PACS product driver implements (see :class:`.orthanc.OrthancDriver`)."""

    product: str = "abstract"
    has_api: bool = True

    @abstractmethod
    def get_destination(self, name: str) -> dict[str, Any] | None:
        """The destination as the PACS reports it (secrets never included), or None if absent."""

    @abstractmethod
    def diff(self, desired: DestinationSpec, current: dict[str, Any] | None) -> list[FieldChange]:
        """Field-level differences; empty when the PACS already has exactly the desired destination."""

    @abstractmethod
    def apply(self, desired: DestinationSpec) -> dict[str, Any]:
        """Create or replace the destination; return the PACS's view read back after writing."""

    @abstractmethod
    def delete(self, name: str) -> bool:
        """Remove the destination; True when something was removed."""

    def verify_restart(self, name: str) -> RestartResult:
        """Restart the PACS (or its transfer service) and check the destination is still there."""
        return RestartResult(supported=False, detail=f"{self.product}: restart check not supported")

    def ca_status(self, desired: DestinationSpec) -> dict[str, Any]:
        """Whether the PACS verifies the cloud's certificate with the right CA (``{"status": ...}``)."""
        return {"status": "unknown", "detail": f"{self.product}: CA settings cannot be read"}


def diff_text(changes: list[FieldChange]) -> tuple[str, str]:
    """Ansible ``diff`` before/after texts (one ``field: value`` line per changed field)."""
    before = "".join(f"{c.field}: {'(absent)' if c.before is None else c.before}\n" for c in changes)
    after = "".join(f"{c.field}: {'(absent)' if c.after is None else c.after}\n" for c in changes)
    return before, after
