"""How the verification modules finish: facts + checks, failing with the reason when asked to."""

from __future__ import annotations

from typing import Any

from ..checks import summary_message

SITE_OPTION_DOC = "The masked site model returned by M(stowpath.core.site_model) (key C(site))."
# Argument specs documented once in plugins/doc_fragments/verify.py.
VERIFY_ARGS: dict[str, dict[str, Any]] = {"fail_on_error": {"type": "bool", "default": True}}
WAIT_ARGS: dict[str, dict[str, Any]] = {"wait_timeout": {"type": "float", "default": 0},
                                        "interval": {"type": "float", "default": 0.5}}
PROBE_ARGS: dict[str, dict[str, Any]] = {"target": {"type": "str"}, "source": {"type": "str"}}


def finish(module: Any, what: str, checks: list[dict[str, Any]], facts: dict[str, Any]) -> None:
    """``exit_json`` with ``checks`` and the facts; ``fail_json`` naming every failure when ``fail_on_error``."""
    result = {"changed": False, "checks": checks, **facts}
    for c in checks:
        if c["status"] == "warn":
            module.warn(f"{c['id']}: {c['title']} -- {c.get('cause')}")
    if any(c["status"] == "fail" for c in checks) and module.params.get("fail_on_error", True):
        module.fail_json(msg=f"{what} failed:\n" + summary_message(checks), **result)
    module.exit_json(**result)
