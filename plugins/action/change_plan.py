"""Action plugin of stowpath.core.change_plan: on the controller, plan in this process.

The roles delegate the plan to localhost. There the action validates the arguments with the module's own spec
(``PLAN_ARGS``) and calls the module's own function (``plan.task.plan_result``) in this process instead of
shipping the module to a new Python process: the same result, warnings, failure message and no_log masking
(``plugin_utils/inprocess_action.py``). A device read (``read_device`` on a platform read from the controller) opens the
platform's transport from here, as the module does. On any other connection (or with async or become) the
module runs as usual.
"""

from __future__ import annotations

from ansible_collections.stowpath.core.plugins.module_utils.plan.task import PLAN_ARGS, plan_result
from ansible_collections.stowpath.core.plugins.plugin_utils.inprocess_action import InProcessAction


class ActionModule(InProcessAction):
    MODULE = "stowpath.core.change_plan"
    ARGS = PLAN_ARGS
    FUNC = staticmethod(plan_result)
