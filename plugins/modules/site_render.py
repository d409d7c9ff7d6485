#!/usr/bin/python
"""Validate a gateway host and render its platform configuration into the build directory."""

from __future__ import annotations

DOCUMENTATION = r"""
module: site_render
short_description: Validate a facility gateway and render its vendor-specific configuration
description:
  - Validates the host's site variables and the cloud vendor's parameter file (like
    M(stowpath.core.site_model)), then renders every template of C(templates/<gateway_platform>/)
    into O(dest), one file per artifact, mode 0600, plus C(site.json) (the masked site model).
  - Nothing is written when the input is invalid. No device is contacted.
  - Honours check mode and C(--diff); diffs never show secrets.
version_added: "0.1.0"
author: stowpath developers
extends_documentation_fragment: [stowpath.core.site]
options:
  templates_dir:
    description: The templates root holding one folder per platform.
    type: path
    required: true
  dest:
    description: Output directory for this host's artifacts (created mode 0700).
    type: path
    required: true
"""

EXAMPLES = r"""
- name: Render the gateway configuration
  stowpath.core.site_render:
    site: "{{ stowpath_site_vars }}"
    hostname: "{{ inventory_hostname }}"
    inventory_dir: "{{ inventory_dir }}"
    templates_dir: "{{ playbook_dir }}/../templates"
    dest: "{{ playbook_dir }}/../build/{{ inventory_hostname }}"
  delegate_to: localhost
"""

RETURN = r"""
site:
  description: The validated site model with secrets masked.
  returned: success
  type: dict
artifacts:
  description: Artifact name -> path of the rendered file.
  returned: success
  type: dict
changed_artifacts:
  description: Artifacts that were (or in check mode would be) written or removed.
  returned: success
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stowpath.core.plugins.module_utils.ansible_site import (
    RENDER_ARGS,
    invalid_input,
    render_result,
)
from ansible_collections.stowpath.core.plugins.module_utils.errors import SiteError, SiteErrors


def main() -> None:
    module = AnsibleModule(argument_spec=RENDER_ARGS, supports_check_mode=True)
    try:
        out = render_result(module.params, module.check_mode, module._diff)
    except (SiteError, SiteErrors) as exc:
        failure = invalid_input(module.params["hostname"], exc)
        module.fail_json(msg=failure["msg"], errors=failure["errors"])
    for warning in out.pop("warnings"):
        module.warn(warning)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
