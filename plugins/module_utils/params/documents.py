"""Reading the structured documents cloud CLIs and APIs print (JSON or YAML), safely.

Every parser of a JSON/YAML vendor answer goes through :func:`load_structured`: size and nesting are
bounded, YAML is read with the safe loader and without anchors/aliases (no "billion laughs"), and a
problem names the file and what to do. XML inside a JSON string is parsed by the XML parsers with
``defusedxml``.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from ..errors import SiteError

MAX_TEXT = 1024 * 1024
MAX_DEPTH = 40


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max([_depth(v, level + 1) for v in value.values()] or [level])
    if isinstance(value, list):
        return max([_depth(v, level + 1) for v in value] or [level])
    return level


def load_structured(text: str, source: str, fix: str) -> list[Any]:
    """The documents of a JSON or YAML text (YAML may hold several, separated by ``---``)."""
    if len(text) > MAX_TEXT:
        raise SiteError(source, "file", f"is {len(text)} characters, more than any cloud answer", "check the path")
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            docs = [json.loads(text)]
        except json.JSONDecodeError as exc:
            raise SiteError(source, "JSON document", f"malformed or truncated JSON: {exc}", fix) from None
    elif stripped.startswith("<"):
        raise SiteError(source, "file", "this is XML, not the JSON/YAML this provider's CLI prints", fix)
    else:
        try:
            for event in yaml.parse(text, Loader=yaml.SafeLoader):
                if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                    raise SiteError(source, "YAML document", "YAML anchors/aliases are not allowed in a cloud answer",
                                    fix)
                if getattr(event, "tag", None) and not isinstance(event, yaml.DocumentStartEvent):
                    raise SiteError(source, "YAML document", f"YAML tags ({event.tag}) are not allowed in a cloud "
                                    "answer", fix)
            docs = [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError as exc:
            raise SiteError(source, "YAML document", f"malformed YAML ({exc.__class__.__name__})", fix) from None
    for doc in docs:
        if _depth(doc) > MAX_DEPTH:
            raise SiteError(source, "document", f"is nested deeper than {MAX_DEPTH} levels", fix)
    if not docs:
        raise SiteError(source, "document", "is empty", fix)
    return docs


def looks_structured(text: str) -> bool:
    """True when the text is JSON (not XML): used to route AWS answers to the right parser."""
    return text.lstrip().startswith(("{", "["))


def last_segment(url: Any) -> str:
    """``https://.../regions/r/routers/router-a`` -> ``router-a`` (also for ARM ids)."""
    return str(url or "").rstrip("/").rsplit("/", 1)[-1]
