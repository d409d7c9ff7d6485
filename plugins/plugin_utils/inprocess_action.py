"""Controller-side base of the action plugins that run their module's function in the controller's process.

A subclass names the module (``MODULE``), its argument spec (``ARGS``) and its task function (``FUNC``,
``func(params, run) -> result``; ``plugins/module_utils/inprocess.py``). On a ``local`` connection without
async or become the task runs in this process (``run_here``): the module's validation, result, warnings,
failure message and no_log masking, without a new Python process. On any other connection the module runs as
usual (async supported).
"""

from __future__ import annotations

from typing import Any, ClassVar

from ansible.plugins.action import ActionBase
from ansible_collections.stowpath.core.plugins.module_utils.inprocess import TaskFunc, run_here


class InProcessAction(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = True

    MODULE: ClassVar[str]
    ARGS: ClassVar[dict[str, Any]]
    FUNC: ClassVar[TaskFunc]

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        name = self._task.resolved_action or self.MODULE
        here = getattr(self._connection, "transport", "") == "local"
        if here and not self._task.async_val and not self._play_context.become:
            result.update(run_here(name, self.ARGS, args, type(self).FUNC, bool(self._task.check_mode),
                                   bool(self._task.diff)))
            return result
        wrap_async = bool(self._task.async_val) and not self._connection.has_native_async
        result.update(self._execute_module(module_name=name, module_args=args, task_vars=task_vars,
                                           wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
