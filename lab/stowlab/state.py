"""What ``up`` recorded in the state directory: ``state.json`` (the build) and ``params.json`` (the secrets)."""

from __future__ import annotations

import json
from typing import Any

from .topology import STATE


def _load(name: str) -> dict[str, Any] | None:
    try:
        return json.loads((STATE / name).read_text())
    except (OSError, ValueError):
        return None


def load_state() -> dict[str, Any] | None:
    return _load("state.json")


def load_params() -> dict[str, Any] | None:
    return _load("params.json")
