"""Action plugin of stowpath.core.change_plan: on the controller, plan in this process.

The roles delegate the plan to localhost. There the action validates the arguments with the module's own spec
(``PLAN_ARGS``) and calls the module's own function (``plan.task.plan_result``) in this process instead of
shipping the module to a new Python process: the same result, warnings, failure message and no_log masking
(``inprocess.run_here``). A device read (``read_device`` on a platform read from the controller) opens the
platform's transport from here, as the module does. On any other connection (or with async or become) the
module runs as usual.
"""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase
from ansible_collections.stowpath.core.plugins.module_utils.inprocess import run_here
from ansible_collections.stowpath.core.plugins.module_utils.plan.task import PLAN_ARGS, plan_result

MODULE = "stowpath.core.change_plan"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        name = self._task.resolved_action or MODULE
        here = getattr(self._connection, "transport", "") == "local"
        if here and not self._task.async_val and not self._play_context.become:
            result.update(run_here(name, PLAN_ARGS, args, plan_result, bool(self._task.check_mode),
                                   bool(self._task.diff)))
            return result
        wrap_async = bool(self._task.async_val) and not self._connection.has_native_async
        result.update(self._execute_module(module_name=name, module_args=args, task_vars=task_vars,
                                           wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
