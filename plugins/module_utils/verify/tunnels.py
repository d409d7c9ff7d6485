"""Tunnel verification: every expected tunnel ESTABLISHED with an installed CHILD SA carrying its traffic."""

from __future__ import annotations

from typing import Any, Mapping

from ..checks import check
from .model import covers, expected

UP_IKE = "ESTABLISHED"
UP_CHILD = "INSTALLED"


def _diagnose(exp: dict[str, Any], sas: list[dict[str, Any]], conf: dict[str, Any] | None,
              configured_known: bool) -> tuple[str, str | None, str | None]:
    """(status, cause, action) for one expected tunnel."""
    peer = exp["remote_outside"]
    if configured_known and conf is None:
        return ("fail", f"tunnel not configured: no IPsec connection to {peer} is loaded on the gateway",
                "push the gateway configuration (swanctl --load-all) and check it loaded without errors")
    established = [s for s in sas if s.get("ike_state") == UP_IKE]
    if not sas:
        return ("fail", f"tunnel down: no IKE SA with {peer} (IKE not answered or rejected: UDP 500/4500 "
                        "blocked, cloud endpoint down, PSK or proposal mismatch)",
                f"check UDP 500/4500 to {peer}, the IKE log on the gateway and that the PSK matches the vendor file")
    if not established:
        states = ", ".join(sorted({str(s.get('ike_state')) for s in sas}))
        return ("fail", f"tunnel down: IKE with {peer} is {states}, not ESTABLISHED (peer not answering, "
                        "or authentication/proposal rejected)",
                f"check UDP 500/4500 to {peer} and compare PSK and IKE proposal with the vendor file")
    children = [c for s in established for c in s.get("children") or []]
    installed = [c for c in children if c.get("state") == UP_CHILD]
    if not installed:
        states = ", ".join(sorted({str(c.get('state')) for c in children})) or "none"
        return ("fail", f"IKE with {peer} is up but no CHILD SA is installed (child state: {states}): traffic "
                        "selectors or ESP proposal rejected, or the tunnel inside address is missing locally",
                "compare traffic selectors and ESP proposal with the cloud's; check the tunnel interface addresses")
    li, ri = exp.get("local_inside"), exp.get("remote_inside")
    if li and ri and not any(covers(c.get("local_ts") or [], li) and covers(c.get("remote_ts") or [], ri)
                             for c in installed):
        sel = "; ".join(f"{' '.join(c.get('local_ts') or [])} <-> {' '.join(c.get('remote_ts') or [])}"
                        for c in installed)
        return ("fail", f"the CHILD SA with {peer} does not carry the tunnel inside addresses {li} <-> {ri} "
                        f"(selectors {sel}): BGP over this tunnel cannot pass",
                "include the inside /32s in the traffic selectors of this tunnel")
    if len(established) > 1:
        return ("warn", f"{len(established)} IKE SAs with {peer} (duplicate or rekey in progress)", None)
    return ("pass", None, None)


def evaluate_tunnels(expected_tunnels: list[dict[str, Any]], observed: list[dict[str, Any]],
                     configured: list[dict[str, Any]] | None = None, duration_s: float = 0.0
                     ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Compare expected tunnels (matched by the cloud's outside address) with the gateway's SAs."""
    checks, tunnels = [], []
    for exp in expected_tunnels:
        peer = exp["remote_outside"]
        sas = [s for s in observed if s.get("remote_outside") == peer]
        conf = None
        if configured is not None:
            conf = next((c for c in configured if peer in (c.get("remote_outside") or [])), None)
        status, cause, action = _diagnose(exp, sas, conf, configured is not None)
        best = next((s for s in sas if s.get("ike_state") == UP_IKE), sas[0] if sas else None)
        child = None
        if best:
            child = next((c for c in best.get("children") or [] if c.get("state") == UP_CHILD),
                         (best.get("children") or [None])[0])
        detail = {
            "name": exp["name"], "remote_outside": peer, "local_outside": exp.get("local_outside"),
            "configured": None if configured is None else conf is not None,
            "device_name": best.get("name") if best else (conf or {}).get("name"),
            "ike_state": best.get("ike_state") if best else None,
            "ike_version": best.get("ike_version") if best else None,
            "established_s": best.get("established_s") if best else None,
            "ike_algorithms": "/".join(str(best.get(k)) for k in ("encryption", "integrity", "dh_group")
                                       if best.get(k)) if best else None,
            "child_state": child.get("state") if child else None,
            "reqid": child.get("reqid") if child else None,
            "local_ts": child.get("local_ts") if child else [], "remote_ts": child.get("remote_ts") if child else [],
            "bytes_in": child.get("bytes_in") if child else None, "bytes_out": child.get("bytes_out") if child else None,
            "packets_in": child.get("packets_in") if child else None,
            "packets_out": child.get("packets_out") if child else None,
            "ike_sas": len(sas),
        }
        detail["up"] = status in ("pass", "warn")
        tunnels.append(detail)
        checks.append(check(f"network.tunnel.{exp['name']}", "network",
                            f"Tunnel {exp['name']} to {peer} ESTABLISHED with an installed CHILD SA",
                            status, duration_s, detail, cause, action))
    if not expected_tunnels:
        checks.append(check("network.tunnel", "network", "IPsec tunnels", "skip", duration_s,
                            {"reason": "the connection has no tunnels (Direct Connect or none expected)"}))
    facts = {"tunnels": tunnels, "all_up": all(t["up"] for t in tunnels),
             "up_count": sum(1 for t in tunnels if t["up"]), "expected_count": len(expected_tunnels),
             "unexpected_sas": sorted(s.get("name") for s in observed
                                      if s.get("remote_outside") not in {e["remote_outside"] for e in expected_tunnels})}
    return checks, facts


def tunnel_expectations(site: Mapping[str, Any] | None, tunnels: list[dict[str, Any]] | None = None
                        ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``(expected tunnels, expectation for the platform's state reader)``: ``tunnels`` when given (each needs
    ``remote_outside``; ``name`` defaults to it), else the site's. Raises ``ValueError`` for a tunnel
    without ``remote_outside``."""
    want = [dict(t) for t in tunnels] if tunnels is not None else expected(site or {})["tunnels"]
    for t in want:
        if not t.get("remote_outside"):
            raise ValueError(f"tunnel {t!r} has no remote_outside")
        t.setdefault("name", t["remote_outside"])
    return want, expected(site) if site else {"tunnels": want}
