"""Option documentation shared by the DICOMweb and PACS modules (``extends_documentation_fragment``).

- ``stowpath.core.dicomweb``: the client certificate and Basic-auth options.
- ``stowpath.core.dicomweb.connection``: where and how long to connect (the TLS and STOW-RS probes).
- ``stowpath.core.dicomweb.bearer``: a bearer token, static or from the OAuth 2.0 client-credentials grant.
- ``stowpath.core.dicomweb.pacs_api``: the PACS product and its REST API (the PACS modules).

The argument specs behind them are in ``plugins/module_utils/dicomweb/ansible_args.py``.
"""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  client_cert:
    description: PEM client certificate for mTLS (a path on the host the task runs on).
    type: path
  client_key:
    description: PEM private key of O(client_cert) (may be encrypted, see O(client_key_password)).
    type: path
  client_key_password:
    description: Password of an encrypted O(client_key). Never logged.
    type: str
  username:
    description: Basic-auth user at the DICOMweb service, when it also wants Basic auth.
    type: str
  password:
    description: Basic-auth password. Never logged.
    type: str
"""

    CONNECTION = r"""
options:
  url:
    description: The vendor's STOW-RS URL, C(https://host[:port]/dicomweb/studies).
    type: str
    required: true
  ca_bundle:
    description: PEM CA bundle that must verify the server certificate (the only trust anchor used).
    type: path
    required: true
  connect_address:
    description:
      - Connect to this address instead of resolving the URL's host (like C(curl --resolve)); SNI and
        certificate verification still use the URL's host name.
    type: str
  timeout:
    description: Seconds for connect, handshake and each read.
    type: float
    default: 30
  fail_on_error:
    description: Fail the task when a check fails (the result still carries C(checks)).
    type: bool
    default: true
"""

    BEARER = r"""
options:
  bearer_token:
    description:
      - A static bearer token (from Ansible Vault) sent as C(Authorization - Bearer ...). Never logged.
      - Mutually exclusive with O(token_url) and with Basic auth (O(username)).
    type: str
  token_url:
    description:
      - OAuth 2.0 token endpoint; the client-credentials grant obtains the token there (cached,
        fetched again O(token_refresh_margin) seconds before it expires). Can be combined with mTLS.
    type: str
  client_id:
    description: OAuth 2.0 client id (needed with O(token_url)).
    type: str
  client_secret:
    description: OAuth 2.0 client secret (C(client_secret_basic) or C(client_secret_post)). Never logged.
    type: str
  client_assertion_key_file:
    description:
      - PEM private key (RSA or EC) that signs a C(private_key_jwt) client assertion (RFC 7523) instead of
        a client secret.
    type: path
  client_assertion_key_password:
    description: Password of an encrypted O(client_assertion_key_file). Never logged.
    type: str
  client_assertion_kid:
    description: Key id (C(kid) header) of the assertion key, when the identity provider wants one.
    type: str
  token_auth_method:
    description:
      - How the client authenticates at O(token_url) (default C(private_key_jwt) with
        O(client_assertion_key_file), else C(client_secret_basic)).
    type: str
    choices: [client_secret_basic, client_secret_post, private_key_jwt]
  token_audience:
    description: The C(audience) to request (the DICOMweb service's identifier), when the provider uses one.
    type: str
  token_scope:
    description: The C(scope) to request (e.g. C(https://dicom.healthcareapis.azure.com/.default)).
    type: str
  token_ca_bundle:
    description: CA bundle that verifies O(token_url) (default - the system trust store).
    type: path
  token_cache_file:
    description: Keep fetched tokens in this file (mode 0600) so later tasks reuse them until near expiry.
    type: path
  token_refresh_margin:
    description: Seconds before expiry at which a cached token is replaced by a new one.
    type: float
    default: 60
  sigv4_region:
    description:
      - Sign every request with AWS Signature Version 4 (service C(medical-imaging), AWS HealthImaging) for
        this region, with the credentials of the standard AWS chain (environment, profile, instance role).
      - Can be combined with mTLS, not with Basic auth or a bearer token (one Authorization header).
    type: str
"""

    PACS_API = r"""
options:
  pacs_product:
    description: The PACS product (its driver); C(manual) for a PACS without an API.
    type: str
    choices: [orthanc, manual]
    default: orthanc
  api_url:
    description: The PACS REST API (Orthanc), e.g. C(http://127.0.0.1:8042). Required for C(orthanc).
    type: str
  api_username:
    description: REST API user (Basic auth), if the API requires one.
    type: str
  api_password:
    description: REST API password. Never logged.
    type: str
  api_timeout:
    description: Seconds to wait for one REST API answer.
    type: int
    default: 30
"""
