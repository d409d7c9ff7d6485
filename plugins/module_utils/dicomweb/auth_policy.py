"""``dicomweb_auth``: how stowpath and the PACS authenticate to the cloud DICOMweb service, checked up front.

The site variable names the modes, ``mtls``, ``basic``, ``bearer``, ``sigv4`` (a list, or a string such as
``"mtls, bearer"`` / ``mtls+bearer``); each mode needs its variables:

* ``mtls``: a client certificate and key (``dicomweb_client_cert_file`` + ``dicomweb_client_key_file``, or
  ``tls_material_client_cert_content`` + ``tls_material_client_key_content`` from Ansible Vault);
* ``basic``: ``dicomweb_username`` + ``dicomweb_password``;
* ``bearer``: a static ``dicomweb_token``, or the OAuth 2.0 client-credentials grant:
  ``dicomweb_token_url`` + ``dicomweb_client_id`` + (``dicomweb_client_secret`` or
  ``dicomweb_client_assertion_key_file``);
* ``sigv4``: AWS HealthImaging's SigV4 signing with the controller's standard AWS credential chain
  (``dicomweb_aws_region``).

``basic`` and ``bearer`` both need the one ``Authorization`` header, so they exclude each other; so do
``sigv4`` and either. Without ``dicomweb_auth`` the modes are inferred from what is given (the behaviour
before the variable existed), and the same checks apply to the inferred set.

Pure functions over names and values; the result (:class:`AuthPolicy`) holds no secret value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urlsplit

MODES = ("mtls", "basic", "bearer", "sigv4")
# Modes that each need the single Authorization header.
HEADER_MODES = ("basic", "bearer", "sigv4")
AUTH_VARIABLES = ("dicomweb_auth", "dicomweb_client_cert_file", "dicomweb_client_key_file", "dicomweb_username",
                  "dicomweb_password", "dicomweb_token", "dicomweb_token_url", "dicomweb_client_id",
                  "dicomweb_client_secret", "dicomweb_client_assertion_key_file", "dicomweb_token_audience",
                  "dicomweb_token_scope", "dicomweb_aws_region", "tls_material_client_cert_content",
                  "tls_material_client_key_content")
SECRET_AUTH_VARIABLES = ("dicomweb_password", "dicomweb_token", "dicomweb_client_secret",
                         "tls_material_client_key_content")
_SPLIT = re.compile(r"[\s,+]+")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]$")


@dataclass
class Problem:
    """One thing wrong with the auth variables: the variable, what is wrong, the fix."""

    field: str
    problem: str
    fix: str


@dataclass
class AuthPolicy:
    """The checked authentication of a site: modes, whether inferred, and the token grant (no secret values)."""

    modes: list[str] = field(default_factory=list)
    inferred: bool = True
    token: str | None = None  # "static" | "client_credentials" | None
    token_url: str | None = None
    client_id: str | None = None
    token_method: str | None = None  # client_secret | private_key_jwt
    region: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The site model's ``dicomweb_auth`` section (names and URLs only, safe to show)."""
        return {"modes": list(self.modes), "label": "+".join(self.modes) or "none", "inferred": self.inferred,
                "token": self.token, "token_url": self.token_url, "client_id": self.client_id,
                "token_method": self.token_method, "region": self.region}


def _given(hv: Mapping[str, Any], name: str) -> bool:
    value = hv.get(name)
    return value not in (None, "", [], {}) and not (isinstance(value, str) and not value.strip())


def parse_modes(value: Any) -> tuple[list[str], list[Problem]]:
    """``dicomweb_auth`` as an ordered list of modes, or the problems with it."""
    if isinstance(value, str):
        items: list[Any] = [p for p in _SPLIT.split(value.strip().lower()) if p]
    elif isinstance(value, (list, tuple)):
        items = [str(v).strip().lower() if isinstance(v, str) else v for v in value]
    else:
        return [], [Problem("dicomweb_auth", f"{value!r} is not a mode or a list of modes",
                            f"e.g. dicomweb_auth: [mtls, bearer] (modes: {', '.join(MODES)})")]
    problems = [Problem("dicomweb_auth", f"{item!r} is not an authentication mode",
                        f"use one or more of {', '.join(MODES)}") for item in items if item not in MODES]
    modes = [m for m in MODES if m in items]
    if not items:
        problems.append(Problem("dicomweb_auth", "is empty", f"name at least one of {', '.join(MODES)}, or remove "
                                "dicomweb_auth to infer it from the variables given"))
    return modes, problems


def inferred_modes(hv: Mapping[str, Any]) -> list[str]:
    """The modes the given variables imply (no ``dicomweb_auth``): today's behaviour."""
    modes = []
    if any(_given(hv, n) for n in ("dicomweb_client_cert_file", "tls_material_client_cert_content")):
        modes.append("mtls")
    if _given(hv, "dicomweb_username") or _given(hv, "dicomweb_password"):
        modes.append("basic")
    if _given(hv, "dicomweb_token") or _given(hv, "dicomweb_token_url"):
        modes.append("bearer")
    return modes


def _need(hv: Mapping[str, Any], mode: str, alternatives: list[tuple[str, ...]]) -> list[Problem]:
    """A problem for every group of ``alternatives`` of which no variable is given."""
    out = []
    for names in alternatives:
        if not any(_given(hv, n) for n in names):
            what = " or ".join(names)
            out.append(Problem(names[0], f"is required for dicomweb_auth {mode}",
                               f"set {what} in the host's inventory variables (secrets in Ansible Vault)"))
    return out


def _bearer(hv: Mapping[str, Any], policy: AuthPolicy) -> list[Problem]:
    static, url = _given(hv, "dicomweb_token"), _given(hv, "dicomweb_token_url")
    if static and url:
        return [Problem("dicomweb_token", "is set together with dicomweb_token_url",
                        "give either a static token (dicomweb_token) or the client-credentials grant "
                        "(dicomweb_token_url + dicomweb_client_id + secret or assertion key), not both")]
    if static:
        policy.token = "static"
        return []
    if not url:
        return [Problem("dicomweb_token", "is required for dicomweb_auth bearer (or dicomweb_token_url)",
                        "set dicomweb_token (Ansible Vault), or dicomweb_token_url + dicomweb_client_id + "
                        "dicomweb_client_secret / dicomweb_client_assertion_key_file")]
    problems = []
    token_url = str(hv["dicomweb_token_url"]).strip()
    parts = urlsplit(token_url)
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        problems.append(Problem("dicomweb_token_url", f"{token_url!r} is not an https URL without credentials",
                                "use the identity provider's token endpoint, https://host[:port]/path"))
    problems += _need(hv, "bearer (client credentials)", [("dicomweb_client_id",),
                      ("dicomweb_client_secret", "dicomweb_client_assertion_key_file")])
    if _given(hv, "dicomweb_client_secret") and _given(hv, "dicomweb_client_assertion_key_file"):
        problems.append(Problem("dicomweb_client_secret", "is set together with dicomweb_client_assertion_key_file",
                                "authenticate the client one way: a secret, or a private-key JWT assertion"))
    policy.token, policy.token_url = "client_credentials", token_url
    policy.client_id = str(hv.get("dicomweb_client_id") or "") or None
    policy.token_method = "private_key_jwt" if _given(hv, "dicomweb_client_assertion_key_file") else "client_secret"
    return problems


def check_auth(hv: Mapping[str, Any]) -> tuple[AuthPolicy, list[Problem]]:
    """The site's authentication policy and every problem with it (empty list: usable)."""
    explicit = _given(hv, "dicomweb_auth")
    if explicit:
        modes, problems = parse_modes(hv["dicomweb_auth"])
    else:
        modes, problems = inferred_modes(hv), []
    policy = AuthPolicy(modes=modes, inferred=not explicit)
    header = [m for m in modes if m in HEADER_MODES]
    if len(header) > 1:
        source = "dicomweb_auth" if explicit else "the variables given"
        problems.append(Problem("dicomweb_auth", f"{' and '.join(header)} cannot be combined ({source}): each needs "
                                "the one Authorization header", "choose one of them (mtls combines with any)"))
    if "mtls" in modes:
        problems += _need(hv, "mtls", [("dicomweb_client_cert_file", "tls_material_client_cert_content"),
                                       ("dicomweb_client_key_file", "tls_material_client_key_content")])
    if "basic" in modes:
        problems += _need(hv, "basic", [("dicomweb_username",), ("dicomweb_password",)])
    if "bearer" in modes:
        problems += _bearer(hv, policy)
    if "sigv4" in modes:
        region = str(hv.get("dicomweb_aws_region") or "").strip()
        if region and not _REGION.fullmatch(region):
            problems.append(Problem("dicomweb_aws_region", f"{region!r} is not an AWS region name",
                                    "e.g. dicomweb_aws_region: us-east-1"))
        policy.region = region or None
    if explicit:  # variables of a mode that is not selected would silently be ignored
        problems += _unused(hv, modes)
    return policy, problems


def _unused(hv: Mapping[str, Any], modes: list[str]) -> list[Problem]:
    owners = {"basic": ("dicomweb_username", "dicomweb_password"),
              "bearer": ("dicomweb_token", "dicomweb_token_url", "dicomweb_client_id", "dicomweb_client_secret",
                         "dicomweb_client_assertion_key_file")}
    return [Problem(name, f"is set but dicomweb_auth does not include {mode}",
                    f"add {mode} to dicomweb_auth, or remove {name}")
            for mode, names in owners.items() if mode not in modes for name in names if _given(hv, name)]
