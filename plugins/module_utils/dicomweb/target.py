"""Where and how to reach a DICOMweb service: URL, trust, client certificate, Basic auth or bearer token, timeout."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any

from .client import Client, Endpoint, Failure, basic_auth_header, failure
from .oauth import TokenConfig, TokenError, get_token
from .tls import make_context


@dataclass(kw_only=True)
class ClientCredentials:
    """How a client proves who it is to a DICOMweb service: mTLS certificate and key, Basic auth, bearer token.

    Secrets (``client_key_password``, ``password``, the token settings) stay out of ``repr``.
    """

    client_cert: str | None = None
    client_key: str | None = None
    client_key_password: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    bearer: TokenConfig | None = field(default=None, repr=False)

    @property
    def auth(self) -> str:
        """``mtls``, ``basic``, ``bearer``, ``mtls+basic``, ``mtls+bearer`` or ``none``."""
        parts = ((["mtls"] if self.client_cert else []) + (["basic"] if self.username else [])
                 + (["bearer"] if self.bearer else []))
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

    token_facts: dict[str, Any] = field(default_factory=dict)
    issued_tokens: list[str] = field(default_factory=list, repr=False)

    @property
    def secrets(self) -> list[str]:
        extra = (self.bearer.secrets if self.bearer else []) + self.issued_tokens
        return [s for s in (self.client_key_password, self.password, *extra) if s]


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


def token_context(target: Target) -> ssl.SSLContext | None:
    """The SSL context for the token URL: its own CA bundle, else the system trust store.

    The client certificate (mTLS) is offered too: a token endpoint behind the same mTLS front end,
    or one using RFC 8705 certificate-bound tokens, asks for it; others never request it.
    """
    cfg = target.bearer
    if cfg is None or not cfg.token_url or not cfg.token_url.startswith("https:"):
        return None
    return make_context(cfg.ca_bundle, target.client_cert, target.client_key, target.client_key_password,
                        verify=target.validate_certs)


def authorization(target: Target, *, force: bool = False) -> tuple[str | None, Failure | None]:
    """The ``Authorization`` header value for ``target`` (None without Basic/bearer), or why there is none.

    A bearer token is fetched (or taken from the cache) here; its value joins ``target.secrets``
    so every result is masked, and its facts (expiry, audience, never the value) go to ``token_facts``.
    """
    if target.bearer is None:
        return (basic_auth_header(target.username, target.password or "") if target.username else None), None
    if target.username:
        return None, failure("client_material", "Basic auth and a bearer token cannot be combined "
                                                "(one Authorization header): choose one in dicomweb_auth")
    cfg = target.bearer
    if cfg.token_url and not cfg.connect_address and target.connect_address:
        from urllib.parse import urlsplit

        if urlsplit(cfg.token_url).hostname == target.endpoint.host:
            cfg.connect_address = target.connect_address
    try:
        ctx = token_context(target)
        token = get_token(cfg, ctx, force=force)
    except (OSError, ssl.SSLError) as exc:
        fail = failure("client_material", f"cannot load the token endpoint's CA bundle: {exc}")
        return None, fail
    except TokenError as exc:
        return None, exc.failure
    if token.access_token not in target.issued_tokens:
        target.issued_tokens.append(token.access_token)
    target.token_facts = token.facts()
    return f"Bearer {token.access_token}", None


def open_client(target: Target, ctx: ssl.SSLContext | None, auth_header: str | None) -> Client:
    """A :class:`Client` for ``target`` sending ``auth_header`` (from :func:`authorization`)."""
    return Client(target.endpoint, ctx, timeout=target.timeout, authorization=auth_header)
