"""Masking of secrets before anything is shown, logged, diffed, reported or kept at rest.

One engine, per-platform rules as data: a rule is a regex whose group 1 is the statement head kept in
clear and group 2 the secret value replaced by ``MASK``. The platform specs
(``platforms/<name>.py``) list their own rules; :data:`_CONFIG_SECRET_PATTERNS` are the common ones.

:func:`unmasked_secrets` is the fail-closed check before anything is kept at rest: every statement
that looks like it carries a secret (``secret``, ``password``, ``key-string``, ``community``, a Junos
``$9$`` ...) must carry ``MASK`` by then, or the caller refuses to write.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Callable, Iterable, Sequence

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
    re.compile(r"(\b(?:ascii-text|hexadecimal|authentication-key)\s+)(?![0-9]+[ \t]+\S)(\"[^\"]*\"|\S+)"),
    # IOS enable/username secrets
    re.compile(r"(\b(?:secret|password)\s+[0-9]\s+)(\S+)"),
]

# What looks like a secret statement (any platform); after masking its value must be MASK.
_SUSPECT = [
    re.compile(r"(?:\bsecret|\bpassword|\bkey-string|\bpre-shared-key(?:[ \t]+(?:local|remote))?|\bauthentication-key"
               r"|\bmessage-digest-key[ \t]+\d+[ \t]+md5|snmp-server[ \t]+community|crypto[ \t]+isakmp[ \t]+key|\bascii-text"
               r"|\bhexadecimal|\bencrypted-password|(?:tacacs|radius)-server[ \t]+key|^[ \t]*key)"
               r"(?:[ \t]+(?:[0-9]|level[ \t]+\d+))*(?:[ \t]*=[ \t]*|[ \t]+)(\"[^\"]*\"|[^\s;<]+)", re.M),
    re.compile(r"<(?:secret|password|key-string|authentication-key|ascii-text|hexadecimal|encrypted-password)>"
               r"([^<]+)<"),
    re.compile(r"()\$9\$[^\s\";<]+"),
    re.compile(r"\bntp[ \t]+authentication-key[ \t]+\d+[ \t]+\S+[ \t]+(\S+)"),
]
# Values after a suspect word that are not secrets (keywords of other statements).
_BENIGN = frozenset({"encryption", "chain", "config-key", "min-length", "aes", "recovery", "pre-share", "ring",
                     "algorithm-type", "level", "{", "}", "=", "local", "remote", "address", "identity", "ascii-text",
                     "hexadecimal"})


def sha256(text: str | bytes | None) -> str | None:
    """The hash kept next to a masked text (tells whether two configurations are equal)."""
    if text is None:
        return None
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def mask_with(text: str, secrets: Iterable[str] = (), rules: Sequence[re.Pattern] = ()) -> str:
    """The engine: known values, then each rule's group 2 replaced by ``MASK`` (quotes kept)."""
    for value in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(value, MASK)
    for pattern in rules:
        text = pattern.sub(_masked, text)
    return text


def _masked(m: re.Match) -> str:
    value = m.group(2)
    if value.strip('"').startswith(MASK):
        return m.group(0)
    return m.group(1) + (f'"{MASK}"' if value.startswith('"') else MASK)


class UnmaskedSecretError(ValueError):
    """A line looks like it holds a secret but masking did not cover it: nothing is written."""


def unmasked_secrets(text: str) -> list[str]:
    """Lines (shortened) that still look like they hold a secret in clear; empty when ``text`` is safe."""
    found = []
    for rx in _SUSPECT:
        for m in rx.finditer(text):
            value = (m.group(1) or m.group(0)).strip('"')
            if value.startswith(MASK) or value in _BENIGN or value in ("md5", "sha1", "sha256"):
                continue
            if value.isdigit() and text[m.end():m.end() + 1] in ("", "\n"):  # a key id ("key 1" of a key chain)
                continue
            if MASK in value:
                continue
            start = text.rfind("\n", 0, m.start()) + 1
            line = text[start:text.find("\n", m.end()) if "\n" in text[m.end():] else len(text)]
            found.append(line.strip()[:80].replace(value, "<secret>") if value else line.strip()[:80])
    return found


def mask_closed(text: str, mask: Callable[[str], str], where: str = "backup") -> str:
    """``mask(text)``, refusing (:class:`UnmaskedSecretError`) when something secret-looking survives."""
    masked = mask(text)
    left = unmasked_secrets(masked)
    if left:
        raise UnmaskedSecretError(f"{where}: {len(left)} line(s) look like secrets but could not be masked "
                                  f"({'; '.join(left[:3])}); nothing was written")
    return masked


def mask_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace every known secret value and every config-form secret in ``text`` by ``MASK``."""
    for value in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(value, MASK)
    for pattern in _CONFIG_SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + (f'"{MASK}"' if m.group(2).startswith('"') else MASK), text)
    return text


def fill_masked(masked: str, sources: Iterable[str], mask: Callable[[str], str],
                line_hashes: Sequence[str | None] | None = None) -> str:
    """Put clear secret values back into ``masked`` from ``sources`` (texts that hold the same lines in
    clear, e.g. the device's running configuration): a masked line takes the clear line of a source
    whose masked form and parents (by indentation) are equal. With ``line_hashes`` (the sha256 of each
    clear line that was masked, in order: :func:`masked_line_hashes`) a candidate is taken only when its
    hash matches, so a secret that changed since is never put back wrong. Lines with no such twin stay
    masked."""
    twins: dict[tuple[tuple[str, ...], str], list[str]] = {}
    for source in sources:
        for path, line in _walk(source):
            masked_line = mask(line)
            if masked_line != line:
                twins.setdefault((tuple(mask(p) for p in path), masked_line), []).append(line)
    out, n = [], 0
    for path, line in _walk(masked):
        if MASK in line:
            candidates = twins.get((path, line), [])
            if line_hashes is not None:
                want = line_hashes[n] if n < len(line_hashes) else None
                candidates = [c for c in candidates if sha256(c) == want]
            n += 1
            line = candidates[0] if candidates else line
        out.append(line)
    return "\n".join(out) + ("\n" if masked.endswith("\n") else "")


def masked_line_hashes(clear: str, masked: str) -> list[str | None] | None:
    """The sha256 of every clear line whose masked twin differs (None: the texts do not line up)."""
    a, b = clear.splitlines(), masked.splitlines()
    if len(a) != len(b):
        return None
    return [sha256(x) for x, y in zip(a, b, strict=True) if MASK in y]


def _walk(text: str) -> Iterable[tuple[tuple[str, ...], str]]:
    stack: list[tuple[int, str]] = []
    for line in text.splitlines():
        indent = len(line) - len(line.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        yield tuple(p for _, p in stack), line
        if line.strip():
            stack.append((indent, line))


def mask_tree(value: Any, secret_entry: Callable[[Any, Any], bool], mask_str: Callable[[str], str],
              key: Callable[[Any], Any] = lambda k: k) -> Any:
    """Deep copy of ``value`` (tuples become lists): a dict entry for which ``secret_entry(key, value)``
    holds gets :data:`MASK`, every other string goes through ``mask_str``; ``key`` maps the dict keys."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            k = key(k)
            out[k] = MASK if secret_entry(k, v) else mask_tree(v, secret_entry, mask_str, key)
        return out
    if isinstance(value, (list, tuple)):
        return [mask_tree(v, secret_entry, mask_str, key) for v in value]
    if isinstance(value, str):
        return mask_str(value)
    return value


def mask_structure(value: Any, secrets: Iterable[str] = ()) -> Any:
    """Deep copy of ``value`` with secret-named keys masked and known secret strings removed."""
    known = [s for s in secrets if s]

    def secret_entry(k: Any, v: Any) -> bool:
        return isinstance(k, str) and bool(SECRET_KEY_RE.search(k)) and v not in (None, "", [], {})

    def mask_str(text: str) -> str:
        return mask_secrets(text, known) if known and any(s in text for s in known) else text

    return mask_tree(value, secret_entry, mask_str)
