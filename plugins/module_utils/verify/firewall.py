"""Firewall verification: allowed TCP ports toward the cloud connect, every other port is blocked."""

from __future__ import annotations

from typing import Any

from ..checks import check


def evaluate_firewall(target: str, allowed: list[dict[str, Any]], blocked: list[dict[str, Any]],
                      duration_s: float = 0.0) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``allowed``/``blocked`` are :func:`probes.tcp_probe` results for the ports that must / must not pass."""
    checks = []
    for r in allowed:
        port, res = r["port"], r["result"]
        title = f"TCP {port} from the LAN reaches {target}"
        if res == "open":
            checks.append(check(f"network.firewall.allow.tcp{port}", "network", title, "pass", duration_s, r))
            continue
        if res == "refused":
            cause = (f"nothing listens on {target}:{port} (the network path and firewalls let the connection "
                     "through, the service answered with a reset)")
            action = "check the cloud service"
        elif res == "timeout":
            cause = (f"firewall blocking TCP {port} to {target} (no answer: a firewall drops it, on the gateway "
                     "or in the cloud), or the route/tunnel is down")
            action = f"allow TCP {port} from lan_cidrs to dicomweb_cidrs; run path_check to rule out routing"
        elif res == "unreachable":
            cause = f"{target} unreachable ({r.get('errno')}): route missing, or a firewall rejects TCP {port}"
            action = "check the routes to dicomweb_cidrs and the firewall policy"
        else:
            cause = f"TCP connect failed: {r.get('errno')}"
            action = "check the source address exists on this host"
        checks.append(check(f"network.firewall.allow.tcp{port}", "network", title, "fail", duration_s, r, cause,
                            action))
    for r in blocked:
        port, res = r["port"], r["result"]
        title = f"TCP {port} from the LAN to {target} is blocked"
        if res in ("timeout", "unreachable"):
            checks.append(check(f"network.firewall.block.tcp{port}", "network", title, "pass", duration_s, r))
        elif res in ("open", "refused"):
            what = "connects" if res == "open" else "gets an answer (reset) from the host"
            checks.append(check(
                f"network.firewall.block.tcp{port}", "network", title, "fail", duration_s, r,
                f"TCP {port} to {target} {what}: the firewall does not restrict traffic toward the cloud to the "
                "allowed ports", f"drop everything but TCP {', '.join(str(a['port']) for a in allowed) or 443} "
                "from lan_cidrs to dicomweb_cidrs"))
        else:
            checks.append(check(f"network.firewall.block.tcp{port}", "network", title, "warn", duration_s, r,
                                f"probe error {r.get('errno')}", None))
    facts = {"target": target, "allowed": {str(r["port"]): r["result"] for r in allowed},
             "blocked": {str(r["port"]): r["result"] for r in blocked}}
    return checks, facts
