"""Action plugin of stowpath.core.drift_report: on the controller, write the report in this process.

The task runs once, delegated to localhost, with every gateway's entry (backups included) as arguments.
Shipping that to a new Python process (AnsiballZ) costs more than the work; here the module's own argument
spec and function (``write_report``) run in this process. On any other connection the module runs as usual.
"""

from __future__ import annotations

from typing import Any

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        if getattr(self._connection, "transport", "") != "local":
            name = self._task.resolved_action or "stowpath.core.drift_report"
            return {**result, **self._execute_module(module_name=name, module_args=self._task.args, task_vars=task_vars)}
        from ansible_collections.stowpath.core.plugins.modules.drift_report import ARGSPEC, write_report

        checked = ArgumentSpecValidator(ARGSPEC).validate(dict(self._task.args))
        if checked.error_messages:
            return {**result, "failed": True, "msg": "; ".join(checked.error_messages)}
        return {**result, **write_report(checked.validated_parameters)}
