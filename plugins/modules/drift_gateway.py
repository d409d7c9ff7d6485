#!/usr/bin/python
"""Documentation of stowpath.core.drift_gateway (the work is done by its action plugin on the controller)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: drift_gateway
short_description: Render, read and compare one gateway for the drift check, in one task
description:
  - Runs on the controller (action plugin); the task host is the gateway. Read-only on the device.
  - Renders the intended configuration in-process with the site_render code into O(build_dir)C(/<host>/) (as
    M(stowpath.core.site_render) does; vault-encrypted vendor files are decrypted in memory).
  - A Linux gateway (platform that runs on the device) - reads everything the check needs in ONE command over the host's connection (the owned
    files, C(swanctl --list-conns/--list-sas), FRR's running config and BGP state, C(nft list ruleset), the
    intended C(inet stowpath) table listed by nft in a scratch network namespace, the push's state file) and
    compares on the controller exactly as M(stowpath.core.drift_linux) does; C(frr-reload.py --test) runs in a
    second command only when stowpath's FRR sections differ from the intended ones.
  - A router (platform reached from the controller) - the M(stowpath.core.drift_vendor) code, in-process, through the platform's
    transport, with the connection options of the action group C(stowpath.core.device) (its module_defaults).
  - Returns the gateway's entry for M(stowpath.core.drift_report) (C(entry)), its verdict, and what site_render
    returns (C(site), C(artifacts)) for a remediation. Everything returned is masked.
version_added: "0.3.0"
author: stowpath developers
extends_documentation_fragment: [stowpath.core.drift]
options:
  build_dir:
    description: Render root; the host's artifacts go to C(<build_dir>/<inventory_hostname>/).
    type: path
    required: true
  templates_dir:
    description: The templates root (one folder per platform).
    type: path
    required: true
  paths:
    description: Linux gateway paths stowpath owns (keys swanctl, frr, nft, nft_main).
    type: dict
  state_dir:
    description: Linux gateway push state directory on the device.
    type: str
    default: /var/lib/stowpath
  client_cert:
    description: PEM client certificate on the controller whose expiry the report checks ("" none).
    type: str
    default: ""
  push_state_dir:
    description: Routers' push state directory on the controller ("" the module default).
    type: str
    default: ""
  device_key:
    description: A router's key in O(push_state_dir) (lock, journal), as gateway_push; default the inventory_hostname.
    type: str
  lock_wait:
    description: Seconds to wait for a push holding a router's lock.
    type: int
    default: 30
  round:
    description: Check round (1, or 2 after a remediation); the report writes backups of this round.
    type: int
    default: 1
  remediation:
    description: What a remediation did (C(attempted), C(ok), C(message)), carried into the entry.
    type: dict
notes:
  - Read-only on the device; writes the render directory on the controller in check mode too.
"""

EXAMPLES = r"""
- name: Render, back up and compare (read-only)
  stowpath.core.drift_gateway:
    build_dir: "{{ playbook_dir | dirname }}/build"
    templates_dir: "{{ playbook_dir | dirname }}/templates"
  register: drift
"""

RETURN = r"""
entry:
  description: The gateway's entry for the fleet report - host, site_name, platform, result (status, summary,
    items, ignored, checks, backup, errors, facts), client_cert, remediation, round.
  returned: success
  type: dict
status:
  description: C(in_sync), C(drifted) or C(unreachable).
  returned: success
  type: str
site:
  description: The masked site model (as site_render returns it).
  returned: success
  type: dict
artifacts:
  description: Artifact name -> path of the rendered file.
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule


def main() -> None:
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    module.fail_json(msg="stowpath.core.drift_gateway runs on the controller (its action plugin); it is not a remote module")


if __name__ == "__main__":
    main()
