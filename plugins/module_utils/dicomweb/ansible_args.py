"""Ansible plumbing shared by the DICOMweb and PACS modules: argument spec pieces and result helpers.

The option documentation of these pieces is the doc fragment ``stowpath.core.dicomweb``
(``plugins/doc_fragments/dicomweb.py``).
"""

from __future__ import annotations

from typing import Any

from ansible.module_utils.basic import missing_required_lib

from ..checks import summary_message
from ..redact import mask_structure
from .target import Target

CLIENT_TLS_ARGS: dict[str, dict[str, Any]] = {
    "client_cert": {"type": "path"},
    "client_key": {"type": "path", "no_log": False},
    "client_key_password": {"type": "str", "no_log": True},
}

BASIC_AUTH_ARGS: dict[str, dict[str, Any]] = {
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
}

CONNECTION_ARGS: dict[str, dict[str, Any]] = {
    "url": {"type": "str", "required": True},
    "ca_bundle": {"type": "path", "required": True},
    **CLIENT_TLS_ARGS,
    **BASIC_AUTH_ARGS,
    "connect_address": {"type": "str"},
    "timeout": {"type": "float", "default": 30.0},
    "fail_on_error": {"type": "bool", "default": True},
}

PACS_API_ARGS: dict[str, dict[str, Any]] = {
    "pacs_product": {"type": "str", "choices": ["orthanc", "manual"], "default": "orthanc"},
    "api_url": {"type": "str"},
    "api_username": {"type": "str"},
    "api_password": {"type": "str", "no_log": True},
    "api_timeout": {"type": "int", "default": 30},
}
PACS_API_REQUIRED_IF: list[tuple[str, str, tuple[str, ...]]] = [("pacs_product", "orthanc", ("api_url",))]


def target_from_params(params: dict[str, Any], **override: Any) -> Target:
    """The Target of the connection options; ``override`` replaces any of its fields."""
    fields: dict[str, Any] = {
        "url": params.get("url") or "",
        "ca_bundle": params.get("ca_bundle"),
        "client_cert": params.get("client_cert"),
        "client_key": params.get("client_key"),
        "client_key_password": params.get("client_key_password"),
        "username": params.get("username"),
        "password": params.get("password"),
        "connect_address": params.get("connect_address"),
        "timeout": float(params.get("timeout") or 30.0),
    }
    fields.update(override)
    return Target(**fields)


def probe_target(module: Any) -> Target:
    """The module's Target, its URL validated (the task fails with the reason otherwise)."""
    try:
        target = target_from_params(module.params)
        target.endpoint  # noqa: B018 - validates the URL early
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    return target


def require_lib(module: Any, name: str, present: bool, error: object = None) -> None:
    """Fail the task (Ansible's standard message) when the Python library ``name`` is missing."""
    if present:
        return
    if error is None:
        module.fail_json(msg=missing_required_lib(name))
    module.fail_json(msg=missing_required_lib(name), exception=str(error))


def warn_checks(module: Any, checks: list[dict[str, Any]]) -> None:
    """Show every ``warn`` check as an Ansible warning."""
    for c in checks:
        if c["status"] == "warn":
            module.warn(f"{c['id']}: {c['cause'] or c['title']}")


def exit_probe(module: Any, result: dict[str, Any], secrets: list[str], what: str, warn: bool = False) -> None:
    """End a verification task: secrets masked, never ``changed``; fails on a failure with ``fail_on_error``.

    With ``warn`` every ``warn`` check is also an Ansible warning.
    """
    result = mask_structure(result, secrets)
    result["changed"] = False
    if warn:
        warn_checks(module, result["checks"])
    if result["failure"] and module.params["fail_on_error"]:
        module.fail_json(msg=f"{what} failed:\n" + summary_message(result["checks"]), **result)
    module.exit_json(**result)


def pacs_error_message(exc: Exception) -> str:
    """A PACS error as the task's message: what failed, and the action when there is one."""
    action = getattr(exc, "action", "")
    return f"{exc} (action: {action})" if action else str(exc)
