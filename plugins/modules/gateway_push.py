#!/usr/bin/python
"""Ansible module stowpath.core.gateway_push: push a rendered gateway configuration to a vendor router."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gateway_push
short_description: Push a rendered gateway configuration (any platform), undone unless confirmed
description:
  - One change flow for every platform of the registry (C(plugins/module_utils/platforms/)) and every transport.
  - C(action=push) computes the exact change (hier_config remediation for CLI, the device's own candidate diff for
    NETCONF and NAPALM, file and FRR diffs on a Linux gateway), and unless in check mode applies it so that it can be
    undone (NETCONF confirmed-commit with persist id, NAPALM C(commit_config(revert_in)), CLI pre-change snapshot,
    Linux byte-for-byte snapshot). It returns a C(token).
  - The playbook then verifies tunnels/BGP/routes and calls the module again with C(action=confirm) (CLI saves
    with C(write memory) only then) or C(action=rollback).
  - A push that is never confirmed is rolled back by the device at the timeout (NETCONF, NAPALM) or restored by the
    next run, which says so. Two runs never push to one device at the same time (per-device lock and journal under
    O(state_dir)).
  - Router platforms run on the controller (delegate to localhost); C(linux_strongswan) runs on the gateway.
  - Secrets are masked in every diff, command list and message.
version_added: "0.1.0"
author: stowpath
extends_documentation_fragment: [stowpath.core.device]
options:
  action:
    description: C(push) the intended configuration, or C(confirm)/C(rollback) the push named by O(token).
    type: str
    choices: [push, confirm, rollback]
    default: push
  artifacts:
    description:
      - "The rendered artifacts as C({name: text}) (read on the controller, e.g. with the C(file) lookup): the
        transport takes the one(s) its platform spec names (Linux C(swanctl.conf), C(frr.conf), C(nftables.conf))."
    type: dict
  intended:
    description: Path (on the host running the module) of the one artifact to push, instead of O(artifacts).
    type: path
  artifact_dir:
    description:
      - The host's render directory (C(build/<host>)) when the module runs where it is; the artifact is chosen
        from the platform spec by transport and O(mode).
    type: path
  mode:
    description:
      - C(merge) changes stowpath's own sections and lines only, and fails on a conflict (a section with the
        same name and different content that stowpath did not write).
      - C(replace) makes stowpath's sections equal to the artifact, overwriting conflicts.
    type: str
    choices: [merge, replace]
    default: merge
  confirm_timeout:
    description: Seconds the push stays unconfirmed before the device (or the next run) rolls it back.
    type: int
    default: 120
  token:
    description: The C(token) returned by C(action=push) (for confirm/rollback; empty means nothing to do).
    type: str
  owner:
    description: Who owns the pushed sections (the site name); tells an update from a conflict.
    type: str
    default: stowpath
  state_dir:
    description:
      - Directory for the per-device lock, push journal and last-applied record (routers; on the controller), or
        the gateway's state directory (Linux; snapshots in C(backups/), journal in C(push/)).
      - Keep it outside the checkout, persistent and shared by every job that may push to the device.
      - Default C(/var/lib/stowpath/controller) on the controller as root (C(~/.local/state/stowpath) otherwise),
        C(/var/lib/stowpath) on a Linux gateway.
    type: path
  device_key:
    description:
      - The device's name in O(state_dir) (its C(inventory_hostname)), so that two jobs from different checkouts lock and
        journal the same device under the same key. Default C(<host>_<port>).
    type: str
  journal_key:
    description:
      - A Fernet key file (on the host running the module); journals then also keep the clear configurations,
        encrypted, so a CLI rollback can restore a secret the push changed. Without it journals and last-applied
        records hold masked configurations and hashes only.
    type: path
  lock_wait:
    description: Seconds to wait for another run's lock on the same device.
    type: int
    default: 30
  paths:
    description: Linux gateway only, the files stowpath owns (keys C(swanctl), C(frr), C(nft), C(nft_main)).
    type: dict
  restore_drift:
    description:
      - Drift remediation, routers only; a section stowpath applied before and that was edited on the device is
        restored instead of being refused as a conflict (a section stowpath never wrote stays a conflict).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Push the rendered configuration (commit-confirmed)
  stowpath.core.gateway_push:
    platform: "{{ gateway_platform }}"
    transport: "{{ gateway_transport | default(omit) }}"
    host: "{{ gateway_mgmt_host }}"
    port: "{{ gateway_mgmt_port | default(omit) }}"
    username: "{{ gateway_username }}"
    password: "{{ gateway_password }}"
    artifact_dir: "{{ stowpath_build_dir }}/{{ inventory_hostname }}"
    owner: "{{ site_name }}"
    confirm_timeout: 120
  delegate_to: localhost
  register: push

- name: Confirm after verification passed
  stowpath.core.gateway_push:
    action: confirm
    token: "{{ push.token }}"
    platform: "{{ gateway_platform }}"
    transport: "{{ push.transport }}"
    host: "{{ gateway_mgmt_host }}"
    username: "{{ gateway_username }}"
    password: "{{ gateway_password }}"
    owner: "{{ site_name }}"
  delegate_to: localhost
  when: push.token is truthy
"""

RETURN = r"""
changed:
  description: Whether the device configuration was (or in check mode would be) changed.
  type: bool
  returned: always
diff_text:
  description: The exact change, secrets masked (hier_config diff for CLI, device candidate diff otherwise).
  type: str
  returned: always
commands:
  description: CLI lines sent (netmiko), or changed list entries (netconf), or device diff lines (napalm); masked.
  type: list
  elements: str
  returned: always
token:
  description: Names the pending push; pass it to action=confirm or action=rollback. Null when nothing changed.
  type: str
  returned: always
deadline:
  description: Epoch seconds after which an unconfirmed push is rolled back.
  type: float
  returned: when a push is pending
transport:
  description: The transport used.
  type: str
  returned: always
recovered:
  description: Set when an earlier, never confirmed push was rolled back/restored first (says how).
  type: str
  returned: always
conflicts:
  description: Sections on the device with stowpath's names but different content that stowpath did not write.
  type: list
  elements: str
  returned: always
notes:
  description: Remarks (e.g. type 6 secrets that cannot be compared).
  type: list
  elements: str
  returned: always
timings:
  description: Seconds spent connecting, computing the diff and applying.
  type: dict
  returned: always
failure:
  description: Failure kind (authentication, connect, rejected, conflict, connection_lost, confirm_expired, error).
  type: str
  returned: on failure
rolled_back:
  description: On failure, whether the change was rolled back (true), not applied at all, or unknown (null).
  type: bool
  returned: on failure
"""

import os
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stowpath.core.plugins.module_utils import linux_gateway as lg
from ansible_collections.stowpath.core.plugins.module_utils.transports.ansible_args import DEVICE_ARGS, connection
from ansible_collections.stowpath.core.plugins.module_utils.transports.base import open_transport
from ansible_collections.stowpath.core.plugins.module_utils.transports.push import PushError, finish, push
from ansible_collections.stowpath.core.plugins.module_utils.transports.state import default_state_dir


def _intended(p: dict, spec: Any, transport: str) -> tuple[str | None, Any]:
    """(path, content) of what to push: one file for routers, ``{artifact: text}`` for several."""
    names = spec.artifact(transport, p["mode"])
    if p["intended"]:
        return p["intended"], None
    if p["artifacts"]:
        if isinstance(names, str):
            if names not in p["artifacts"]:
                raise ValueError(f"artifacts lacks {names} (the {transport} transport pushes it)")
            return None, p["artifacts"][names]
        missing = [n for n in names if n not in p["artifacts"]]
        if missing:
            raise ValueError(f"artifacts lacks {', '.join(missing)}")
        return None, {n: p["artifacts"][n] for n in names}
    if p["artifact_dir"] and isinstance(names, str):
        return os.path.join(p["artifact_dir"], names), None
    raise ValueError("give artifacts (the rendered files), or intended / artifact_dir (build/<host>)")


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **DEVICE_ARGS,
            "action": {"type": "str", "choices": ["push", "confirm", "rollback"], "default": "push"},
            "artifacts": {"type": "dict", "no_log": True},
            "intended": {"type": "path"},
            "artifact_dir": {"type": "path"},
            "mode": {"type": "str", "choices": ["merge", "replace"], "default": "merge"},
            "confirm_timeout": {"type": "int", "default": 120},
            "token": {"type": "str", "no_log": False},
            "owner": {"type": "str", "default": "stowpath"},
            "state_dir": {"type": "path"},
            "device_key": {"type": "str"},
            "journal_key": {"type": "path", "no_log": False},
            "lock_wait": {"type": "int", "default": 30},
            "paths": {"type": "dict"},
            "restore_drift": {"type": "bool", "default": False},
        },
        required_if=[("action", "confirm", ("token",), True), ("action", "rollback", ("token",), True)],
        supports_check_mode=True,
    )
    p = module.params
    try:
        spec, transport, conn = connection(p)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    state_dir = p["state_dir"] or ("/var/lib/stowpath" if spec.runs_on == "device" else default_state_dir())
    extra: dict[str, Any] = {}
    if spec.runs_on == "device":
        extra = {"run": lg.timed(module.run_command), "paths": p["paths"], "state_dir": state_dir}
        state_dir = os.path.join(state_dir, "push")

    def opener(platform: Any, name: Any, c: Any, secrets: Any = None) -> Any:
        return open_transport(platform, name, c, secrets, **extra)

    if p["restore_drift"] and spec.runs_on == "controller":
        from ansible_collections.stowpath.core.plugins.module_utils.drift.vendor import drift_aware_opener, previous_for

        opener = drift_aware_opener(previous_for(state_dir, conn, p["owner"], p["device_key"]), base=opener)
    common = {"state_dir": state_dir, "owner": p["owner"], "check_mode": module.check_mode,
              "secrets": p["secrets"] or [], "lock_wait": float(p["lock_wait"]), "opener": opener,
              "key": p["device_key"], "journal_key": p["journal_key"]}
    try:
        if p["action"] == "push":
            try:
                path, content = _intended(p, spec, transport)
            except ValueError as exc:
                module.fail_json(msg=str(exc))
            result = push(spec.name, transport, conn, path, mode=p["mode"], confirm_timeout=p["confirm_timeout"],
                          intended=content, **common)
        else:
            result = finish(p["action"], spec.name, transport, conn, p["token"], **common)
    except PushError as exc:
        res = dict(exc.result)
        res["diff_text"] = res.pop("diff", "")
        module.fail_json(msg=exc.message, **res)
    result["diff_text"] = result.pop("diff", "")
    if result["diff_text"]:
        result["diff"] = {"prepared": result["diff_text"]}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
