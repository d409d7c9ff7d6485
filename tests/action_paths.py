"""Run a stowpath task both ways, to compare the results: through its action plugin on a local connection (the
task runs in the controller's process) and on any other connection, where the action hands the task to
``_execute_module`` - replaced here by the real module run in a new Python process, as Ansible runs it."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
from types import SimpleNamespace
from typing import Any

from ansible.module_utils.common.json import Direction, get_module_decoder
from ansible.vars.clean import remove_internal_keys
from stowpath_testlib import REPO


def run_module(name: str, args: dict[str, Any], check_mode: bool = False, diff: bool = False) -> dict[str, Any]:
    """The module ``plugins/modules/<name>.py`` in a new Python process: its JSON result."""
    payload = {"ANSIBLE_MODULE_ARGS": {**args, "_ansible_check_mode": check_mode, "_ansible_diff": diff,
                                       "_ansible_module_name": f"stowpath.core.{name}"}}
    env = dict(os.environ, PYTHONPATH=str(REPO / "collections"))
    with tempfile.NamedTemporaryFile("w", suffix=".json") as fh:  # the arguments file, as AnsiballZ hands it over
        json.dump(payload, fh)
        fh.flush()
        proc = subprocess.run([sys.executable, str(REPO / "plugins" / "modules" / f"{name}.py"), fh.name],
                              capture_output=True, text=True, env=env, cwd=REPO, timeout=120, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads(lines[-1], cls=get_module_decoder("legacy", Direction.MODULE_TO_CONTROLLER))
    remove_internal_keys(result)  # what _execute_module does with a module's answer
    assert proc.returncode == (1 if result.get("failed") else 0), proc.stderr[-2000:]
    return result


def run_action(name: str, args: dict[str, Any], transport: str = "local", check_mode: bool = False,
               diff: bool = False, become: bool = False) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``(result, module calls)`` of the action plugin ``plugins/action/<name>.py`` for one task."""
    plugin = importlib.import_module(f"ansible_collections.stowpath.core.plugins.action.{name}")
    task = SimpleNamespace(args=dict(args), action=f"stowpath.core.{name}", resolved_action=f"stowpath.core.{name}",
                           check_mode=check_mode, diff=diff, async_val=0)
    connection = SimpleNamespace(transport=transport, has_native_async=False, _shell=SimpleNamespace(tmpdir=None))
    action = plugin.ActionModule(task, connection, SimpleNamespace(become=become), None, None)
    calls: list[dict[str, Any]] = []

    def execute_module(module_name: str, module_args: dict[str, Any], task_vars: Any = None,
                       wrap_async: bool = False) -> dict[str, Any]:
        calls.append({"module_name": module_name, "module_args": module_args, "wrap_async": wrap_async})
        return run_module(name, module_args, check_mode, diff)

    action._execute_module = execute_module  # type: ignore[method-assign]
    action._remove_tmp_path = lambda path: None  # type: ignore[method-assign]
    return action.run(task_vars={}), calls


def warning_texts(result: dict[str, Any]) -> dict[str, Any]:
    """The result with its warnings as texts: a module's come as WarningSummary, an action's as strings; the
    controller turns both into the same warning (TaskExecutor._apply_task_result_compat)."""
    if "warnings" in result:
        result = {**result, "warnings": [getattr(getattr(w, "event", None), "msg", w) for w in result["warnings"]]}
    return result


def both_ways(name: str, args: dict[str, Any], **kw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(in this process, module in a new process)``; the first ran no module, the second exactly one.
    Warnings are compared as texts."""
    here, calls = run_action(name, args, **kw)
    assert calls == []
    module, calls = run_action(name, args, transport="ssh", **kw)
    assert [c["module_name"] for c in calls] == [f"stowpath.core.{name}"]
    return warning_texts(here), warning_texts(module)
