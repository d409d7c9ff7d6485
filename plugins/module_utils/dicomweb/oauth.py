"""Bearer tokens for DICOMweb: a static token, or the OAuth 2.0 client-credentials grant.

The grant (RFC 6749 section 4.4) authenticates the client at the token URL with a secret
(``client_secret_basic`` or ``client_secret_post``) or with a signed JWT assertion
(``private_key_jwt``, RFC 7523: RS256 for RSA keys, ES256/ES384 for EC keys), optionally asking for
an ``audience`` and a ``scope``. Tokens are cached in the process and, with a cache file, across
runs (mode 0600), and fetched again ``refresh_margin_s`` before they expire.

Signing uses ``cryptography`` only (no JWT library on the host that runs the probes). Every failure
is a classified :class:`~.client.Failure` with a cause and an action; token values never appear in one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import ssl
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from .client import Client, Endpoint, Failure, ProbeError, basic_auth_header

GRANT = "client_credentials"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
DEFAULT_MARGIN_S = 60.0
ASSERTION_LIFETIME_S = 300

TOKEN_ACTIONS = {
    "token_endpoint_unreachable": "check token_url (host, port, path) and that the path from this host to the "
                                  "identity provider is open (proxy, firewall, DNS)",
    "token_endpoint_error": "the identity provider failed: retry later; report the time and status to the vendor",
    "token_endpoint_wrong_path": "use the exact token URL the vendor or identity provider gives",
    "token_client_rejected": "check dicomweb_client_id and dicomweb_client_secret (Ansible Vault) or the "
                             "assertion key registered for this client with the identity provider",
    "token_unauthorized_client": "ask the identity provider's administrator to allow the client-credentials "
                                 "grant for this client id",
    "token_scope_rejected": "request the scope the vendor documents (dicomweb_token_scope)",
    "token_audience_rejected": "request the audience (resource) the vendor documents (dicomweb_token_audience)",
    "token_bad_response": "the token URL did not answer like an OAuth 2.0 token endpoint: check token_url",
    "token_config": "fix the bearer-token variables (see the message)",
    "token_required": "the service wants a bearer token: set dicomweb_auth to include bearer, with "
                      "dicomweb_token or the client-credentials variables",
    "token_expired": "the token expired: stowpath fetches a new one before expiry; for a static dicomweb_token "
                     "put a fresh token in the vault, or use the client-credentials grant",
    "token_wrong_audience": "the token was issued for another service: set dicomweb_token_audience (or scope) "
                            "to what this DICOMweb service expects",
    "token_rejected": "the service does not accept this token (signature, issuer or format): check the token URL "
                      "and client with the vendor",
    "token_scope": "the token lacks a permission the service needs (e.g. write): request the right scope",
}


def token_failure(code: str, cause: str, **detail: Any) -> Failure:
    return Failure(code, cause, TOKEN_ACTIONS.get(code, TOKEN_ACTIONS["token_rejected"]), dict(detail))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT without verifying it ({} when the token is not a JWT)."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        claims = json.loads(b64url_decode(parts[1]))
    except (ValueError, TypeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def sign_jwt(claims: dict[str, Any], key_pem: bytes, password: str | None = None, kid: str | None = None) -> str:
    """A compact JWS of ``claims``: RS256 with an RSA key, ES256/ES384/ES512 with an EC key."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

    key = serialization.load_pem_private_key(key_pem, password.encode() if password else None)
    if isinstance(key, rsa.RSAPrivateKey):
        alg = "RS256"
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        size = key.curve.key_size
        alg, hash_cls = {256: ("ES256", hashes.SHA256), 384: ("ES384", hashes.SHA384),
                         521: ("ES512", hashes.SHA512)}[size]
    else:
        raise ValueError("the assertion key must be an RSA or EC private key")
    header: dict[str, Any] = {"alg": alg, "typ": "JWT"}
    if kid:
        header["kid"] = kid
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "."
                     + b64url(json.dumps(claims, separators=(",", ":")).encode())).encode()
    if isinstance(key, rsa.RSAPrivateKey):
        sig = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    else:
        der = key.sign(signing_input, ec.ECDSA(hash_cls()))
        r, s = utils.decode_dss_signature(der)
        n = (key.curve.key_size + 7) // 8
        sig = r.to_bytes(n, "big") + s.to_bytes(n, "big")
    return signing_input.decode() + "." + b64url(sig)


@dataclass(kw_only=True)
class TokenConfig:
    """How to obtain the bearer token: ``token`` (static) or the client-credentials grant at ``token_url``."""

    token: str | None = field(default=None, repr=False)
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    assertion_key_file: str | None = None
    assertion_key_password: str | None = field(default=None, repr=False)
    assertion_kid: str | None = None
    auth_method: str | None = None
    audience: str | None = None
    scope: str | None = None
    ca_bundle: str | None = None
    connect_address: str | None = None
    cache_file: str | None = None
    refresh_margin_s: float = DEFAULT_MARGIN_S
    timeout: float = 30.0

    @property
    def grant(self) -> bool:
        return bool(self.token_url)

    @property
    def method(self) -> str:
        if self.auth_method:
            return self.auth_method
        return "private_key_jwt" if self.assertion_key_file else "client_secret_basic"

    @property
    def secrets(self) -> list[str]:
        return [s for s in (self.token, self.client_secret, self.assertion_key_password) if s]

    def problems(self) -> list[str]:
        """What makes this configuration unusable (empty when fine)."""
        out: list[str] = []
        if self.token and self.token_url:
            out.append("give either a static token (dicomweb_token) or a token URL (dicomweb_token_url), not both")
        if not self.token and not self.token_url:
            out.append("bearer auth needs dicomweb_token or dicomweb_token_url")
        if self.token_url:
            if urlsplit(self.token_url).scheme not in ("https", "http") or not urlsplit(self.token_url).hostname:
                out.append(f"token URL {self.token_url!r} must be https://host[:port]/path")
            if not self.client_id:
                out.append("the client-credentials grant needs dicomweb_client_id")
            if self.method not in AUTH_METHODS:
                out.append(f"token auth method must be one of {', '.join(AUTH_METHODS)}")
            elif self.method == "private_key_jwt" and not self.assertion_key_file:
                out.append("private_key_jwt needs dicomweb_client_assertion_key_file")
            elif self.method != "private_key_jwt" and not self.client_secret:
                out.append(f"{self.method} needs dicomweb_client_secret")
        return out

    def cache_key(self) -> str:
        raw = json.dumps([self.token_url, self.client_id, self.audience, self.scope, self.method,
                          self.client_secret, self.assertion_key_file])
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


@dataclass
class Token:
    """An access token and when it expires (epoch seconds; None = unknown)."""

    access_token: str = field(repr=False)
    expires_at: float | None = None
    token_type: str = "Bearer"
    source: str = "static"
    scope: str | None = None

    def expires_in(self, now: float | None = None) -> float | None:
        return None if self.expires_at is None else self.expires_at - (now or time.time())

    def fresh(self, margin_s: float, now: float | None = None) -> bool:
        left = self.expires_in(now)
        return left is None or left > margin_s

    def facts(self) -> dict[str, Any]:
        """What may be shown about the token (never its value)."""
        claims = jwt_claims(self.access_token)
        out: dict[str, Any] = {"source": self.source, "token_type": self.token_type}
        if self.expires_at is not None:
            out["expires_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.expires_at))
            out["expires_in_s"] = int(self.expires_in() or 0)
        for claim in ("iss", "aud", "scope", "scp"):
            if claim in claims:
                out[f"claim_{claim}"] = claims[claim]
        if self.scope:
            out["scope"] = self.scope
        return out


_MEMORY: dict[str, Token] = {}


def _cache_read(cfg: TokenConfig) -> Token | None:
    if cfg.cache_key() in _MEMORY:
        return _MEMORY[cfg.cache_key()]
    if not cfg.cache_file:
        return None
    try:
        with open(cfg.cache_file) as fh:
            entry = (json.load(fh) or {}).get(cfg.cache_key())
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(entry, dict) or not entry.get("access_token"):
        return None
    return Token(entry["access_token"], entry.get("expires_at"), entry.get("token_type", "Bearer"), "cache",
                 entry.get("scope"))


def _cache_write(cfg: TokenConfig, token: Token) -> None:
    _MEMORY[cfg.cache_key()] = token
    if not cfg.cache_file:
        return
    try:
        with open(cfg.cache_file) as fh:
            data = json.load(fh)
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    now = time.time()
    data = {k: v for k, v in data.items() if isinstance(v, dict) and (v.get("expires_at") or now + 1) > now}
    data[cfg.cache_key()] = {"access_token": token.access_token, "expires_at": token.expires_at,
                             "token_type": token.token_type, "scope": token.scope}
    directory = os.path.dirname(os.path.abspath(cfg.cache_file))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    tmp = f"{cfg.cache_file}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    os.replace(tmp, cfg.cache_file)


def clear_cache() -> None:
    """Forget every token held in this process."""
    _MEMORY.clear()


def client_assertion(cfg: TokenConfig, now: float | None = None) -> str:
    """The ``private_key_jwt`` assertion: iss = sub = client id, aud = token URL, 5 minutes, one-time jti."""
    now = int(now or time.time())
    claims = {"iss": cfg.client_id, "sub": cfg.client_id, "aud": cfg.token_url, "jti": str(uuid.uuid4()),
              "iat": now, "nbf": now, "exp": now + ASSERTION_LIFETIME_S}
    with open(cfg.assertion_key_file or "", "rb") as fh:
        key_pem = fh.read()
    return sign_jwt(claims, key_pem, cfg.assertion_key_password, cfg.assertion_kid)


def token_request(cfg: TokenConfig) -> tuple[dict[str, str], bytes]:
    """Headers and form body of the client-credentials request."""
    form: dict[str, str] = {"grant_type": GRANT}
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    if cfg.scope:
        form["scope"] = cfg.scope
    if cfg.audience:
        form["audience"] = cfg.audience
    if cfg.method == "client_secret_basic":
        headers["Authorization"] = basic_auth_header(_form_escape(cfg.client_id or ""),
                                                     _form_escape(cfg.client_secret or ""))
    elif cfg.method == "client_secret_post":
        form["client_id"] = cfg.client_id or ""
        form["client_secret"] = cfg.client_secret or ""
    else:
        form["client_id"] = cfg.client_id or ""
        form["client_assertion_type"] = ASSERTION_TYPE
        form["client_assertion"] = client_assertion(cfg)
    return headers, urlencode(form).encode()


def _form_escape(value: str) -> str:
    """RFC 6749 section 2.3.1: client id and secret are form-urlencoded before Basic encoding."""
    from urllib.parse import quote_plus

    return quote_plus(value)


def classify_token_error(status: int, body: bytes, where: str) -> Failure:
    """A failed token request (RFC 6749 section 5.2 error codes) as a failure class."""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        data = {}
    err = str(data.get("error", "")) if isinstance(data, dict) else ""
    desc = str(data.get("error_description", ""))[:200] if isinstance(data, dict) else ""
    detail = {"http_status": status, "oauth_error": err or None, "token_url": where}
    text = f"HTTP {status} from the token endpoint {where}" + (f": {err}" if err else "") + \
        (f" ({desc})" if desc else "")
    if err == "invalid_client" or (status == 401 and not err):
        return token_failure("token_client_rejected", f"{text}: the client id, secret or assertion was not "
                             "accepted", **detail)
    if err in ("unauthorized_client", "unsupported_grant_type"):
        return token_failure("token_unauthorized_client", text, **detail)
    if err == "invalid_scope":
        return token_failure("token_scope_rejected", text, **detail)
    if err in ("invalid_target", "invalid_audience", "invalid_resource"):
        return token_failure("token_audience_rejected", text, **detail)
    if status == 404:
        return token_failure("token_endpoint_wrong_path", text, **detail)
    if status >= 500:
        return token_failure("token_endpoint_error", text, **detail)
    if err == "invalid_grant":
        return token_failure("token_client_rejected", text, **detail)
    return token_failure("token_bad_response", text, **detail)


def fetch_token(cfg: TokenConfig, context: ssl.SSLContext | None, now: float | None = None) -> Token:
    """Run the client-credentials grant once; raises :class:`TokenError` (classified)."""
    endpoint = Endpoint.parse(cfg.token_url or "", cfg.connect_address)
    parts = urlsplit(cfg.token_url or "")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        headers, body = token_request(cfg)
    except (OSError, ValueError, TypeError) as exc:
        raise TokenError(token_failure("token_config", f"cannot build the client assertion: {exc}")) from None
    with Client(endpoint, context if endpoint.scheme == "https" else None, timeout=cfg.timeout,
                user_agent="stowpath-oauth/1") as client:
        try:
            resp = client.request("POST", path, headers, body)
        except ProbeError as exc:
            fail = token_failure("token_endpoint_unreachable",
                                 f"no answer from the token endpoint {cfg.token_url}: {exc.failure.cause}",
                                 cause_code=exc.failure.code, token_url=cfg.token_url)
            raise TokenError(fail) from None
    if resp.status != 200:
        raise TokenError(classify_token_error(resp.status, resp.body, cfg.token_url or ""))
    try:
        data = json.loads(resp.body)
        access = str(data["access_token"])
    except (ValueError, KeyError, TypeError):
        raise TokenError(token_failure("token_bad_response", f"the token endpoint {cfg.token_url} answered 200 "
                                       "without an access_token in JSON", token_url=cfg.token_url)) from None
    token_type = str(data.get("token_type") or "Bearer")
    if token_type.lower() != "bearer":
        raise TokenError(token_failure("token_bad_response", f"token_type {token_type!r} is not Bearer",
                                       token_url=cfg.token_url))
    issued = now or time.time()
    expires_at: float | None = None
    if isinstance(data.get("expires_in"), (int, float, str)) and str(data.get("expires_in")).isdigit():
        expires_at = issued + float(data["expires_in"])
    elif isinstance(jwt_claims(access).get("exp"), (int, float)):
        expires_at = float(jwt_claims(access)["exp"])
    return Token(access, expires_at, "Bearer", "token_url", data.get("scope"))


class TokenError(Exception):
    """The token could not be obtained; ``failure`` says why (classified)."""

    def __init__(self, fail: Failure) -> None:
        self.failure = fail
        super().__init__(fail.cause)


def get_token(cfg: TokenConfig, context: ssl.SSLContext | None, *, force: bool = False) -> Token:
    """The token to send now: the static one, a cached one still fresh, or a newly fetched one."""
    problems = cfg.problems()
    if problems:
        raise TokenError(token_failure("token_config", "; ".join(problems)))
    if cfg.token:
        claims = jwt_claims(cfg.token)
        exp = claims.get("exp") if isinstance(claims.get("exp"), (int, float)) else None
        tok = Token(cfg.token, exp, "Bearer", "static")
        if exp is not None and exp <= time.time():
            raise TokenError(token_failure(
                "token_expired", f"the static token (dicomweb_token) expired at "
                f"{time.strftime('%Y-%m-%d %H:%M:%SZ', time.gmtime(exp))}", expired_at=exp))
        return tok
    if not force:
        cached = _cache_read(cfg)
        if cached is not None and cached.fresh(cfg.refresh_margin_s):
            return cached
    token = fetch_token(cfg, context)
    _cache_write(cfg, token)
    return token


def new_secret(nbytes: int = 24) -> str:
    """A random client secret (for labs and tests)."""
    return secrets.token_urlsafe(nbytes)
