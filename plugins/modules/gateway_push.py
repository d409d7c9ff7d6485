#!/usr/bin/python
"""Ansible module stowpath.core.gateway_push: push a rendered gateway configuration to a vendor router."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gateway_push
short_description: Push a rendered gateway configuration to a Cisco IOS-XE or Junos router, commit-confirmed
description:
  - Runs on the controller (delegate it to localhost) and talks to the router over the selected transport.
  - C(action=push) computes the exact change (hier_config remediation for CLI, the device's own candidate diff for
    NETCONF and NAPALM), and unless in check mode applies it so that it is undone unless confirmed
    (NETCONF confirmed-commit with persist id, NAPALM C(commit_config(revert_in)), CLI pre-change snapshot).
    It returns a C(token).
  - The playbook then verifies the tunnels/BGP/routes and calls the module again with C(action=confirm) (CLI
    saves with C(write memory) only then) or C(action=rollback).
  - A push that is never confirmed is rolled back by the device at the timeout (NETCONF, NAPALM) or restored by
    the next run (CLI), which says so. Two runs never push to one device at the same time (per-device lock and
    journal under O(state_dir)).
  - Secrets are masked in every diff, command list and message.
version_added: "0.1.0"
author: stowpath
options:
  action:
    description: C(push) the intended configuration, or C(confirm)/C(rollback) the push named by O(token).
    type: str
    choices: [push, confirm, rollback]
    default: push
  platform:
    description: Gateway platform of the host (C(gateway_platform)).
    type: str
    required: true
    choices: [cisco_iosxe, junos]
  transport:
    description:
      - C(netmiko) (CLI, cisco_iosxe), C(netconf) (ncclient, cisco_iosxe native YANG or junos), C(napalm).
      - Default per platform, cisco_iosxe C(netmiko), junos C(napalm).
    type: str
    choices: [netmiko, netconf, napalm]
  host:
    description: Management address of the router.
    type: str
    required: true
  port:
    description: SSH/NETCONF port (default 22; 830 for netconf and for napalm on junos).
    type: int
  username:
    description: Login user.
    type: str
    required: true
  password:
    description: Login password.
    type: str
  key_file:
    description: SSH private key file (instead of or besides the password).
    type: path
  enable_secret:
    description: IOS enable secret (netmiko).
    type: str
  timeout:
    description: Connect/read timeout in seconds.
    type: int
    default: 20
  command_timeout:
    description: Seconds to wait for the device's answer to one CLI line (netmiko) before giving the session up.
    type: int
    default: 15
  intended:
    description:
      - Path (on the controller) of the artifact to push. Default from O(artifact_dir) by transport
        (netmiko C(config.cfg), netconf C(netconf.xml), napalm junos C(config.set) for merge and C(netconf.xml) for
        replace).
    type: path
  artifact_dir:
    description: The host's render directory (C(build/<host>)), used when O(intended) is not given.
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
    description: Controller directory for the per-device lock and push journal.
    type: path
    default: ~/.cache/stowpath/push
  lock_wait:
    description: Seconds to wait for another run's lock on the same device.
    type: int
    default: 30
  device_type:
    description: Netmiko device type.
    type: str
    default: cisco_ios
  napalm_driver:
    description: NAPALM driver (default junos for junos, ios for cisco_iosxe; C(mock) for tests).
    type: str
  napalm_optional_args:
    description: NAPALM optional_args (for the mock driver a dict with C(path) set to the recorded answers).
    type: dict
  hostkey_verify:
    description: Verify the NETCONF SSH host key against known_hosts.
    type: bool
    default: false
  secrets:
    description: Extra values to mask in all output.
    type: list
    elements: str
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

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stowpath.core.plugins.module_utils.transports.base import DEFAULT_TRANSPORT, ConnParams
from ansible_collections.stowpath.core.plugins.module_utils.transports.push import PushError, finish, push

ARTIFACT = {("cisco_iosxe", "netmiko"): "config.cfg", ("cisco_iosxe", "netconf"): "netconf.xml",
            ("cisco_iosxe", "napalm"): "config.cfg", ("junos", "netconf"): "netconf.xml",
            ("junos", "napalm", "merge"): "config.set", ("junos", "napalm", "replace"): "netconf.xml"}


def _artifact(p: dict) -> str | None:
    if p["intended"]:
        return p["intended"]
    if not p["artifact_dir"]:
        return None
    transport = p["transport"] or DEFAULT_TRANSPORT[p["platform"]]
    name = ARTIFACT.get((p["platform"], transport, p["mode"])) or ARTIFACT.get((p["platform"], transport))
    return os.path.join(p["artifact_dir"], name) if name else None


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "action": {"type": "str", "choices": ["push", "confirm", "rollback"], "default": "push"},
            "platform": {"type": "str", "required": True, "choices": ["cisco_iosxe", "junos"]},
            "transport": {"type": "str", "choices": ["netmiko", "netconf", "napalm"]},
            "host": {"type": "str", "required": True},
            "port": {"type": "int"},
            "username": {"type": "str", "required": True},
            "password": {"type": "str", "no_log": True},
            "key_file": {"type": "path", "no_log": False},
            "enable_secret": {"type": "str", "no_log": True},
            "timeout": {"type": "int", "default": 20},
            "command_timeout": {"type": "int", "default": 15},
            "intended": {"type": "path"},
            "artifact_dir": {"type": "path"},
            "mode": {"type": "str", "choices": ["merge", "replace"], "default": "merge"},
            "confirm_timeout": {"type": "int", "default": 120},
            "token": {"type": "str", "no_log": False},
            "owner": {"type": "str", "default": "stowpath"},
            "state_dir": {"type": "path", "default": "~/.cache/stowpath/push"},
            "lock_wait": {"type": "int", "default": 30},
            "device_type": {"type": "str", "default": "cisco_ios"},
            "napalm_driver": {"type": "str"},
            "napalm_optional_args": {"type": "dict"},
            "hostkey_verify": {"type": "bool", "default": False},
            "secrets": {"type": "list", "elements": "str", "no_log": True},
        },
        required_if=[("action", "confirm", ("token",), True), ("action", "rollback", ("token",), True)],
        supports_check_mode=True,
    )
    p = module.params
    transport = p["transport"] or DEFAULT_TRANSPORT[p["platform"]]
    port = p["port"] or (830 if transport == "netconf" or (transport, p["platform"]) == ("napalm", "junos") else 22)
    conn = ConnParams(
        host=p["host"], port=port, username=p["username"], password=p["password"], key_file=p["key_file"],
        enable_secret=p["enable_secret"], timeout=p["timeout"],
        options={"device_type": p["device_type"], "cli_read_timeout": p["command_timeout"], "napalm_driver": p["napalm_driver"],
                 "optional_args": p["napalm_optional_args"] or {}, "hostkey_verify": p["hostkey_verify"]},
    )
    common = {"state_dir": p["state_dir"], "owner": p["owner"], "check_mode": module.check_mode,
              "secrets": p["secrets"] or [], "lock_wait": float(p["lock_wait"])}
    try:
        if p["action"] == "push":
            intended = _artifact(p)
            if not intended:
                module.fail_json(msg="give intended (artifact path) or artifact_dir (build/<host>)")
            result = push(p["platform"], transport, conn, intended, mode=p["mode"],
                          confirm_timeout=p["confirm_timeout"], **common)
        else:
            result = finish(p["action"], p["platform"], transport, conn, p["token"], **common)
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
