"""Action plugin of stowpath.core.site_report: on the controller, write the report in this process.

The report role delegates the report to localhost. There the action validates the arguments with the module's own
spec (``REPORT_ARGS``) and calls the module's own function (``report.task.report_result``) in this process instead
of shipping the module to a new Python process: the same result, failure message, check mode (nothing is written)
and no_log masking of every secret value (``inprocess.run_here``). On any other connection (or with async or
become) the module runs as usual.
"""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase
from ansible_collections.stowpath.core.plugins.module_utils.inprocess import run_here
from ansible_collections.stowpath.core.plugins.module_utils.report.task import REPORT_ARGS, report_result

MODULE = "stowpath.core.site_report"


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
            result.update(run_here(name, REPORT_ARGS, args, report_result, bool(self._task.check_mode),
                                   bool(self._task.diff)))
            return result
        wrap_async = bool(self._task.async_val) and not self._connection.has_native_async
        result.update(self._execute_module(module_name=name, module_args=args, task_vars=task_vars,
                                           wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
