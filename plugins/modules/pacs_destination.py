#!/usr/bin/python
"""Configure the PACS's DICOMweb STOW-RS destination (guide section 5)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: pacs_destination
short_description: Configure a PACS's DICOMweb STOW-RS destination to the cloud, idempotently
description:
  - Creates or updates the PACS's STOW-RS destination (label, URL, mTLS client certificate/key or
    Basic auth, timeout), checks the CA the PACS verifies the cloud with, and optionally proves the
    destination survives a PACS restart (guide section 5).
  - O(pacs_product=orthanc) drives Orthanc's REST API (C(/dicom-web/servers/{name})). Orthanc never
    reads back passwords, the key path or header values, so a salted fingerprint of them is stored
    beside the destination (key C(StowpathFingerprint)) to stay idempotent without reading secrets.
  - O(pacs_product=manual) changes nothing and returns the exact settings as a checklist for a
    person to enter in a PACS without an API (also shown in the onboarding report).
  - A timeout below O(min_timeout) is refused. Check mode and C(--diff) are supported; diffs and
    results never contain secret values.
  - Returns C(checks) in the shape of C(plugins/module_utils/checks.py) for the report.
version_added: "0.1.0"
author: stowpath developers
options:
  orthanc_config:
    description:
      - Orthanc's configuration file or directory on the host this task runs on (the PACS host).
      - Needed to check (and with O(manage_ca) set) C(HttpsCACertificates)/C(HttpsVerifyPeers) and to
        know whether C(DicomWeb.ServersInDatabase) keeps runtime destinations across restarts.
    type: path
  manage_ca:
    description:
      - When the PACS does not verify the cloud with O(ca_file), edit C(HttpsCACertificates) (set to
        O(ca_file)) and C(HttpsVerifyPeers) (true) in the file of O(orthanc_config) that defines
        them, keeping comments, then restart Orthanc through its API so they take effect.
      - O(ca_file) replaces Orthanc's trust store for every HTTPS peer; make it a bundle that also
        holds any other CA the PACS needs.
    type: bool
    default: false
  label:
    description: Human-readable destination label (guide - C(Cloud STOW-RS)).
    type: str
    default: Cloud STOW-RS
  name:
    description: Destination identifier in the PACS's API (default - O(label) lowercased, non-alphanumerics as C(-)).
    type: str
  url:
    description:
      - The cloud STOW-RS URL, C(https://<your-cloud-domain>/dicomweb/studies). The DICOMweb root
        (without C(/studies)) is also accepted; Orthanc is given the root.
    type: str
    required: true
  http_headers:
    description: Extra HTTP headers the PACS sends (values are treated as secrets).
    type: dict
    default: {}
  managed_headers:
    description:
      - Header names another stowpath service keeps current on the destination (the token refresher's
        C(Authorization)); they are neither compared nor reported as drift. A change of the destination drops
        them until that service puts them back (the role restarts the refresher then).
    type: list
    elements: str
    default: []
  ca_file:
    description: The vendor CA bundle path on the PACS host (verifies the cloud's server certificate).
    type: path
  timeout:
    description: Transfer timeout in seconds (guide - 300 or more for large studies).
    type: int
    default: 300
  min_timeout:
    description: The vendor's minimum timeout; a smaller O(timeout) is refused.
    type: int
    default: 300
  verify_restart:
    description:
      - Restart the PACS (Orthanc - C(POST /tools/reset), about one second without service) and
        check the destination is still there afterwards. Skipped in check mode.
    type: bool
    default: false
  state:
    description: Whether the destination should exist.
    type: str
    choices: [present, absent]
    default: present
notes:
  - O(client_cert), O(client_key), O(client_key_password), O(username) and O(password) are what the PACS
    uses to reach the cloud (paths on the PACS host).
extends_documentation_fragment:
  - stowpath.core.dicomweb
  - stowpath.core.dicomweb.pacs_api
"""

EXAMPLES = r"""
- name: Configure the Orthanc PACS destination with mTLS and check the CA
  stowpath.core.pacs_destination:
    api_url: http://127.0.0.1:8042
    api_username: admin
    api_password: "{{ vault_pacs_api_password }}"
    url: https://dicom.vendor.example/dicomweb/studies
    client_cert: /etc/stowpath/tls/client.crt
    client_key: /etc/stowpath/tls/client.key
    ca_file: /etc/stowpath/tls/ca-bundle.pem
    orthanc_config: /etc/orthanc
    manage_ca: true
    verify_restart: true
  register: pacs_dest

- name: Produce the checklist for a PACS without an API
  stowpath.core.pacs_destination:
    pacs_product: manual
    url: https://dicom.vendor.example/dicomweb/studies
    username: facility-17
    password: "{{ vault_stow_password }}"
    ca_file: /etc/pacs/ca-bundle.pem
  register: pacs_dest
"""

RETURN = r"""
destination:
  description: The desired destination with secrets masked (name, label, url, base_url, auth, timeout, paths).
  returned: always
  type: dict
before:
  description: The PACS's view of the destination before the task (masked), null if absent.
  returned: when the product has an API
  type: dict
after:
  description: The PACS's view read back after writing (masked).
  returned: when the product has an API and not in check mode with changes
  type: dict
changes:
  description: Names of the fields that differed.
  returned: when the product has an API and state is present
  type: list
  elements: str
ca:
  description: Whether the PACS verifies the cloud with O(ca_file) (status, detail, cause, action).
  returned: when the product has an API and state is present
  type: dict
restart:
  description: Restart-survival result (restarted, survived, duration_s, detail).
  returned: when verify_restart ran
  type: dict
checklist:
  description: The settings to enter by hand (setting, value, note), for O(pacs_product=manual).
  returned: when pacs_product is manual
  type: list
  elements: dict
checklist_text:
  description: The same checklist as text.
  returned: when pacs_product is manual
  type: str
checks:
  description: Check results for the report (id, group, title, status, duration_s, detail, cause, action).
  returned: always
  type: list
  elements: dict
"""

import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stowpath.core.plugins.module_utils.checks import summary_message
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb import ansible_args
from ansible_collections.stowpath.core.plugins.module_utils.pacs.base import DestinationSpec, PacsError, SpecError
from ansible_collections.stowpath.core.plugins.module_utils.pacs.checklist import ManualDriver
from ansible_collections.stowpath.core.plugins.module_utils.pacs.destination import ensure_destination, refused
from ansible_collections.stowpath.core.plugins.module_utils.pacs.orthanc import OrthancApi, OrthancDriver

ARGS = {
    **ansible_args.PACS_API_ARGS,
    "orthanc_config": {"type": "path"},
    "manage_ca": {"type": "bool", "default": False},
    "label": {"type": "str", "default": "Cloud STOW-RS"},
    "name": {"type": "str"},
    "url": {"type": "str", "required": True},
    **ansible_args.CLIENT_TLS_ARGS,
    **ansible_args.BASIC_AUTH_ARGS,
    "http_headers": {"type": "dict", "default": {}, "no_log": True},
    "managed_headers": {"type": "list", "elements": "str", "default": []},
    "ca_file": {"type": "path"},
    "timeout": {"type": "int", "default": 300},
    "min_timeout": {"type": "int", "default": 300},
    "verify_restart": {"type": "bool", "default": False},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
}


def default_name(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "cloud-stow-rs"


def main() -> None:
    module = AnsibleModule(argument_spec=ARGS, supports_check_mode=True,
                           required_if=ansible_args.PACS_API_REQUIRED_IF)
    p = module.params
    spec = DestinationSpec(
        name=p["name"] or default_name(p["label"]), url=p["url"], label=p["label"], timeout=p["timeout"],
        client_cert=p["client_cert"], client_key=p["client_key"], client_key_password=p["client_key_password"],
        username=p["username"], password=p["password"], ca_file=p["ca_file"],
        http_headers={str(k): str(v) for k, v in (p["http_headers"] or {}).items()},
        managed_headers=tuple(p["managed_headers"]))
    if p["pacs_product"] == "manual":
        driver = ManualDriver()
    else:
        api = OrthancApi(p["api_url"], p["api_username"], p["api_password"], p["api_timeout"])
        driver = OrthancDriver(api, p["orthanc_config"])
    try:
        result = ensure_destination(driver, spec, state=p["state"], check_mode=module.check_mode,
                                    min_timeout=p["min_timeout"], verify_restart=p["verify_restart"],
                                    manage_ca=p["manage_ca"])
    except SpecError as exc:
        module.fail_json(msg=f"refused: {exc}", checks=[refused(spec.name, str(exc))], destination=spec.masked())
    except PacsError as exc:
        module.fail_json(msg=ansible_args.pacs_error_message(exc), destination=spec.masked(), detail=exc.detail)
    for warning in result.pop("warnings"):
        module.warn(warning)
    diff = result.pop("diff")
    if module._diff and diff:
        result["diff"] = diff
    failed = summary_message(result["checks"])
    if failed:
        result["msg"] = failed
    module.exit_json(**result)


if __name__ == "__main__":
    main()
