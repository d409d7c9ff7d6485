"""Secrets never reach a report: mask by key name, by known value and by shape; refuse what slips through.

On top of :mod:`..redact` (``mask_secrets``/``SECRET_KEY_RE``, the project's masking) this also
catches camelCase and free-form key names (``CertificateKeyPassword``, ``auth key``), PEM private
keys, passwords in URLs and ``Authorization`` headers. :func:`assert_clean` is the last gate before
anything is written: a known secret or a private key in rendered output raises :class:`SecretLeak`.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from ..redact import MASK, SECRET_KEY_RE, mask_secrets, mask_tree

SECRET_TOKENS = frozenset({
    "psk", "secret", "secrets", "password", "passwd", "passphrase", "pwd", "private", "token", "key", "keys",
    "authorization", "cookie", "credential", "credentials", "authkey", "keypass",
})
# "client_key_file": "/etc/x.key" is a path, not a secret.
_PATH_TOKENS = frozenset({"file", "path", "files", "paths"})
_TOKEN_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_PEM_KEY_RE = re.compile(r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|$)", re.DOTALL)
_URL_USERINFO_RE = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)([^@\s/]+)(@)", re.IGNORECASE)
_AUTH_HEADER_RE = re.compile(r"(\bAuthorization\s*[:=]\s*\"?(?:Basic|Bearer|Digest)\s+)([A-Za-z0-9+/=._~-]+)", re.IGNORECASE)


class SecretLeak(ValueError):
    """Rendered output still contains a secret: nothing is written."""


def key_tokens(key: str) -> list[str]:
    return [t.lower() for t in _TOKEN_RE.findall(key)]


def is_secret_key(key: str) -> bool:
    """True for keys named like a secret (psk, secret, password, key, auth_key, private, token, ...)."""
    if SECRET_KEY_RE.search(key):
        return True
    tokens = key_tokens(key)
    return any(t in SECRET_TOKENS for t in tokens) or "auth_key" in key.lower()


def _is_path_key(key: str, value: Any) -> bool:
    tokens = key_tokens(key)
    return bool(tokens) and tokens[-1] in _PATH_TOKENS and isinstance(value, str) and value.startswith("/") \
        and not any(c.isspace() for c in value)


def mask_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Known secret values, private keys, URL passwords and Authorization credentials masked."""
    text = mask_secrets(text, secrets)
    text = _PEM_KEY_RE.sub(f"-----PRIVATE KEY {MASK}-----", text)
    text = _URL_USERINFO_RE.sub(lambda m: m.group(1) + MASK + m.group(3), text)
    return _AUTH_HEADER_RE.sub(lambda m: m.group(1) + MASK, text)


def sanitize(value: Any, secrets: Iterable[str] = ()) -> Any:
    """Deep copy with every value under a secret-named key masked (booleans and numbers kept: they
    cannot carry a secret, and facts like ``key_matches_cert: true`` matter) and all text masked."""
    known = [s for s in secrets if s]

    def secret_entry(key: str, v: Any) -> bool:
        return (is_secret_key(key) and not _is_path_key(key, v) and v not in (None, "", [], {})
                and not isinstance(v, (bool, int, float)))

    return mask_tree(value, secret_entry, lambda text: mask_text(text, known), key=str)


def assert_clean(text: str, secrets: Iterable[str] = (), where: str = "report") -> None:
    """Raise :class:`SecretLeak` if ``text`` holds a known secret value or a private key."""
    for s in secrets:
        if s and len(s) >= 4 and s in text:
            raise SecretLeak(f"{where}: a secret value would be written; nothing was written")
    if re.search(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----", text):
        raise SecretLeak(f"{where}: a private key would be written; nothing was written")
