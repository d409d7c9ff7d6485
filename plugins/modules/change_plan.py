#!/usr/bin/python
"""Ansible module stowpath.core.change_plan: the change plan of one gateway, read-only."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: change_plan
short_description: Plan a gateway change for a change advisory board (read-only), or stop a run before any change
description:
  - Computes what pushing the rendered configuration would do to the gateway, without changing it, from the
    device's running configuration read through the platform's transport (read-only), or fully offline from a
    saved C(show running-config) (O(running_config_file)) or the device's current files (O(running_files)).
  - Returns the plan and writes C(<dest>/<site_name>/change-plan.{md,html,json}) when O(dest) is given - the exact
    commands or diff (secrets masked), every pre-existing line or object the change replaces or depends on (router
    id, interface ACLs, IKE policies, an existing BGP process...), the conflicts that would stop the push and their
    fix, the expected impact, the verification plan, the rollback plan and the estimated duration.
  - With O(fail_on_blocking) the module fails when a finding would stop the push (the pre-flight of onboarding).
  - Runs on the controller (delegate to localhost).
version_added: "0.2.0"
author: stowpath
extends_documentation_fragment: [stowpath.core.device]
options:
  site:
    description: The validated site model (the C(site) returned by M(stowpath.core.site_render), secrets masked).
    type: dict
    required: true
  artifact_dir:
    description: The host's render directory (C(build/<host>)).
    type: path
    required: true
  running_config_file:
    description: A saved running configuration of the device (C(show running-config)); nothing is contacted.
    type: path
  running_files:
    description: "For platforms whose artifacts are whole files on the device, C({artifact: current text})."
    type: dict
  read_device:
    description: Read the running configuration through the transport when no saved one is given.
    type: bool
    default: true
  mode:
    description: The push mode the plan is for (C(merge) stops on conflicts, C(replace) overwrites them).
    type: str
    choices: [merge, replace]
    default: merge
  owner:
    description: The owner of stowpath's sections (the site name), to find what stowpath applied before.
    type: str
    default: stowpath
  state_dir:
    description: The push state directory of M(stowpath.core.gateway_push) (what was applied before).
    type: path
  device_key:
    description: The device's key in O(state_dir) (the inventory hostname).
    type: str
  confirm_timeout:
    description: The commit-confirmed timer of the push, in seconds (for the rollback plan).
    type: int
    default: 300
  imaging:
    description: Whether the run also configures and verifies the PACS (for the verification plan).
    type: bool
    default: false
  file_paths:
    description: Artifact name -> path on the device, for the file diffs of O(running_files).
    type: dict
  dest:
    description: Write the plan into C(<dest>/<site_name>/change-plan.{md,html,json}).
    type: path
  templates_dir:
    description: Where C(change-plan.md.j2) and C(change-plan.html.j2) are (C(templates/report)).
    type: path
  fail_on_blocking:
    description: Fail when the plan has blocking findings (nothing has been changed).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Plan the change offline from a saved running configuration
  stowpath.core.change_plan:
    site: "{{ site_render_result.site }}"
    artifact_dir: "{{ stowpath_build_dir }}/{{ inventory_hostname }}"
    running_config_file: /srv/change/edge-rtr-running.txt
    dest: "{{ playbook_dir }}/../reports"
    templates_dir: "{{ playbook_dir }}/../templates/report"
  delegate_to: localhost
"""

RETURN = r"""
plan:
  description: The change plan (secrets masked); C(status) is C(blocked), C(change) or C(no_change).
  type: dict
  returned: always
files:
  description: File name -> path of the written plan.
  type: dict
  returned: when dest is given
blocking:
  description: The findings that stop the push.
  type: list
  elements: dict
  returned: always
"""

import os
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stowpath.core.plugins.module_utils.plan import BLOCKING, build_plan, finding
from ansible_collections.stowpath.core.plugins.module_utils.plan.render import PlanLeakError, write_plan
from ansible_collections.stowpath.core.plugins.module_utils.platforms import UnknownPlatformError, get
from ansible_collections.stowpath.core.plugins.module_utils.transports.ansible_args import DEVICE_ARGS, connection
from ansible_collections.stowpath.core.plugins.module_utils.transports.base import (
    ConnParams,
    _transport_class,
    open_transport,
)
from ansible_collections.stowpath.core.plugins.module_utils.transports.errors import TransportError


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
        from ansible_collections.stowpath.core.plugins.module_utils.drift.vendor import previous_for

        conn = ConnParams(host=p["host"] or "", port=p["port"] or spec.port(transport), username="")
        return previous_for(p["state_dir"], conn, p["owner"], p["device_key"])
    except Exception:  # noqa: BLE001 - no readable record: the plan treats every object as new
        return None


def main() -> None:
    module = AnsibleModule(
        argument_spec={
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
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        spec = get(p["platform"])
        transport, _ = spec.transport(p["transport"])
    except UnknownPlatformError as exc:
        module.fail_json(msg=str(exc))
    offline_cli = bool(p["running_config_file"]) and spec.cli is not None
    try:
        intended = _artifacts(spec, transport, p["mode"], p["artifact_dir"], offline_cli)
    except OSError as exc:
        module.fail_json(msg=f"the rendered configuration is missing ({exc}): run the site_render role first")
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
            module.fail_json(msg=f"cannot read running_config_file: {exc}")
        source = f"saved running configuration {p['running_config_file']}"
    elif p["running_files"] is not None:
        running = {k: v or "" for k, v in p["running_files"].items()}
        source = "the device's current files"
    elif p["read_device"] and spec.runs_on == "controller":
        try:
            _, _, conn = connection(p)
        except ValueError as exc:
            module.fail_json(msg=str(exc))
        secrets += conn.secrets()
        try:
            with open_transport(spec, transport, conn, secrets) as t:
                running = t.get_running()
                if spec.cli is None or not isinstance(running, str) or running.lstrip().startswith("<"):
                    change = t.diff(intended, p["mode"], previous)
            source = f"the device {conn.host}:{conn.port} over {transport} (read-only)"
        except TransportError as exc:
            unread = str(exc)
            pending_commit = "confirmed-commit pending" in unread or "confirmed commit" in unread.lower()
            extra_findings.append(finding(
                "device.unreachable", BLOCKING, f"{conn.host}:{conn.port}",
                "an earlier push is still pending on the device" if pending_commit else "the device could not be read",
                unread,
                "wait for the device's confirm timeout (it rolls that push back by itself) and run again: the push "
                "then recovers its journal and says so" if pending_commit else
                "check the connection variables (docs/real-router.md), or plan offline with -e running_config_file=PATH"))
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
            module.fail_json(msg="templates_dir is required with dest (templates/report)", **result)
        try:
            result["files"] = write_plan(plan, p["dest"], p["templates_dir"], secrets)
        except (PlanLeakError, ValueError, OSError) as exc:
            module.fail_json(msg=f"the plan was not written: {exc}", **result)
    for f in plan["findings"]:
        if f["severity"] == "shared":
            module.warn(f"{f['object']}: {f['change']}" + (f" -- {f['impact']}" if f["impact"] else ""))
    if p["fail_on_blocking"] and result["blocking"]:
        lines = [f"{f['object']}: {f['change']} ({f['impact']}). Fix: {f['fix']}" for f in result["blocking"]]
        module.fail_json(msg=f"pre-flight: {len(lines)} finding(s) would stop the change, nothing was changed:\n"
                             + "\n".join(lines), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
