"""Masking of secrets before anything is shown, logged, diffed or reported."""

from __future__ import annotations

import re
from typing import Any, Iterable

MASK = "********"

# Keys whose values are secrets wherever they appear in a structure.
SECRET_KEY_RE = re.compile(
    r"(^|_)(psk|pre_shared_key|secret|password|passwd|auth_key|authkey|private_key|key_password|"
    r"keypass|token)$",
    re.IGNORECASE,
)

# Device-config forms of secrets, masked even when the value itself is not known.
_CONFIG_SECRET_PATTERNS = [
    # strongSwan: secret = "..."
    re.compile(r"(\bsecret\s*=\s*)(\"[^\"]*\"|\S+)"),
    # FRR / IOS: neighbor X password Y
    re.compile(r"(\bneighbor\s+\S+\s+password\s+(?:[0-7]\s+)?)(\S+)"),
    # IOS keyring: pre-shared-key [local|remote] [0|6|7] KEY
    re.compile(r"(\bpre-shared-key\s+(?:(?:local|remote)\s+)?(?:[0-7]\s+)?)(?!ascii-text|hexadecimal)(\S+)"),
    # Junos: pre-shared-key ascii-text "..." / authentication-key "..."
    re.compile(r"(\b(?:ascii-text|hexadecimal|authentication-key)\s+)(\"[^\"]*\"|\S+)"),
    # IOS enable/username secrets
    re.compile(r"(\b(?:secret|password)\s+[0-9]\s+)(\S+)"),
]


def mask_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace every known secret value and every config-form secret in ``text`` by ``MASK``."""
    for value in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(value, MASK)
    for pattern in _CONFIG_SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + (f'"{MASK}"' if m.group(2).startswith('"') else MASK), text)
    return text


def mask_structure(value: Any, secrets: Iterable[str] = ()) -> Any:
    """Deep copy of ``value`` with secret-named keys masked and known secret strings removed."""
    known = [s for s in secrets if s]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if isinstance(k, str) and SECRET_KEY_RE.search(k) and v not in (None, "", [], {}):
                out[k] = MASK
            else:
                out[k] = mask_structure(v, known)
        return out
    if isinstance(value, (list, tuple)):
        return [mask_structure(v, known) for v in value]
    if isinstance(value, str) and known:
        return mask_secrets(value, known) if any(s in value for s in known) else value
    return value
