#!/usr/bin/python
"""Validate and install the DICOMweb TLS material (CA bundle, client certificate, client key)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: tls_material
short_description: Validate and install the CA bundle and the mTLS client certificate and key
description:
  - Checks the material before anything is installed, the way the onboarding guide's "TLS Setup"
    needs it. The certificate and the key match, the client certificate chains to the CA bundle,
    nothing is expired, and a warning when a certificate expires within O(cert_expiry_warn_days).
  - Installs each given item at its destination path (key mode 0600), idempotently, with check
    mode and C(--diff). Diffs show certificate subjects, expiry and fingerprints, never key material.
  - Material comes from files on the managed host (C(*_src)) or from variables (C(*_content),
    for example from Ansible Vault). The key content and password are C(no_log).
  - Without destination paths the module only validates.
  - Needs the Python C(cryptography) library on the managed host.
version_added: "0.1.0"
author: stowpath developers
options:
  ca_bundle_src:
    description: Path of the PEM CA bundle on the managed host.
    type: path
  ca_bundle_content:
    description: PEM CA bundle as text (mutually exclusive with O(ca_bundle_src)).
    type: str
  client_cert_src:
    description: Path of the PEM client certificate (leaf, optionally followed by intermediates).
    type: path
  client_cert_content:
    description: PEM client certificate as text.
    type: str
  client_key_src:
    description: Path of the PEM private key of the client certificate.
    type: path
  client_key_content:
    description: PEM private key as text (Vault). Never logged.
    type: str
  client_key_password:
    description: Password of an encrypted client key. Never logged.
    type: str
  ca_bundle_dest:
    description: Where to install the CA bundle. Omit it to only validate.
    type: path
  client_cert_dest:
    description: Where to install the client certificate.
    type: path
  client_key_dest:
    description: Where to install the client key (always written with O(key_mode)).
    type: path
  owner:
    description: Owner of the installed files (default the connecting user).
    type: str
  group:
    description: Group of the installed files.
    type: str
  cert_mode:
    description: Mode of the installed CA bundle and certificate.
    type: str
    default: "0644"
  key_mode:
    description: Mode of the installed key. Group- or world-readable modes are refused.
    type: str
    default: "0600"
  cert_expiry_warn_days:
    description: Warn when a certificate expires within this many days.
    type: int
    default: 30
  require_client_chain:
    description:
      - Fail when the client certificate does not chain to the CA bundle. Set false when the
        vendor's client CA differs from the CA that issued the server certificate (then it warns).
    type: bool
    default: true
  fail_on_error:
    description: Fail the task when a check fails (the result still carries C(checks)).
    type: bool
    default: true
notes:
  - Supports check mode and diff mode.
"""

EXAMPLES = r"""
- name: Validate and install the vendor's TLS material from Vault
  stowpath.core.tls_material:
    ca_bundle_content: "{{ vault_dicomweb_ca_bundle }}"
    client_cert_content: "{{ vault_dicomweb_client_cert }}"
    client_key_content: "{{ vault_dicomweb_client_key }}"
    ca_bundle_dest: /etc/stowpath/tls/ca-bundle.pem
    client_cert_dest: /etc/stowpath/tls/client.crt
    client_key_dest: /etc/stowpath/tls/client.key
    owner: orthanc
    cert_expiry_warn_days: 30

- name: Only validate files already on the host
  stowpath.core.tls_material:
    ca_bundle_src: /etc/stowpath/tls/ca-bundle.pem
    client_cert_src: /etc/stowpath/tls/client.crt
    client_key_src: /etc/stowpath/tls/client.key
"""

RETURN = r"""
checks:
  description: One check per validation (C(tls.material.*)), see docs/ARCHITECTURE.md.
  returned: always
  type: list
  elements: dict
facts:
  description: Certificate facts (subjects, issuers, expiry, days left, fingerprints); no key material.
  returned: always
  type: dict
files:
  description: Destination path -> whether it was (or would be) changed.
  returned: always
  type: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stowpath.core.plugins.module_utils.checks import failed, summary_message
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb import ansible_args
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.tls import (
    CRYPTOGRAPHY_IMPORT_ERROR,
    HAS_CRYPTOGRAPHY,
    describe_pem,
    normalise_pem,
    validate_material,
)
from ansible_collections.stowpath.core.plugins.module_utils.fileutil import read_bytes, write_atomic

ITEMS = (("ca_bundle", "cert"), ("client_cert", "cert"), ("client_key", "key"))
# <item>_src, <item>_content, <item>_dest for every item; only the key's content is secret
ITEM_ARGS = {
    f"{name}_{part}": {"type": value_type, "no_log": kind == "key" and part == "content"}
    for name, kind in ITEMS
    for part, value_type in (("src", "path"), ("content", "str"), ("dest", "path"))
}


def _read_source(module: AnsibleModule, name: str) -> bytes | None:
    src, content = module.params[f"{name}_src"], module.params[f"{name}_content"]
    if content is not None:
        return normalise_pem(content)
    if src is None:
        return None
    try:
        with open(src, "rb") as fh:
            return normalise_pem(fh.read())
    except OSError as exc:
        module.fail_json(msg=f"cannot read {name}_src {src}: {exc.strerror}")
    return None


def _current(path: str) -> bytes | None:
    return read_bytes(path, unreadable_as_absent=True)


def _install(module: AnsibleModule, data: bytes, dest: str, mode: str) -> bool:
    changed = _current(dest) != data
    if changed and not module.check_mode:
        write_atomic(dest, data, int(mode, 8))  # same directory: atomic, and the key is never readable by others
    if os.path.exists(dest):
        changed = module.set_mode_if_different(dest, mode, changed)
        if module.params["owner"]:
            changed = module.set_owner_if_different(dest, module.params["owner"], changed)
        if module.params["group"]:
            changed = module.set_group_if_different(dest, module.params["group"], changed)
    return changed


def main() -> None:
    spec = {
        **ITEM_ARGS,
        "client_key_password": ansible_args.CLIENT_TLS_ARGS["client_key_password"],
        "owner": {"type": "str"},
        "group": {"type": "str"},
        "cert_mode": {"type": "str", "default": "0644"},
        "key_mode": {"type": "str", "default": "0600", "no_log": False},
        "cert_expiry_warn_days": {"type": "int", "default": 30},
        "require_client_chain": {"type": "bool", "default": True},
        "fail_on_error": {"type": "bool", "default": True},
    }
    module = AnsibleModule(
        argument_spec=spec,
        supports_check_mode=True,
        mutually_exclusive=[(f"{n}_src", f"{n}_content") for n, _ in ITEMS],
    )
    ansible_args.require_lib(module, "cryptography", HAS_CRYPTOGRAPHY, CRYPTOGRAPHY_IMPORT_ERROR)
    p = module.params
    for mode_name in ("cert_mode", "key_mode"):
        try:
            int(p[mode_name], 8)
        except ValueError:
            module.fail_json(msg=f"{mode_name} must be an octal mode like 0600, not {p[mode_name]!r}")
    if int(p["key_mode"], 8) & 0o077:
        module.fail_json(msg=f"key_mode {p['key_mode']} lets group/others read the private key: use 0600 or 0400")

    material = {name: _read_source(module, name) for name, _ in ITEMS}
    if all(v is None for v in material.values()):
        module.fail_json(msg="give at least one of ca_bundle, client_cert, client_key (as *_src or *_content)")
    for name, _ in ITEMS:
        if p[f"{name}_dest"] and material[name] is None:
            module.fail_json(msg=f"{name}_dest is set but neither {name}_src nor {name}_content")

    checks, facts = validate_material(
        material["ca_bundle"], material["client_cert"], material["client_key"], p["client_key_password"],
        p["cert_expiry_warn_days"], require_client_chain=p["require_client_chain"],
    )
    result: dict = {"changed": False, "checks": checks, "facts": facts, "files": {}}
    bad = failed(checks)
    ansible_args.warn_checks(module, checks)
    if bad:
        msg = "TLS material not installed: " + summary_message(checks)
        if p["fail_on_error"]:
            module.fail_json(msg=msg, **result)
        result["msg"] = msg
        module.exit_json(**result)

    diffs = []
    for name, kind in ITEMS:
        dest, data = p[f"{name}_dest"], material[name]
        if not dest or data is None:
            continue
        before = _current(dest)
        mode = p["key_mode"] if kind == "key" else p["cert_mode"]
        changed = _install(module, data, dest, mode)
        result["files"][dest] = changed
        result["changed"] |= changed
        if changed and before != data:
            diffs.append({"before_header": dest, "after_header": dest,
                          "before": describe_pem(before, kind), "after": describe_pem(data, kind)})
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
