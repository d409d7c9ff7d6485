#!/usr/bin/python
"""Validate a gateway host and its vendor file; return the masked site model."""

from __future__ import annotations

DOCUMENTATION = r"""
module: site_model
short_description: Validate a facility gateway and its cloud parameter file, return the site model
description:
  - Reads the file the cloud vendor handed over (AWS VPN XML, AWS Direct Connect JSON or stowpath's
    manual YAML), validates it together with the host's site variables and returns the normalised
    site model with every secret masked.
  - With C(cloud_params_source=api) the parameters are fetched instead (AWS through boto3, Azure through
    C(az), GCP through C(gcloud)); the answer, shared keys masked, is returned in C(site.params_fetched).
  - The DICOMweb authentication (C(dicomweb_auth) and the variables each mode needs) is checked too; the
    result, names only, is C(site.dicomweb_auth) when any credential is configured.
  - Changes nothing; the same validation runs inside M(stowpath.core.site_render).
version_added: "0.1.0"
author: stowpath developers
extends_documentation_fragment: [stowpath.core.site]
"""

EXAMPLES = r"""
- name: Validate the site
  stowpath.core.site_model:
    site: "{{ stowpath_site_vars }}"
    hostname: "{{ inventory_hostname }}"
    inventory_dir: "{{ inventory_dir }}"
  delegate_to: localhost
  register: stowpath_model
"""

RETURN = r"""
site:
  description: The validated site model, secrets replaced by C(********) (shape in docs/ARCHITECTURE.md).
  returned: success
  type: dict
errors:
  description: Every problem found, each with source (host or file), field, problem and fix.
  returned: failure
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stowpath.core.plugins.module_utils.ansible_site import SITE_ARGS, load_or_fail
from ansible_collections.stowpath.core.plugins.module_utils.site import masked


def main() -> None:
    module = AnsibleModule(argument_spec=SITE_ARGS, supports_check_mode=True)
    site = load_or_fail(module)
    for warning in site["warnings"]:
        module.warn(warning)
    module.exit_json(changed=False, site=masked(site))


if __name__ == "__main__":
    main()
