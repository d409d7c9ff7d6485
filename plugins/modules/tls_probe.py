#!/usr/bin/python
"""TLS / mTLS probe of the cloud DICOMweb endpoint: handshake facts plus a real HTTP request."""

from __future__ import annotations

DOCUMENTATION = r"""
module: tls_probe
short_description: Prove TLS and mTLS to the DICOMweb endpoint and classify any failure
description:
  - Connects to the host and port of O(url) (or O(connect_address)), performs the TLS handshake
    trusting only O(ca_bundle) (never the environment's C(REQUESTS_CA_BUNDLE), C(CURL_CA_BUNDLE)
    or C(SSL_CERT_FILE)) with the client certificate, and reports protocol, cipher, the peer
    chain, days to expiry and the hostname match.
  - Then sends a real request (QIDO-RS C(GET <url>?limit=1)), because a completed handshake does
    not prove mTLS (nginx completes it without a client certificate and answers HTTP 400).
  - Failures are classified for the admin, each class with a cause and an action in
    C(checks). The classes are expired certificate, unknown CA, hostname mismatch, client certificate missing or
    rejected, Basic auth rejected, connection refused, timeout, wrong path (404), service error (5xx).
  - Read-only; runs in check mode too.
version_added: "0.1.0"
author: stowpath developers
options:
  url:
    description: The vendor's STOW-RS URL, C(https://host[:port]/dicomweb/studies).
    type: str
    required: true
  ca_bundle:
    description: PEM CA bundle that must verify the server certificate (the only trust anchor used).
    type: path
    required: true
  client_cert:
    description: PEM client certificate for mTLS.
    type: path
  client_key:
    description: PEM private key of O(client_cert) (may be encrypted, see O(client_key_password)).
    type: path
  client_key_password:
    description: Password of an encrypted client key. Never logged.
    type: str
  username:
    description: Basic-auth user, when the service also wants Basic auth.
    type: str
  password:
    description: Basic-auth password. Never logged.
    type: str
  connect_address:
    description:
      - Connect to this address instead of resolving the URL's host (like C(curl --resolve)); SNI and
        certificate verification still use the URL's host name.
    type: str
  timeout:
    description: Seconds for connect, handshake and each read.
    type: float
    default: 30
  cert_expiry_warn_days:
    description: Warn when a certificate expires within this many days.
    type: int
    default: 30
  fail_on_error:
    description: Fail the task when a check fails (the result still carries C(checks)).
    type: bool
    default: true
notes:
  - Supports check mode (the probe only reads).
"""

EXAMPLES = r"""
- name: Prove mTLS to the cloud DICOMweb service
  stowpath.core.tls_probe:
    url: https://dicom.vendor.example/dicomweb/studies
    ca_bundle: /etc/stowpath/tls/ca-bundle.pem
    client_cert: /etc/stowpath/tls/client.crt
    client_key: /etc/stowpath/tls/client.key
    client_key_password: "{{ vault_client_key_password | default(omit) }}"
  register: tls_result
"""

RETURN = r"""
checks:
  description: C(tls.client_material), C(tls.connect), C(tls.handshake), C(tls.server_certificate),
    C(tls.hostname), C(tls.request), each with status, duration, detail, cause and action.
  returned: always
  type: list
  elements: dict
tls:
  description: Protocol, cipher, peer chain subjects, server and client certificate facts, days to expiry.
  returned: always
  type: dict
failure:
  description: The first failure's class (C(code)), cause and action; null when everything passed.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.stowpath.core.plugins.module_utils.checks import summary_message
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.ansible_args import (
    CONNECTION_ARGS,
    target_from_params,
)
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.probes import run_tls_probe
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.tls import (
    CRYPTOGRAPHY_IMPORT_ERROR,
    HAS_CRYPTOGRAPHY,
)
from ansible_collections.stowpath.core.plugins.module_utils.redact import mask_structure


def main() -> None:
    spec = dict(CONNECTION_ARGS, cert_expiry_warn_days={"type": "int", "default": 30})
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True,
                           required_together=[("username", "password")])
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=str(CRYPTOGRAPHY_IMPORT_ERROR))
    try:
        target = target_from_params(module.params)
        target.endpoint  # noqa: B018 - validates the URL early
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    result = run_tls_probe(target, module.params["cert_expiry_warn_days"])
    result = mask_structure(result, target.secrets)
    result["changed"] = False
    for c in result["checks"]:
        if c["status"] == "warn":
            module.warn(f"{c['id']}: {c['cause']}")
    if result["failure"] and module.params["fail_on_error"]:
        module.fail_json(msg="TLS probe failed:\n" + summary_message(result["checks"]), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
