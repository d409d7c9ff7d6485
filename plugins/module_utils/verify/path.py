"""Path verification from the LAN side: ping, traceroute hops through the link, path MTU vs MSS clamp."""

from __future__ import annotations

from typing import Any

from ..checks import check
from .model import in_any

TCP_IP_HEADERS = 40  # IPv4 + TCP without options: MSS = MTU - 40


def evaluate_ping(target: str, ping: dict[str, Any], duration_s: float = 0.0) -> dict[str, Any]:
    detail = {"target": target, **{k: ping.get(k) for k in ("transmitted", "received", "loss_pct", "rtt_avg_ms", "errors")}}
    title = f"Ping {target} from the LAN side"
    if ping.get("received"):
        status = "warn" if ping.get("loss_pct", 0) > 0 else "pass"
        return check("network.path.ping", "network", title, status, duration_s, detail,
                     f"{ping['loss_pct']}% packet loss" if status == "warn" else None)
    errors = ping.get("errors") or []
    text = " ".join(e["error"] for e in errors).lower()
    where = errors[0]["from"] if errors else None
    if "unreachable" in text and "net" in text:
        cause = f"route missing: {where} has no route to {target}"
        action = f"check the route to the cloud CIDR on {where} (bgp_status / static routes)"
    elif "unreachable" in text:
        cause = f"{target} unreachable from {where} (host down or no route on the far side)"
        action = "check the cloud side and the route back to the LAN"
    elif "filtered" in text or "prohibited" in text:
        cause = f"firewall blocking ICMP at {where}"
        action = "allow ICMP echo from lan_cidrs to dicomweb_cidrs (allow_icmp_diagnostics)"
    else:
        cause = (f"no reply from {target}: tunnel down, route missing (on the gateway or in the cloud), "
                 "or ICMP blocked by a firewall")
        action = "run tunnel_status and bgp_status on the gateway; check the firewall allows ICMP echo"
    return check("network.path.ping", "network", title, "fail", duration_s, detail, cause, action)


def evaluate_traceroute(target: str, hops: list[dict[str, Any]], link_cidrs: list[str],
                        duration_s: float = 0.0) -> tuple[dict[str, Any], dict[str, Any]]:
    reached = any(h.get("address") == target for h in hops)
    link_hops = [h["address"] for h in hops if h.get("address") and in_any(h["address"], link_cidrs)]
    silent = [h["ttl"] for h in hops if not h.get("address") and not (reached and h["ttl"] > _ttl_of(hops, target))]
    answered = [h["address"] for h in hops if h.get("address")]
    detail = {"target": target, "hops": hops, "link_cidrs": link_cidrs, "link_hops": link_hops, "reached": reached}
    title = f"Traceroute to {target} goes through the link ({', '.join(link_cidrs) or 'no link CIDRs given'})"
    if reached and link_hops:
        status, cause, action = "pass", None, None
    elif reached and not link_cidrs:
        status, cause, action = "warn", "no link CIDRs to compare the hops with", "pass site or link_cidrs"
    elif reached and silent:
        status, cause, action = ("warn", f"cannot prove the path: hop(s) {silent} did not answer and no answered hop "
                                 "is a tunnel/VIF address", "allow ICMP time-exceeded on the link or check manually")
    elif reached:
        status, cause, action = ("fail", f"the path to {target} does not go through the VPN/DX link (hops "
                                 f"{', '.join(answered)}): traffic to the cloud leaks via another route",
                                 "check the gateway's routes to dicomweb_cidrs and the LAN hosts' default gateway")
    else:
        last = answered[-1] if answered else None
        status = "fail"
        cause = (f"the path stops after {last}: route missing or tunnel down beyond it"
                 if last else "no hop answered: no route from this host, or everything ICMP is blocked")
        action = "run tunnel_status and bgp_status on the gateway"
    facts = {"reached": reached, "hops": [h.get("address") for h in hops], "link_hops": link_hops}
    return check("network.path.traceroute", "network", title, status, duration_s, detail, cause, action), facts


def _ttl_of(hops: list[dict[str, Any]], target: str) -> int:
    return next((h["ttl"] for h in hops if h.get("address") == target), 10**6)


def evaluate_mtu(target: str, pmtu: dict[str, Any], tcp_mss: int | None, duration_s: float = 0.0) -> dict[str, Any]:
    value = pmtu.get("pmtu")
    max_mss = value - TCP_IP_HEADERS if value else None
    detail = {"target": target, "path_mtu": value, "max_mss": max_mss, "tcp_mss": tcp_mss,
              "pmtud_blackhole": pmtu.get("blackhole"), "reported_by_icmp": pmtu.get("reported_by_icmp"),
              "probes": pmtu.get("probes", [])}
    title = f"Path MTU to {target} vs the TCP MSS clamp"
    if value is None:
        return check("network.path.mtu", "network", title, "fail", duration_s, detail,
                     "path MTU unknown: even small DF pings got no reply", "fix reachability first (ping)")
    if tcp_mss is None:
        if value < 1500:
            return check("network.path.mtu", "network", title, "warn", duration_s, detail,
                         f"path MTU {value} < 1500 and no MSS clamp configured: TCP relies on PMTUD",
                         f"clamp the TCP MSS to {max_mss} on the link")
        return check("network.path.mtu", "network", title, "pass", duration_s, detail)
    if tcp_mss <= max_mss:  # type: ignore[operator]
        return check("network.path.mtu", "network", title, "pass", duration_s, detail)
    if pmtu.get("blackhole"):
        return check("network.path.mtu", "network", title, "fail", duration_s, detail,
                     f"MTU: the MSS clamp {tcp_mss} exceeds what the path carries (MTU {value} -> MSS {max_mss}) "
                     "and large packets vanish without ICMP: big uploads (STOW-RS) will stall",
                     f"set tcp_mss to {max_mss} or lower")
    return check("network.path.mtu", "network", title, "warn", duration_s, detail,
                 f"MTU: the MSS clamp {tcp_mss} exceeds what the path carries (MTU {value} -> MSS {max_mss}); "
                 "TCP depends on path MTU discovery", f"set tcp_mss to {max_mss} or lower")
