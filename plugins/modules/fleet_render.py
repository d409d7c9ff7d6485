#!/usr/bin/python
"""Documentation of stowpath.core.fleet_render (the work is done by its action plugin on the controller)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_render
short_description: Validate and render every gateway of the play in one controller task
description:
  - Runs on the controller only (action plugin). With C(run_once), reads the site variables of every gateway host
    of the play (hosts that define C(gateway_platform)), validates each with the vendor file and renders it into
    O(build_dir)C(/<host>/) exactly as M(stowpath.core.site_render) does (same validation, templates, modes,
    masked C(site.json)); a host with invalid input gets nothing written and does not hold the others back.
  - Called per host with O(report) it reports the host's own outcome (kept in a small file per host under
    O(build_dir) by the fleet run), so the play recap, errors and C(--diff) stay per host.
  - Honours check mode and C(--diff); diffs and results never show secrets; vault-encrypted vendor files are
    decrypted in memory.
version_added: "0.2.0"
author: stowpath developers
options:
  hosts:
    description: Inventory hosts to render (default every host of the play; hosts without C(gateway_platform) are skipped).
    type: list
    elements: str
  build_dir:
    description: Where C(<host>/) directories go (required to render).
    type: path
  templates_dir:
    description: The templates root holding one folder per platform (required to render).
    type: path
  site_variables:
    description: The host variables that make up a site (default the contract in README "Site variables").
    type: list
    elements: str
  report:
    description:
      - Report the task host's own outcome of the last fleet render into O(build_dir) (changed, failed with every
        problem named, warnings, masked diff) instead of rendering.
    type: bool
    default: false
notes:
  - Supports check mode and diff.
"""

EXAMPLES = r"""
- name: Render every gateway of the inventory
  stowpath.core.fleet_render:
    build_dir: "{{ playbook_dir | dirname }}/build"
    templates_dir: "{{ playbook_dir | dirname }}/templates"
  run_once: true
  register: fleet

- name: Each gateway's outcome
  stowpath.core.fleet_render:
    build_dir: "{{ playbook_dir | dirname }}/build"
    report: true
"""

RETURN = r"""
rendered:
  description: Number of gateways rendered.
  returned: when rendering
  type: int
invalid:
  description: Hosts whose input was invalid (nothing written for them).
  returned: when rendering
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule


def main() -> None:
    module = AnsibleModule(argument_spec={"hosts": {"type": "list", "elements": "str"}, "build_dir": {"type": "path"},
                                          "templates_dir": {"type": "path"},
                                          "site_variables": {"type": "list", "elements": "str"},
                                          "report": {"type": "bool", "default": False}}, supports_check_mode=True)
    module.fail_json(msg="stowpath.core.fleet_render runs on the controller (its action plugin); it is not a remote module")


if __name__ == "__main__":
    main()
