"""Crypto policy: vendor algorithm names -> canonical ids (each platform spells them in its spec).

Canonical ids: encryption ``aes128 aes192 aes256 aes128gcm16 aes256gcm16 3des des``;
integrity ``md5 sha1 sha256 sha384 sha512``; Diffie-Hellman groups as integers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ENCRYPTION = ("aes128", "aes192", "aes256", "aes128gcm16", "aes256gcm16", "3des", "des")
INTEGRITY = ("md5", "sha1", "sha256", "sha384", "sha512")
DH_GROUPS = (1, 2, 5, 14, 15, 16, 19, 20, 21, 22, 23, 24)

LEGACY_ENCRYPTION = {"3des", "des"}
LEGACY_INTEGRITY = {"md5", "sha1"}
LEGACY_DH = {1, 2, 5, 22}
# What the default ("strong") policy accepts as is; anything else is upgraded to the default.
STRONG_ENCRYPTION = {"aes256", "aes256gcm16"}
STRONG_INTEGRITY = {"sha256", "sha384", "sha512"}
STRONG_DH = {14, 15, 16, 19, 20, 21}
DEFAULT = {"encryption": "aes256", "integrity": "sha256", "dh_group": 14}

_ENC_ALIASES = {
    "aes128": "aes128", "aes-128": "aes128", "aes-128-cbc": "aes128", "aes128-cbc": "aes128",
    "aes-cbc-128": "aes128",
    "aes192": "aes192", "aes-192": "aes192", "aes-192-cbc": "aes192", "aes-cbc-192": "aes192",
    "aes256": "aes256", "aes-256": "aes256", "aes-256-cbc": "aes256", "aes256-cbc": "aes256",
    "aes-cbc-256": "aes256",
    "aes128gcm16": "aes128gcm16", "aes-128-gcm": "aes128gcm16", "aes-128-gcm-16": "aes128gcm16",
    "aes128-gcm-16": "aes128gcm16", "aes-gcm-128": "aes128gcm16",
    "aes256gcm16": "aes256gcm16", "aes-256-gcm": "aes256gcm16", "aes-256-gcm-16": "aes256gcm16",
    "aes256-gcm-16": "aes256gcm16", "aes-gcm-256": "aes256gcm16",
    "3des": "3des", "3des-cbc": "3des", "des3": "3des", "triple-des": "3des",
    "des": "des", "des-cbc": "des",
}
_INTEG_ALIASES = {
    "md5": "md5", "hmac-md5": "md5", "hmac-md5-96": "md5",
    "sha1": "sha1", "sha-1": "sha1", "sha": "sha1", "hmac-sha1": "sha1", "hmac-sha1-96": "sha1",
    "hmac-sha-1-96": "sha1",
    "sha256": "sha256", "sha-256": "sha256", "sha2-256": "sha256", "hmac-sha2-256": "sha256",
    "hmac-sha2-256-128": "sha256", "hmac-sha-256-128": "sha256", "hmac-sha256": "sha256",
    "sha384": "sha384", "sha-384": "sha384", "sha2-384": "sha384", "hmac-sha2-384-192": "sha384",
    "hmac-sha-384-192": "sha384",
    "sha512": "sha512", "sha-512": "sha512", "sha2-512": "sha512", "hmac-sha2-512-256": "sha512",
    "hmac-sha-512-256": "sha512",
}

# IKE's standard names of the DH groups (strongSwan spells them this way; vendor files sometimes do too).
DH_NAMES = {1: "modp768", 2: "modp1024", 5: "modp1536", 14: "modp2048", 15: "modp3072", 16: "modp4096",
            19: "ecp256", 20: "ecp384", 21: "ecp521", 22: "modp1024s160", 23: "modp2048s224", 24: "modp2048s256"}



def is_aead(encryption: str) -> bool:
    """GCM ciphers carry their own integrity (ESP needs no separate integrity algorithm)."""
    return "gcm" in encryption


def canonical_encryption(name: str) -> str | None:
    return _ENC_ALIASES.get(name.strip().lower())


def canonical_integrity(name: str) -> str | None:
    return _INTEG_ALIASES.get(name.strip().lower())


def canonical_dh(name: str | int) -> int | None:
    """``group14``, ``14``, ``modp2048`` -> 14."""
    text = str(name).strip().lower()
    m = re.fullmatch(r"(?:group|dh|dh-group|dhgroup)?\s*(\d+)", text)
    if m and int(m.group(1)) in DH_GROUPS:
        return int(m.group(1))
    for group, spelled in DH_NAMES.items():
        if spelled == text:
            return group
    return None


@dataclass(frozen=True)
class PolicyResult:
    value: str | int
    upgraded_from: str | int | None = None  # set when the strong policy replaced the file's value
    legacy: bool = False  # set when a legacy value is kept (allow_legacy_crypto)


def apply_policy(kind: str, value: str | int, allow_legacy: bool) -> PolicyResult:
    """Apply the crypto policy to one algorithm: ``kind`` is encryption, integrity or dh_group.

    Strong policy (default): values outside the strong set are replaced by the default.
    ``allow_legacy``: the file's value is kept as is; legacy ones are flagged for a warning.
    """
    strong = {"encryption": STRONG_ENCRYPTION, "integrity": STRONG_INTEGRITY, "dh_group": STRONG_DH}[kind]
    legacy = {"encryption": LEGACY_ENCRYPTION, "integrity": LEGACY_INTEGRITY, "dh_group": LEGACY_DH}[kind]
    if allow_legacy:
        return PolicyResult(value, legacy=value in legacy)
    if value in strong:
        return PolicyResult(value)
    return PolicyResult(DEFAULT[kind], upgraded_from=value)


def spell(platform: str, kind: str, value: str | int) -> str:
    """The platform's name for a canonical algorithm (``spell('junos', 'dh', 14) == 'group14'``); the
    spellings are data in each platform's spec (``platforms/<name>.py``, ``CRYPTO``)."""
    from .platforms import get

    try:
        return get(platform).crypto[kind][value]
    except KeyError as exc:
        raise ValueError(f"{platform} has no spelling for {kind} {value!r}") from exc


def strongswan_proposal(encryption: str, integrity: str | None, dh_group: int | None, ike: bool) -> str:
    """strongSwan proposal string, e.g. ``aes256-sha256-modp2048`` or ``aes256gcm16-prfsha256-ecp256``."""
    parts = [encryption]
    if integrity:
        if is_aead(encryption):
            if ike:
                parts.append(f"prf{integrity}")
        else:
            parts.append(integrity)
    if dh_group:
        parts.append(DH_NAMES[dh_group])
    return "-".join(parts)
