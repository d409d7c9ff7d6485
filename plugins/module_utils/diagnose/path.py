"""Path layer: ping (loss, RTT), traceroute through the link, path MTU vs the MSS clamp (a black hole is
its own finding), the TCP 443 connect, and the upload throughput the HTTP probe measured.

Evidence in: the outputs of ``verify/probes.py`` (``parse_ping``, ``parse_traceroute``, ``discover_pmtu``,
``tcp_probe``). Findings out.
"""

from __future__ import annotations

from typing import Any

from ..verify.model import in_any
from .causes import finding

TCP_IP_HEADERS = 40
LOSS_DEGRADED_PCT = 10.0
LOSS_BROKEN_PCT = 80.0


def mtu_blackhole(pmtu: dict[str, Any]) -> dict[str, Any]:
    """From ``discover_pmtu``'s probes: the MTU the path really carries, and whether packets up to what
    ICMP announced (or 1500) vanished without any ICMP "fragmentation needed" (a black hole)."""
    probes = pmtu.get("probes") or []
    reported = [p["reported_mtu"] for p in probes if p.get("reported_mtu")]
    announced = min(reported) if reported else 1500
    silent = [p["mtu"] for p in probes if not p.get("ok") and not p.get("reported_mtu") and p["mtu"] <= announced]
    carried = pmtu.get("pmtu")
    return {"announced": announced, "carried": carried, "silent_losses": silent,
            "blackhole": bool(silent) and carried is not None and carried < announced}


def evaluate_path(target: str, ping: dict[str, Any] | None, hops: list[dict[str, Any]] | None,
                  pmtu: dict[str, Any] | None, tcp: dict[str, Any] | None, tcp_mss: int | None,
                  link_cidrs: list[str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    findings: list[dict[str, Any]] = []
    facts: dict[str, Any] = {"target": target}
    loss = None
    if ping is not None:
        loss = ping.get("loss_pct")
        facts.update(loss_pct=loss, rtt_avg_ms=ping.get("rtt_avg_ms"))
        ev = [f"ping {target}: {ping.get('transmitted')} sent, {ping.get('received')} received, {loss}% loss, "
              f"rtt avg {ping.get('rtt_avg_ms')} ms"] + [f"from {e['from']}: {e['error']}" for e in ping.get("errors") or []]
        if not ping.get("received"):
            findings.append(finding("path.unreachable", f"{target} does not answer ping from the LAN", ev))
        elif loss is not None and loss >= LOSS_DEGRADED_PCT:
            findings.append(finding("path.packet_loss", f"{loss}% of pings to {target} were lost", ev,
                                    "broken" if loss >= LOSS_BROKEN_PCT else "degraded", loss_pct=loss))
    if hops is not None:
        link_hops = [h["address"] for h in hops if h.get("address") and in_any(h["address"], link_cidrs)]
        facts.update(hops=[h.get("address") for h in hops], link_hops=link_hops)
    lossy = loss is not None and loss >= LOSS_DEGRADED_PCT
    if pmtu is not None and ping is not None and ping.get("received") and not lossy:
        bh = mtu_blackhole(pmtu)
        facts["mtu"] = {**bh, "tcp_mss": tcp_mss}
        if bh["blackhole"]:
            max_mss = (bh["carried"] or 0) - TCP_IP_HEADERS
            ev = [f"DF probe of {p['mtu']} bytes: {'reply' if p['ok'] else 'no reply'}"
                  + (f", ICMP says MTU {p['reported_mtu']}" if p.get("reported_mtu") else "")
                  for p in pmtu.get("probes") or []]
            clamp_ok = tcp_mss is not None and tcp_mss <= max_mss
            findings.append(finding(
                "path.mtu_blackhole",
                f"packets up to {bh['announced']} bytes should pass but only {bh['carried']} do, with no ICMP "
                f"fragmentation-needed: TCP MSS {tcp_mss} needs {None if tcp_mss is None else tcp_mss + TCP_IP_HEADERS}"
                f"-byte packets (max MSS on this path {max_mss})",
                ev, "info" if clamp_ok else "broken", carried=bh["carried"], max_mss=max_mss))
    if tcp is not None:
        facts["tcp443"] = tcp
        ev = [f"TCP connect {tcp.get('host')}:{tcp.get('port')} -> {tcp.get('result')} in {tcp.get('elapsed_s')} s"
              + (f" ({tcp.get('errno')})" if tcp.get("errno") else "")]
        if tcp.get("result") == "timeout" and (ping or {}).get("received"):
            findings.append(finding("path.tcp443_blocked",
                                    f"ping reaches {target} but TCP {tcp.get('port')} times out: a firewall drops it",
                                    ev))
        elif tcp.get("result") == "refused":
            findings.append(finding("path.tcp443_refused", f"{target}:{tcp.get('port')} refuses connections", ev))
    return findings, facts


def evaluate_throughput(mbps: float | None, bytes_sent: int, seconds: float | None,
                        minimum_mbps: float) -> list[dict[str, Any]]:
    """A low-throughput finding when the probe upload ran slower than ``minimum_mbps``."""
    if mbps is None or not bytes_sent or minimum_mbps <= 0 or mbps >= minimum_mbps:
        return []
    return [finding("path.low_throughput",
                    f"the probe upload of {bytes_sent} bytes took {seconds} s: {mbps} Mbit/s "
                    f"(expected at least {minimum_mbps:g} Mbit/s)",
                    [f"STOW-RS upload: {bytes_sent} bytes in {seconds} s = {mbps} Mbit/s"], mbps=mbps)]
