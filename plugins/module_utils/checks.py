"""One shape for every verification result, so reports and drift can aggregate them.

Every verification module returns ``checks``: a list of :func:`check` dicts.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Iterator

STATUSES = ("pass", "fail", "warn", "skip")
GROUPS = ("input", "network", "tls", "dicomweb", "pacs", "drift")


def check(
    check_id: str,
    group: str,
    title: str,
    status: str,
    duration_s: float = 0.0,
    detail: dict[str, Any] | None = None,
    cause: str | None = None,
    action: str | None = None,
) -> dict[str, Any]:
    """Build one check result (``cause``/``action`` explain a failure the way an admin needs it)."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, not {status!r}")
    if group not in GROUPS:
        raise ValueError(f"group must be one of {GROUPS}, not {group!r}")
    return {
        "id": check_id,
        "group": group,
        "title": title,
        "status": status,
        "duration_s": round(float(duration_s), 3),
        "detail": detail or {},
        "cause": cause,
        "action": action,
    }


def failed(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The checks whose status is ``fail``."""
    return [c for c in checks if c["status"] == "fail"]


def check_line(c: dict[str, Any]) -> str:
    """``id: title -- likely cause: ... (action: ...)`` for one check."""
    line = f"{c.get('id')}: {c.get('title')}"
    if c.get("cause"):
        line += f" -- likely cause: {c['cause']}"
    if c.get("action"):
        line += f" (action: {c['action']})"
    return line


def summary_message(checks: list[dict[str, Any]]) -> str:
    """One line per failed check; empty when all passed."""
    return "\n".join(check_line(c) for c in failed(checks))


@contextmanager
def timer() -> Iterator[dict[str, float]]:
    """``with timer() as t: ...`` then ``t["s"]`` holds the elapsed seconds."""
    box = {"s": 0.0}
    start = time.monotonic()
    try:
        yield box
    finally:
        box["s"] = time.monotonic() - start
