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
    # AWS region for SigV4 request signing (AWS HealthImaging); None: no signing
    sigv4_region: str | None = None

    @property
    def auth(self) -> str:
        """``mtls``, ``basic``, ``bearer``, ``sigv4``, ``mtls+basic``, ``mtls+bearer``, ``mtls+sigv4`` or ``none``."""
        parts = ((["mtls"] if self.client_cert else []) + (["basic"] if self.username else [])
                 + (["bearer"] if self.bearer else []) + (["sigv4"] if self.sigv4_region else []))
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
    if target.sigv4_region and (target.username or target.bearer):
        return None, failure("client_material", "SigV4 signing cannot be combined with Basic auth or a bearer token "
                                                "(one Authorization header): choose one in dicomweb_auth")
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
    signer = None
    if target.sigv4_region:
        from .sigv4 import SigV4Signer

        signer = SigV4Signer(target.sigv4_region)
    return Client(target.endpoint, ctx, timeout=target.timeout, authorization=auth_header, signer=signer)


def renewal_summary(auth: dict[str, Any], status: dict[str, Any] | None = None) -> str:
    """How each credential of the site's ``dicomweb_auth`` section (the site model's, never a secret) is renewed,
    one sentence per mode, for the report. ``status`` is the PACS token refresher's status file, when read."""
    modes = list(auth.get("modes") or [])
    if not modes:
        return "No DICOMweb credentials are configured: nothing to renew."
    out = []
    if "mtls" in modes:
        out.append("mTLS: the client certificate is not renewed by stowpath; its expiry is checked on every run "
                   "(cert_expiry_warn_days) - install the vendor's new certificate before it expires.")
    if "basic" in modes:
        out.append("Basic auth: static user and password from the vault; nothing expires unless the vendor rotates "
                   "them.")
    if "bearer" in modes and auth.get("token") == "static":
        out.append("Bearer: a static token from the vault (dicomweb_token), not renewed - put a fresh token in the "
                   "vault before it expires (its expiry is shown with the probe's token facts).")
    elif "bearer" in modes:
        how = "a private-key JWT assertion" if auth.get("token_method") == "private_key_jwt" else "a client secret"
        out.append(f"Bearer: OAuth 2.0 client-credentials grant at {auth.get('token_url')} (client "
                   f"{auth.get('client_id')}, authenticated with {how}); stowpath's probes fetch a token and "
                   "reuse it until shortly before expiry; the PACS destination's Authorization header is renewed by "
                   "stowpath's token refresher (python -m ...pacs.token_refresh) at 2/3 of each token's lifetime.")
        if status:
            out.append(refresher_status_text(status))
    if "sigv4" in modes:
        out.append(f"SigV4: every request is signed with the controller's AWS credentials (standard chain, region "
                   f"{auth.get('region') or 'from the AWS configuration'}); temporary credentials are renewed by "
                   "botocore.")
    return " ".join(out)


def refresher_status_text(status: dict[str, Any]) -> str:
    """The token refresher's status file as one sentence (times, never the token)."""
    if status.get("error"):
        return (f"Token refresher: last error at {status.get('last_attempt')}: {status['error']} (current token "
                f"expires {status.get('expires_at') or 'unknown'}).")
    return (f"Token refresher: last refresh {status.get('last_refresh')}, token expires {status.get('expires_at')}, "
            f"next refresh {status.get('next_refresh')}.")
