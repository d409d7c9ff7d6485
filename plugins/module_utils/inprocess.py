"""One module's logic, run by its module (a new Python process) or by its action plugin in the controller's process.

A task function ``func(params, run) -> result`` holds what a module's ``main()`` did: ``run.warn`` for
``module.warn``, ``run.no_log_values`` for values found at run time that must never be returned, and
``TaskFailed(msg, **result)`` for ``module.fail_json``. ``finish_module`` turns it into the module's exit;
``run_here`` (action plugins, when the task runs on the controller) validates the arguments with the same spec
and returns what the module would: the same keys, warnings, failure message, ``invocation`` and no_log masking,
without shipping the module to a new Python process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, NoReturn

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError


class TaskFailed(Exception):
    """What the module reports with ``fail_json``: the message and the result so far."""

    def __init__(self, msg: str, **result: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.result = result


@dataclass
class TaskRun:
    """The run's mode and what the task reports besides its result."""

    check_mode: bool = False
    diff: bool = False
    warnings: list[str] = field(default_factory=list)
    no_log_values: set[str] = field(default_factory=set)

    def warn(self, msg: str) -> None:
        self.warnings.append(msg)


TaskFunc = Callable[[dict[str, Any], TaskRun], dict[str, Any]]


def finish_module(module: Any, func: TaskFunc) -> NoReturn:
    """Run ``func`` on the module's validated parameters and exit the module with its result or failure."""
    run = TaskRun(check_mode=bool(module.check_mode), diff=bool(module._diff))
    try:
        result = func(module.params, run)
    except TaskFailed as exc:
        _hand_over(module, run)
        module.fail_json(msg=exc.msg, **exc.result)
    _hand_over(module, run)
    module.exit_json(**result)


def _hand_over(module: Any, run: TaskRun) -> None:
    module.no_log_values.update(run.no_log_values)
    for msg in run.warnings:
        module.warn(msg)


def run_here(name: str, argument_spec: dict[str, Any], args: dict[str, Any], func: TaskFunc, check_mode: bool,
             diff: bool) -> dict[str, Any]:
    """What module ``name`` would return for ``args``, computed in this process."""
    checked = ArgumentSpecValidator(argument_spec).validate(args)
    params = dict(args)
    params.update(checked.validated_parameters)
    no_log = set(checked._no_log_values)
    run = TaskRun(check_mode=check_mode, diff=diff)
    if checked.error_messages:
        msg = checked.errors.msg
        if isinstance(checked.errors[0], UnsupportedError):
            msg = f"Unsupported parameters for ({name}) module: {msg}"
        result: dict[str, Any] = {"failed": True, "msg": msg}
    else:
        try:
            result = dict(func(params, run))
        except TaskFailed as exc:
            result = {**exc.result, "failed": True, "msg": str(exc.msg)}
    return module_output(result, params, run.warnings, no_log | run.no_log_values)


def module_output(result: dict[str, Any], params: dict[str, Any], warnings: list[str],
                  no_log_values: set[str]) -> dict[str, Any]:
    """The result as ``AnsibleModule.exit_json``/``fail_json`` hands it to the controller (``_return_formatted``):
    ``invocation``, ``warnings``, no_log values masked (top-level booleans and None kept), JSON types."""
    out = dict(result)
    out.setdefault("invocation", {"module_args": params})
    if warnings:
        out["warnings"] = list(warnings)
    preserved = {k: v for k, v in out.items() if v is None or isinstance(v, bool)}
    out = remove_values(out, no_log_values)
    out.update(preserved)
    return json.loads(json.dumps(out))
