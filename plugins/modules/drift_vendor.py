#!/usr/bin/python
"""Back up a vendor router and find drift in stowpath's sections; or remediate it (commit-confirmed)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: drift_vendor
short_description: Back up a Cisco IOS-XE / Junos router, find drift in stowpath's sections, remediate it
description:
  - Runs on the controller (delegate it to localhost) and talks to the router through the same transports as
    M(stowpath.core.gateway_push) (netmiko CLI, NETCONF, NAPALM).
  - C(action=check) reads the running configuration (returned masked as a backup) and computes the push's own
    check-mode change in merge mode against what stowpath applied last - hier_config's scoped remediation for the
    CLI, the device's candidate diff for NETCONF. Only stowpath's sections are compared; the exact diff and the
    remediation commands come back per section, secrets masked. Nothing is changed.
  - C(action=remediate) runs the same commit-confirmed push transaction as M(stowpath.core.gateway_push) (lock,
    journal, token for confirm/rollback), except that a section stowpath applied before and that was edited on the
    device is restored instead of being refused as a conflict. Confirm or roll back with the gateway_push role's
    C(confirm) / C(rollback) task files (they take C(gateway_push_result.token)).
version_added: "0.1.0"
author: stowpath developers
options:
  action:
    description: C(check) (read-only) or C(remediate).
    type: str
    choices: [check, remediate]
    default: check
  platform:
    description: Gateway platform of the host.
    type: str
    required: true
    choices: [cisco_iosxe, junos]
  transport:
    description: C(netmiko), C(netconf) or C(napalm) (default per platform, as M(stowpath.core.gateway_push)).
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
    description: SSH private key file.
    type: path
  enable_secret:
    description: IOS enable secret (netmiko).
    type: str
  timeout:
    description: Connect/read timeout in seconds.
    type: int
    default: 20
  command_timeout:
    description: Seconds to wait for the device's answer to one CLI line (netmiko).
    type: int
    default: 15
  artifact_dir:
    description: The host's render directory (C(build/<host>)).
    type: path
    required: true
  owner:
    description: Who owns the pushed sections (the site name).
    type: str
    default: stowpath
  state_dir:
    description: The push state directory of M(stowpath.core.gateway_push) (lock, journal, last applied).
    type: path
    default: ~/.cache/stowpath/push
  confirm_timeout:
    description: C(remediate) - seconds the change stays unconfirmed before it is rolled back.
    type: int
    default: 120
  lock_wait:
    description: Seconds to wait for another run's lock on the same device.
    type: int
    default: 30
  device_type:
    description: Netmiko device type.
    type: str
    default: cisco_ios
  napalm_driver:
    description: NAPALM driver (default junos for junos, ios for cisco_iosxe).
    type: str
  napalm_optional_args:
    description: NAPALM optional_args.
    type: dict
  hostkey_verify:
    description: Verify the NETCONF SSH host key.
    type: bool
    default: false
  secrets:
    description: Extra values to mask in all output.
    type: list
    elements: str
notes:
  - C(action=check) is read-only and runs the same in check mode; C(action=remediate) in check mode only plans.
"""

EXAMPLES = r"""
- name: Back up and compare (read-only)
  stowpath.core.drift_vendor:
    platform: cisco_iosxe
    transport: netmiko
    host: 127.0.0.1
    port: 8022
    username: stowpath
    password: "{{ gateway_password }}"
    enable_secret: "{{ gateway_enable_secret }}"
    artifact_dir: "build/{{ inventory_hostname }}"
    owner: "{{ site_name }}"
    state_dir: backups/push
  delegate_to: localhost
  register: drift
"""

RETURN = r"""
status:
  description: C(in_sync), C(drifted) or C(unreachable) (action check).
  returned: action=check
  type: str
summary:
  description: One line saying what drifted.
  returned: action=check
  type: str
items:
  description: Drifted sections - id, area, kind, object, title, diff (masked), commands (masked), changes, how.
  returned: action=check
  type: list
  elements: dict
backup:
  description: File name -> masked running configuration.
  returned: action=check
  type: dict
checks:
  description: Runtime checks (none for vendor routers yet).
  returned: action=check
  type: list
  elements: dict
errors:
  description: Problems while reading the device.
  returned: action=check
  type: list
  elements: str
facts:
  description: Transport, notes, whether stowpath applied a configuration before, a pending push.
  returned: action=check
  type: dict
token:
  description: The pending push (action remediate), for the gateway_push role's confirm/rollback task files.
  returned: action=remediate
  type: str
commands:
  description: Commands sent (action remediate), masked.
  returned: action=remediate
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stowpath.core.plugins.module_utils.drift.model import summary, verdict
from ansible_collections.stowpath.core.plugins.module_utils.drift.vendor import (
    artifact_path,
    collect,
    drift_aware_opener,
    previous_for,
)
from ansible_collections.stowpath.core.plugins.module_utils.transports.base import (
    DEFAULT_TRANSPORT,
    ConnParams,
    TransportError,
)
from ansible_collections.stowpath.core.plugins.module_utils.transports.push import PushError, push


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "action": {"type": "str", "choices": ["check", "remediate"], "default": "check"},
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
            "artifact_dir": {"type": "path", "required": True},
            "owner": {"type": "str", "default": "stowpath"},
            "state_dir": {"type": "path", "default": "~/.cache/stowpath/push"},
            "confirm_timeout": {"type": "int", "default": 120},
            "lock_wait": {"type": "int", "default": 30},
            "device_type": {"type": "str", "default": "cisco_ios"},
            "napalm_driver": {"type": "str"},
            "napalm_optional_args": {"type": "dict"},
            "hostkey_verify": {"type": "bool", "default": False},
            "secrets": {"type": "list", "elements": "str", "no_log": True},
        },
        supports_check_mode=True,
    )
    p = module.params
    transport = p["transport"] or DEFAULT_TRANSPORT[p["platform"]]
    port = p["port"] or (830 if transport == "netconf" or (transport, p["platform"]) == ("napalm", "junos") else 22)
    conn = ConnParams(
        host=p["host"], port=port, username=p["username"], password=p["password"], key_file=p["key_file"],
        enable_secret=p["enable_secret"], timeout=p["timeout"],
        options={"device_type": p["device_type"], "cli_read_timeout": p["command_timeout"],
                 "napalm_driver": p["napalm_driver"], "optional_args": p["napalm_optional_args"] or {},
                 "hostkey_verify": p["hostkey_verify"]},
    )
    try:
        intended = artifact_path(p["platform"], transport, p["artifact_dir"])
    except TransportError as exc:
        module.fail_json(msg=exc.message)
    if p["action"] == "check":
        try:
            result = collect(p["platform"], transport, conn, intended, state_dir=p["state_dir"], owner=p["owner"],
                             secrets=p["secrets"] or [])
        except OSError as exc:
            module.fail_json(msg=f"cannot read {intended}: {exc} (render the site first)")
        result.update(status=verdict(result), summary=summary(result))
        module.exit_json(changed=False, **result)
    previous = previous_for(p["state_dir"], conn, p["owner"])
    try:
        result = push(p["platform"], transport, conn, intended, mode="merge", confirm_timeout=p["confirm_timeout"],
                      state_dir=p["state_dir"], owner=p["owner"], check_mode=module.check_mode,
                      secrets=p["secrets"] or [], lock_wait=float(p["lock_wait"]), opener=drift_aware_opener(previous))
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
