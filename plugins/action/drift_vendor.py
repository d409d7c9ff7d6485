"""Action plugin of stowpath.core.drift_vendor: a router that cannot be reached is a drift verdict, not an
Ansible "host unreachable".

The module reports an unreachable router with ``unreachable: true`` (and ``status: unreachable`` and the
reason); Ansible would take that key as the controller failing to reach the delegated host (localhost)
and drop the gateway from the play, so no fleet report would be written. Here the key is renamed
``device_unreachable``: the gateway stays in the play and appears as ``unreachable`` with its reason in
the fleet report, and the verdict fails it.
"""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        out = self._execute_module(module_name=self._task.resolved_action or "stowpath.core.drift_vendor",
                                   module_args=self._task.args, task_vars=task_vars or {})
        if out.get("unreachable") and out.get("status") == "unreachable":
            out.pop("unreachable")
            out["device_unreachable"] = True
        result.update(out)
        return result
