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
  - Runs on the controller (delegate to localhost). There its action plugin plans in the controller's own process
    (no new Python process per host), with the same result; on any other connection the module runs as usual.
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

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stowpath.core.plugins.module_utils.inprocess import finish_module
from ansible_collections.stowpath.core.plugins.module_utils.plan.task import PLAN_ARGS, plan_result


def main() -> None:
    finish_module(AnsibleModule(argument_spec=PLAN_ARGS, supports_check_mode=True), plan_result)


if __name__ == "__main__":
    main()
