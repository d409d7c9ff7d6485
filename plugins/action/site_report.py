"""Action plugin of stowpath.core.site_report: on the controller, write the report in this process.

The report role delegates the report to localhost. There the action validates the arguments with the module's own
spec (``REPORT_ARGS``) and calls the module's own function (``report.task.report_result``) in this process instead
of shipping the module to a new Python process: the same result, failure message, check mode (nothing is written)
and no_log masking of every secret value (``plugin_utils/inprocess_action.py``). On any other connection (or with async or
become) the module runs as usual.
"""

from __future__ import annotations

from ansible_collections.stowpath.core.plugins.module_utils.report.task import REPORT_ARGS, report_result
from ansible_collections.stowpath.core.plugins.plugin_utils.inprocess_action import InProcessAction


class ActionModule(InProcessAction):
    MODULE = "stowpath.core.site_report"
    ARGS = REPORT_ARGS
    FUNC = staticmethod(report_result)
