"""Evaluate repeatedly until nothing fails or a deadline passes (the tunnels/BGP need a moment after a push)."""

from __future__ import annotations

import time
from typing import Any, Callable

Evaluation = tuple[list[dict[str, Any]], dict[str, Any]]


def until_passing(evaluate: Callable[[], Evaluation], timeout_s: float, interval_s: float = 0.5,
                  sleep: Callable[[float], None] = time.sleep) -> tuple[list[dict[str, Any]], dict[str, Any], float, int]:
    """Run ``evaluate`` until no check fails or ``timeout_s`` passed; return (checks, facts, elapsed, rounds)."""
    start = time.monotonic()
    rounds = 0
    while True:
        rounds += 1
        checks, facts = evaluate()
        elapsed = time.monotonic() - start
        if not any(c["status"] == "fail" for c in checks) or elapsed >= timeout_s:
            return checks, facts, round(elapsed, 3), rounds
        sleep(min(interval_s, max(0.0, timeout_s - elapsed)))
