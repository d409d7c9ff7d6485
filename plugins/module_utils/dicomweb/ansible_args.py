"""Ansible plumbing shared by the DICOMweb and PACS modules: argument spec pieces and result helpers.

The option documentation of these pieces is the doc fragment ``stowpath.core.dicomweb``
(``plugins/doc_fragments/dicomweb.py``).
"""

from __future__ import annotations

from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ..checks import summary_message
from ..redact import mask_structure
from .oauth import AUTH_METHODS, DEFAULT_MARGIN_S, TokenConfig
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

BEARER_ARGS: dict[str, dict[str, Any]] = {
    "bearer_token": {"type": "str", "no_log": True},
    "token_url": {"type": "str"},
    "client_id": {"type": "str"},
    "client_secret": {"type": "str", "no_log": True},
    "client_assertion_key_file": {"type": "path", "no_log": False},
    "client_assertion_key_password": {"type": "str", "no_log": True},
    "client_assertion_kid": {"type": "str"},
    "token_auth_method": {"type": "str", "choices": list(AUTH_METHODS)},
    "token_audience": {"type": "str"},
    "token_scope": {"type": "str"},
    "token_ca_bundle": {"type": "path"},
    "token_cache_file": {"type": "path"},
    "token_refresh_margin": {"type": "float", "default": DEFAULT_MARGIN_S},
}
BEARER_MUTUALLY_EXCLUSIVE = [("bearer_token", "token_url"), ("bearer_token", "username"), ("token_url", "username")]

CONNECTION_ARGS: dict[str, dict[str, Any]] = {
    "url": {"type": "str", "required": True},
    "ca_bundle": {"type": "path", "required": True},
    **CLIENT_TLS_ARGS,
    **BASIC_AUTH_ARGS,
    **BEARER_ARGS,
    "sigv4_region": {"type": "str"},
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


def token_config(params: dict[str, Any], timeout: float = 30.0) -> TokenConfig | None:
    """The bearer-token settings of the module options (None without ``bearer_token``/``token_url``)."""
    if not params.get("bearer_token") and not params.get("token_url"):
        return None
    return TokenConfig(
        token=params.get("bearer_token"), token_url=params.get("token_url"), client_id=params.get("client_id"),
        client_secret=params.get("client_secret"), assertion_key_file=params.get("client_assertion_key_file"),
        assertion_key_password=params.get("client_assertion_key_password"),
        assertion_kid=params.get("client_assertion_kid"), auth_method=params.get("token_auth_method"),
        audience=params.get("token_audience"), scope=params.get("token_scope"),
        ca_bundle=params.get("token_ca_bundle"), cache_file=params.get("token_cache_file"),
        refresh_margin_s=float(params.get("token_refresh_margin") or DEFAULT_MARGIN_S), timeout=timeout)


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
        # SigV4 (AWS HealthImaging): set once the modules take the sigv4_region option (doc fragment dicomweb)
        "sigv4_region": params.get("sigv4_region") or None,
    }
    fields["bearer"] = token_config(params, fields["timeout"])
    fields.update(override)
    return Target(**fields)


def probe_module(options: dict[str, dict[str, Any]]) -> AnsibleModule:
    """The AnsibleModule of a DICOMweb probe: the connection options (:data:`CONNECTION_ARGS`) and the
    probe's own ``options``; Basic auth needs both user and password and excludes a bearer token."""
    return AnsibleModule(argument_spec={**CONNECTION_ARGS, **options}, supports_check_mode=True,
                         required_together=[("username", "password")],
                         mutually_exclusive=BEARER_MUTUALLY_EXCLUSIVE)


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


def module_secrets(params: dict[str, Any]) -> list[str]:
    """Every secret option value of a module (to mask anything that could echo one)."""
    keys = ("password", "client_key_password", "bearer_token", "client_secret", "client_assertion_key_password",
            "api_password")
    return [str(params[k]) for k in keys if params.get(k)]


def exit_probe(module: Any, result: dict[str, Any], target: Target, what: str, warn: bool = False,
               warn_group: str | None = None) -> None:
    """End a probe of ``target``: the bearer token's facts (``token``) added, the target's secrets masked,
    never ``changed``; fails on a failure with ``fail_on_error``.

    With ``warn`` every ``warn`` check is also an Ansible warning; with ``warn_group`` only those of that group.
    """
    if target.token_facts:
        result["token"] = target.token_facts
    result = mask_structure(result, target.secrets)
    result["changed"] = False
    if warn or warn_group:
        warn_checks(module, [c for c in result["checks"] if warn or c["group"] == warn_group])
    if result["failure"] and module.params["fail_on_error"]:
        module.fail_json(msg=f"{what} failed:\n" + summary_message(result["checks"]), **result)
    module.exit_json(**result)


def pacs_error_message(exc: Exception) -> str:
    """A PACS error as the task's message: what failed, and the action when there is one."""
    action = getattr(exc, "action", "")
    return f"{exc} (action: {action})" if action else str(exc)
