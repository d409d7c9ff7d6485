"""The task stowpath.core.change_plan: its arguments and what it returns, for the module and its action plugin.

``plan_result`` reads the rendered artifacts and what the device runs now (a saved running configuration, the
device's current files, or the device itself through the platform's transport, read-only), builds the plan,
writes it when ``dest`` is given, and fails (``TaskFailed``) on what stops the run.
"""

from __future__ import annotations

import os
from typing import Any

from ..inprocess import TaskFailed, TaskRun
from ..platforms import UnknownPlatformError, get
from ..transports.ansible_args import DEVICE_ARGS, connection
from ..transports.base import ConnParams, _transport_class, open_transport
from ..transports.errors import TransportError
from . import BLOCKING, build_plan, finding
from .render import PlanLeakError, write_plan

PLAN_ARGS: dict[str, dict[str, Any]] = {
    **DEVICE_ARGS,
    "site": {"type": "dict", "required": True},
    "artifact_dir": {"type": "path", "required": True},
    "running_config_file": {"type": "path"},
    "running_files": {"type": "dict"},
    "read_device": {"type": "bool", "default": True},
    "mode": {"type": "str", "choices": ["merge", "replace"], "default": "merge"},
    "owner": {"type": "str", "default": "stowpath"},
    "state_dir": {"type": "path"},
    "device_key": {"type": "str"},
    "confirm_timeout": {"type": "int", "default": 300},
    "imaging": {"type": "bool", "default": False},
    "file_paths": {"type": "dict"},
    "dest": {"type": "path"},
    "templates_dir": {"type": "path"},
    "fail_on_blocking": {"type": "bool", "default": False},
}


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as fh:
        return fh.read()


def _artifacts(spec: Any, transport: str, mode: str, artifact_dir: str, offline_cli: bool) -> Any:
    names = spec.artifact("netmiko" if offline_cli and "netmiko" in spec.transports else transport, mode)
    if isinstance(names, str):
        return _read(os.path.join(artifact_dir, names))
    return {n: _read(os.path.join(artifact_dir, n)) for n in names}


def _previous(p: dict[str, Any], spec: Any, transport: str) -> str | None:
    try:
        from ..drift.vendor import previous_for

        conn = ConnParams(host=p["host"] or "", port=p["port"] or spec.port(transport), username="")
        return previous_for(p["state_dir"], conn, p["owner"], p["device_key"])
    except Exception:  # noqa: BLE001 - no readable record: the plan treats every object as new
        return None


def _unreachable(conn: ConnParams, unread: str) -> dict[str, Any]:
    pending_commit = "confirmed-commit pending" in unread or "confirmed commit" in unread.lower()
    return finding(
        "device.unreachable", BLOCKING, f"{conn.host}:{conn.port}",
        "an earlier push is still pending on the device" if pending_commit else "the device could not be read",
        unread,
        "wait for the device's confirm timeout (it rolls that push back by itself) and run again: the push "
        "then recovers its journal and says so" if pending_commit else
        "check the connection variables (docs/real-router.md), or plan offline with -e running_config_file=PATH")


def plan_result(p: dict[str, Any], run: TaskRun) -> dict[str, Any]:
    """The module's result for the validated parameters ``p`` (``PLAN_ARGS``); nothing on the device changes.

    Raises ``TaskFailed`` when the plan cannot be made or written, or (``fail_on_blocking``) when a finding
    would stop the push. Lines the change shares with the device's own configuration are warnings.
    """
    try:
        spec = get(p["platform"])
        transport, _ = spec.transport(p["transport"])
    except UnknownPlatformError as exc:
        raise TaskFailed(str(exc)) from None
    offline_cli = bool(p["running_config_file"]) and spec.cli is not None
    try:
        intended = _artifacts(spec, transport, p["mode"], p["artifact_dir"], offline_cli)
    except OSError as exc:
        raise TaskFailed(f"the rendered configuration is missing ({exc}): run the site_render role first") from None
    texts = [intended] if isinstance(intended, str) else list(intended.values())
    secrets = [s for t in texts for s in spec.extract_secrets(t)] + list(p["secrets"] or [])
    running: Any = None
    change = None
    source = "none"
    unread = ""
    extra_findings = []
    previous = _previous(p, spec, transport)
    if p["running_config_file"]:
        try:
            running = _read(p["running_config_file"])
        except OSError as exc:
            raise TaskFailed(f"cannot read running_config_file: {exc}") from None
        source = f"saved running configuration {p['running_config_file']}"
    elif p["running_files"] is not None:
        running = {k: v or "" for k, v in p["running_files"].items()}
        source = "the device's current files"
    elif p["read_device"] and spec.runs_on == "controller":
        try:
            _, _, conn = connection(p)
        except ValueError as exc:
            raise TaskFailed(str(exc)) from None
        secrets += conn.secrets()
        try:
            with open_transport(spec, transport, conn, secrets) as t:
                running = t.get_running()
                if spec.cli is None or not isinstance(running, str) or running.lstrip().startswith("<"):
                    change = t.diff(intended, p["mode"], previous)
            source = f"the device {conn.host}:{conn.port} over {transport} (read-only)"
        except TransportError as exc:
            unread = str(exc)
            extra_findings.append(_unreachable(conn, unread))
    else:
        unread = "offline run" if not p["read_device"] else "this platform is read on the gateway itself"
    try:
        device_side = _transport_class(transport).device_side_rollback
    except TransportError:
        device_side = False
    plan = build_plan(p["site"], spec, transport, intended, running, source=source, mode=p["mode"],
                      previous=previous, secrets=secrets, change=change, confirm_timeout=p["confirm_timeout"],
                      imaging=p["imaging"], device_side_rollback=device_side, file_paths=p["file_paths"],
                      unread_reason=unread)
    if extra_findings:
        plan["findings"] = extra_findings + plan["findings"]
        plan["status"] = "blocked"
        plan["summary"]["blocking"] += len(extra_findings)
    result: dict[str, Any] = {"changed": False, "plan": plan,
                              "blocking": [f for f in plan["findings"] if f["severity"] == BLOCKING]}
    if p["dest"]:
        if not p["templates_dir"]:
            raise TaskFailed("templates_dir is required with dest (templates/report)", **result)
        try:
            result["files"] = write_plan(plan, p["dest"], p["templates_dir"], secrets)
        except (PlanLeakError, ValueError, OSError) as exc:
            raise TaskFailed(f"the plan was not written: {exc}", **result) from None
    for f in plan["findings"]:
        if f["severity"] == "shared":
            run.warn(f"{f['object']}: {f['change']}" + (f" -- {f['impact']}" if f["impact"] else ""))
    if p["fail_on_blocking"] and result["blocking"]:
        lines = [f"{f['object']}: {f['change']} ({f['impact']}). Fix: {f['fix']}" for f in result["blocking"]]
        raise TaskFailed(f"pre-flight: {len(lines)} finding(s) would stop the change, nothing was changed:\n"
                         + "\n".join(lines), **result)
    return result
