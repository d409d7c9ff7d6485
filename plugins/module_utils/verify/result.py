"""How the verification modules finish: facts + checks, failing with the reason when asked to."""

from __future__ import annotations

import socket
from typing import Any, Callable

from ansible.module_utils.basic import AnsibleModule

from ..checks import summary_message

SITE_OPTION_DOC = "The masked site model returned by M(stowpath.core.site_model) (key C(site))."
# Argument specs documented once in plugins/doc_fragments/verify.py.
VERIFY_ARGS: dict[str, dict[str, Any]] = {"fail_on_error": {"type": "bool", "default": True}}
WAIT_ARGS: dict[str, dict[str, Any]] = {"wait_timeout": {"type": "float", "default": 0},
                                        "interval": {"type": "float", "default": 0.5}}
PROBE_ARGS: dict[str, dict[str, Any]] = {"target": {"type": "str"}, "source": {"type": "str"}}


def verify_module(options: dict[str, dict[str, Any]], required_one_of: tuple[str, str]) -> AnsibleModule:
    """The AnsibleModule of a verification module: ``site``, the module's ``options`` and ``fail_on_error``;
    read-only, so check mode is supported."""
    return AnsibleModule(
        argument_spec={"site": {"type": "dict"}, **options, **VERIFY_ARGS},
        required_one_of=[required_one_of],
        supports_check_mode=True,
    )


def warn_checks(module: Any, checks: list[dict[str, Any]]) -> None:
    """An Ansible warning for every check whose status is ``warn``."""
    for c in checks:
        if c["status"] == "warn":
            module.warn(f"{c['id']}: {c['title']} -- {c.get('cause')}")


def finish(module: Any, what: str, checks: list[dict[str, Any]], facts: dict[str, Any]) -> None:
    """``exit_json`` with ``checks`` and the facts; ``fail_json`` naming every failure when ``fail_on_error``."""
    result = {"changed": False, "checks": checks, **facts}
    warn_checks(module, checks)
    if any(c["status"] == "fail" for c in checks) and module.params.get("fail_on_error", True):
        module.fail_json(msg=f"{what} failed:\n" + summary_message(checks), **result)
    module.exit_json(**result)


def probe_target(module: Any, exp: dict[str, Any],
                 failure_checks: Callable[[str], list[dict[str, Any]]] | None = None) -> tuple[str, str]:
    """``(target, IPv4 address)`` of a probing module: option ``target``, else the site's DICOMweb host,
    resolved on this host. Fails the module when there is none or it does not resolve (with the checks
    ``failure_checks(target)`` names, when given)."""
    target = module.params["target"] or exp.get("target_host")
    if not target:
        module.fail_json(msg="no target: give target or a site with a DICOMweb URL")
    try:
        address = socket.gethostbyname(target)
    except OSError as exc:
        extra = {"checks": failure_checks(target)} if failure_checks else {}
        module.fail_json(msg=f"cannot resolve {target} on this host: {exc}", **extra)
    return target, address
