#!/usr/bin/python
"""Back up a vendor router and find drift in stowpath's sections; or remediate it (commit-confirmed)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: drift_vendor
short_description: Back up a router, find drift in stowpath's sections (read-only)
description:
  - Runs on the controller (delegate it to localhost) and talks to the router through the same transports as
    M(stowpath.core.gateway_push) (netmiko CLI, NETCONF, NAPALM), chosen from the platform spec.
  - Reads the running configuration (returned masked as a backup) and computes the push's own check-mode change
    in merge mode against what stowpath applied last - hier_config's scoped remediation for the CLI, the
    device's candidate diff for NETCONF. Only stowpath's sections are compared; the exact diff and the
    remediation commands come back per section, secrets masked. Nothing is changed.
  - Remediation is the onboarding change flow (role C(gateway_push) with C(gateway_push_restore_drift)).
version_added: "0.1.0"
author: stowpath developers
extends_documentation_fragment: [stowpath.core.device]
options:
  artifact_dir:
    description: The host's render directory (C(build/<host>)).
    type: path
    required: true
  owner:
    description: Who owns the pushed sections (the site name).
    type: str
    default: stowpath
  state_dir:
    description:
      - The push state directory of M(stowpath.core.gateway_push) (lock, journal, last applied); default
        C(/var/lib/stowpath/controller) as root, else C(~/.local/state/stowpath).
    type: path
  device_key:
    description: The device's key in O(state_dir) (its C(inventory_hostname)), as gateway_push; default host_port.
    type: str
  lock_wait:
    description: Seconds to wait for a push holding the device's lock.
    type: int
    default: 30
notes:
  - Read-only; runs the same in check mode.
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
  description: C(in_sync), C(drifted) or C(unreachable).
  returned: always
  type: str
summary:
  description: One line saying what drifted.
  returned: always
  type: str
items:
  description: Drifted sections - id, area, kind, object, title, diff (masked), commands (masked), changes, how.
  returned: always
  type: list
  elements: dict
backup:
  description: File name -> masked running configuration.
  returned: always
  type: dict
checks:
  description: Runtime checks (none for vendor routers yet).
  returned: always
  type: list
  elements: dict
errors:
  description: Problems while reading the device.
  returned: always
  type: list
  elements: str
facts:
  description: Transport, notes, whether stowpath applied a configuration before, a pending push.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stowpath.core.plugins.module_utils.drift.model import summary, verdict
from ansible_collections.stowpath.core.plugins.module_utils.drift.vendor import artifact_path, collect
from ansible_collections.stowpath.core.plugins.module_utils.transports.ansible_args import DEVICE_ARGS, connection
from ansible_collections.stowpath.core.plugins.module_utils.transports.errors import TransportError


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **DEVICE_ARGS,
            "artifact_dir": {"type": "path", "required": True},
            "owner": {"type": "str", "default": "stowpath"},
            "state_dir": {"type": "path"},
            "device_key": {"type": "str"},
            "lock_wait": {"type": "int", "default": 30},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        spec, transport, conn = connection(p)
        intended = artifact_path(spec.name, transport, p["artifact_dir"])
    except (ValueError, TransportError) as exc:
        module.fail_json(msg=str(exc))
    try:
        result = collect(spec.name, transport, conn, intended, state_dir=p["state_dir"], owner=p["owner"],
                         secrets=p["secrets"] or [], key=p["device_key"], lock_wait=float(p["lock_wait"]))
    except OSError as exc:
        module.fail_json(msg=f"cannot read {intended}: {exc} (render the site first)")
    result.update(status=verdict(result), summary=summary(result))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
