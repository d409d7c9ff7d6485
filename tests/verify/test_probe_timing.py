"""Firewall probes: how long a blocked port is waited for, and one answer out of two SYNs."""

from __future__ import annotations

import socket
import threading

from ansible_collections.stowpath.core.plugins.module_utils.verify import probes


def r(result: str, elapsed: float = 0.002, port: int = 443) -> dict:
    return {"host": "h", "port": port, "source": None, "result": result, "errno": None, "elapsed_s": elapsed}


def test_blocked_wait_follows_the_allowed_round_trip() -> None:
    assert probes.blocked_wait([r("open", 0.002)], 2.0) == probes.BLOCKED_MIN_WAIT_S
    assert probes.blocked_wait([r("open", 0.12)], 2.0) == 1.2
    assert probes.blocked_wait([r("open", 0.5)], 2.0) == 2.0           # never beyond the timeout
    assert probes.blocked_wait([r("timeout", 2.0)], 2.0) == 2.0        # path not proven: full timeout
    assert probes.blocked_wait([], 2.0) == 2.0


def test_any_answer_wins_over_silence() -> None:
    assert probes.merge_attempts([r("timeout"), r("open")])["result"] == "open"
    assert probes.merge_attempts([r("refused"), r("timeout")])["result"] == "refused"
    merged = probes.merge_attempts([r("timeout"), r("timeout")])
    assert merged["result"] == "timeout" and merged["attempts"] == 2


def test_probe_ports_on_loopback() -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    port = srv.getsockname()[1]
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    threading.Thread(target=lambda: srv.accept(), daemon=True).start()
    try:
        allowed, blocked, wait = probes.probe_ports("127.0.0.1", [port], [closed_port], None, 2.0)
    finally:
        srv.close()
    assert allowed[0]["result"] == "open" and wait == probes.BLOCKED_MIN_WAIT_S
    # a reset is an answer: the port is not blocked by a firewall (evaluate_firewall fails it)
    assert blocked[0]["result"] == "refused" and blocked[0]["attempts"] == 2
