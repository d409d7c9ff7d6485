"""Secrets in drift output: masked, but a device secret that differs from the intended one says so.

A drift diff that shows ``secret = "********"`` on both sides would hide the very change it reports
(a PSK changed by hand). Here every config-form secret is masked; a value that is not one of the
intended secrets is followed by a marker, so the diff line differs without revealing anything.
"""

from __future__ import annotations

import re
from typing import Iterable

from ..redact import _CONFIG_SECRET_PATTERNS, MASK

DIFFERS = " [differs from intended]"  # after the masked value: re-masking keeps it

# Secrets as they appear in rendered artifacts (strongSwan, FRR/IOS, Junos).
_ARTIFACT_SECRET_RES = (
    re.compile(r"\bsecret\s*=\s*\"([^\"]+)\""),
    re.compile(r"\bneighbor\s+\S+\s+password\s+(?:[0-7]\s+)?(\S+)"),
    re.compile(r"\bpre-shared-key\s+(?:(?:local|remote)\s+)?(?:[0-7]\s+)?(?!ascii-text|hexadecimal)(\S+)"),
    re.compile(r"\b(?:ascii-text|authentication-key)\s+\"?([^\"\s;]+)\"?"),
    re.compile(r"<(?:key|text|ascii-text|authentication-key)>([^<]+)</"),
)


def artifact_secrets(texts: Iterable[str]) -> list[str]:
    """The secret values written into rendered artifacts (to mask them wherever they turn up)."""
    found: set[str] = set()
    for text in texts:
        for rx in _ARTIFACT_SECRET_RES:
            found.update(m.group(1) for m in rx.finditer(text) if m.group(1) != MASK)
    return sorted(found)


def mask_marked(text: str, intended: Iterable[str] = ()) -> str:
    """Mask every secret in ``text``; a config-form secret that is not an intended value is followed by ``DIFFERS``."""
    known = {s for s in intended if s}

    def repl(m: re.Match) -> str:
        value = m.group(2)
        quoted = value.startswith('"') and value.endswith('"') and len(value) >= 2
        bare = value[1:-1] if quoted else value
        if bare.startswith(MASK):
            return m.group(0)
        return m.group(1) + (f'"{MASK}"' if quoted else MASK) + ("" if bare in known else DIFFERS)

    for value in sorted(known, key=len, reverse=True):
        text = text.replace(value, MASK)
    for pattern in _CONFIG_SECRET_PATTERNS:
        text = pattern.sub(repl, text)
    return text
