"""Where and how to reach a DICOMweb service: URL, trust, client certificate, Basic auth, timeout."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

from .client import Endpoint, Failure, failure
from .tls import make_context


@dataclass(kw_only=True)
class ClientCredentials:
    """How a client proves who it is to a DICOMweb service: mTLS certificate and key, Basic auth.

    Secrets (``client_key_password``, ``password``) stay out of ``repr``.
    """

    client_cert: str | None = None
    client_key: str | None = None
    client_key_password: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def auth(self) -> str:
        """``mtls``, ``basic``, ``mtls+basic`` or ``none``."""
        parts = (["mtls"] if self.client_cert else []) + (["basic"] if self.username else [])
        return "+".join(parts) or "none"


@dataclass
class Target(ClientCredentials):
    """One DICOMweb service as a client reaches it (credentials are keyword-only).

    ``ca_bundle`` is the only trust anchor; without one (and with ``validate_certs``) the system's
    trust store is used. ``connect_address`` replaces the URL host for the TCP connection only.
    """

    url: str
    ca_bundle: str | None = None
    connect_address: str | None = None
    timeout: float = 30.0
    validate_certs: bool = True

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint.parse(self.url, self.connect_address)

    @property
    def secrets(self) -> list[str]:
        return [s for s in (self.client_key_password, self.password) if s]


def tls_context(target: Target) -> tuple[ssl.SSLContext | None, Failure | None]:
    """The SSL context for ``target`` (None for plain http), or why its TLS material cannot be loaded."""
    if target.endpoint.scheme != "https":
        return None, None
    try:
        ctx = make_context(target.ca_bundle, target.client_cert, target.client_key, target.client_key_password,
                           verify=target.validate_certs)
    except (OSError, ssl.SSLError) as exc:
        return None, failure("client_material", f"cannot load TLS material: {exc}")
    return ctx, None
