"""Action plugin of stowpath.core.site_render (and site_model): runs on the controller before the module.

It decrypts an ansible-vault encrypted vendor parameter file in memory with the run's vault secrets and
hands the text to the module (never a clear copy on disk), and tells the module which connection
variables the host has (names only) so that validation can require them. In a verify-only run
(``stowpath_verify_only``) the render only refreshes the local build/ directory to know what is expected:
that changes no managed system, so the task reports ``changed=false`` (like the report role).

When the task runs on the controller itself (the roles delegate it to localhost), site_render validates
and renders in this process instead of shipping the module to a new Python process per host: the same
functions (``ansible_site.render_result``) and the same argument validation, a tenth of the cost per site.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible_collections.stowpath.core.plugins.module_utils.ansible_site import (
    RENDER_ARGS,
    SITE_VARIABLES,
    controller_site_args,
    invalid_input,
    render_result,
)
from ansible_collections.stowpath.core.plugins.module_utils.errors import SiteError, SiteErrors


def vault_decrypt(loader: Any) -> Any:
    """``decrypt(raw, path)`` with the run's vault secrets; a missing or wrong secret is a ValueError (the
    site model then names the fix)."""

    def decrypt(raw: bytes, path: str) -> bytes:
        try:
            return loader._vault.decrypt(raw)
        except AnsibleError as exc:
            raise ValueError(str(exc)) from None

    return decrypt


def render_here(args: dict[str, Any], play_context: Any) -> dict[str, Any]:
    """site_render in this process: the module's argument validation, rendering and result."""
    checked = ArgumentSpecValidator(RENDER_ARGS).validate(args)
    if checked.error_messages:
        return {"failed": True, "msg": "; ".join(checked.error_messages)}
    p = checked.validated_parameters
    try:
        out = render_result(p, bool(play_context.check_mode), bool(play_context.diff))
    except (SiteError, SiteErrors) as exc:
        return invalid_input(p["hostname"], exc)
    warnings = out.pop("warnings")
    if warnings:
        out["warnings"] = warnings
    return out


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        required = self._flag(task_vars, "stowpath_require_connection")

        task_args = dict(self._task.args)
        if "site" not in task_args:  # the host's own site variables (cheaper than templating all hostvars)
            task_args["site"] = {n: self._templar.template(task_vars[n]) for n in SITE_VARIABLES if n in task_vars}
        args = controller_site_args(task_args, task_vars, lambda p: Path(p).read_bytes(),
                                    vault_decrypt(self._loader), bool(required))
        name = self._task.resolved_action or "stowpath.core.site_render"
        if name.endswith("site_render") and getattr(self._connection, "transport", "") == "local":
            result.update(render_here(args, self._play_context))
        else:
            result.update(self._execute_module(module_name=name, module_args=args, task_vars=task_vars))
        if self._flag(task_vars, "stowpath_verify_only"):
            result["changed"] = False
        return result

    def _flag(self, task_vars: dict[str, Any], name: str) -> bool:
        value = task_vars.get(name, False)
        if isinstance(value, str):
            value = self._templar.template(value)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "yes", "1")
        return bool(value)
