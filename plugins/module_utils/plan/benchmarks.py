"""Duration estimates for a change window, from the measured benchmarks (README, "Benchmarks")."""

from __future__ import annotations

from typing import Any, Mapping

# Seconds measured on the lab (bench/vendor_bench.py, bench/lab_bench.py): connect + diff + apply, confirm.
PUSH_S: dict[str, tuple[float, float]] = {"netmiko": (2.1, 0.4), "netconf": (1.6, 0.4), "napalm": (2.1, 0.4),
                                          "linux": (5.0, 0.5)}
# The lab: tunnels ESTABLISHED 0.3 s and BGP Established 4.0 s after the push; a real cloud takes longer
# (IKE to a distant endpoint, BGP connect-retry), bounded by the verification timeouts.
VERIFY_LAB_S = 4.3
VERIFY_TIMEOUTS_S = {"tunnels": 30, "bgp": 60, "path": 30}


def estimate(transport: str, changed: bool, site: Mapping[str, Any], confirm_timeout: int) -> dict[str, Any]:
    push, confirm = PUSH_S.get(transport, (3.0, 0.5))
    if not changed:
        return {"expected_s": round(push, 1), "worst_case_s": round(push, 1),
                "basis": "no change: one read of the configuration", "outage": "none"}
    expected = push + VERIFY_LAB_S + confirm
    worst = push + sum(VERIFY_TIMEOUTS_S.values()) + confirm
    return {"expected_s": round(expected, 1), "worst_case_s": round(worst, 1),
            "confirm_timer_s": confirm_timeout,
            "basis": f"{transport} push {push} s + verification {VERIFY_LAB_S} s (lab) + confirm {confirm} s; worst "
                     "case = the verification timeouts (tunnels 30 s, BGP 60 s, path 30 s)",
            "outage": "none for existing traffic unless a shared line above says otherwise"}
