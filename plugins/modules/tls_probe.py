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
  cert_expiry_warn_days:
    description: Warn when a certificate expires within this many days.
    type: int
    default: 30
notes:
  - Supports check mode (the probe only reads).
  - M(stowpath.core.stow_probe) with C(tls_probe=true) runs this same probe first and uploads only when it
    passed (one task and one Python start instead of two); its C(tls_probe) result is this module's result.
extends_documentation_fragment:
  - stowpath.core.dicomweb
  - stowpath.core.dicomweb.bearer
  - stowpath.core.dicomweb.connection
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
token:
  description: Facts of the bearer token used (source, expiry, audience, scope), never its value.
  returned: with a bearer token
  type: dict
failure:
  description: The first failure's class (C(code)), cause and action; null when everything passed.
  returned: always
  type: dict
"""

from ansible_collections.stowpath.core.plugins.module_utils.dicomweb import ansible_args
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.probes import run_tls_probe
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.tls import (
    CRYPTOGRAPHY_IMPORT_ERROR,
    HAS_CRYPTOGRAPHY,
)


def main() -> None:
    module = ansible_args.probe_module({"cert_expiry_warn_days": {"type": "int", "default": 30}})
    ansible_args.require_lib(module, "cryptography", HAS_CRYPTOGRAPHY, CRYPTOGRAPHY_IMPORT_ERROR)
    target = ansible_args.probe_target(module)
    result = run_tls_probe(target, module.params["cert_expiry_warn_days"])
    ansible_args.exit_probe(module, result, target, "TLS probe", warn=True)


if __name__ == "__main__":
    main()
