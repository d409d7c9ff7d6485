"""Routing layer: BGP state per neighbor with its last error, prefixes received/advertised, and the route
the gateway uses for the DICOMweb range (through the tunnel/VIF, or not).

Evidence in: ``bgp`` (the neutral BGP shape of ``verify/model.py``), ``details`` (per neighbor: state,
last reset / NOTIFICATION text, messages received, whether an MD5 key is configured), ``log_lines``
(router logs, kernel TCP-MD5 messages), ``route`` (the route the gateway's forwarding uses toward the
DICOMweb host: ``{dev, gateway, prefix}`` or ``{error}``) and the expectations. Findings out.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from .causes import finding

_AS = re.compile(r"bad peer as|peer in wrong as|bad peer as number|open message error/bad peer|2/2 \(", re.I)
_HOLD = re.compile(r"hold timer expired|hold time expired|holdtime expired|code 4 \(hold", re.I)
_MD5 = re.compile(r"md5|tcp[- ]?ao|badauth|bad authentication|invalid md5 digest|no md5 digest", re.I)


def _covered(prefixes: list[str], cidr: str) -> bool:
    want = ipaddress.ip_network(cidr, strict=False)
    for p in prefixes:
        try:
            net = ipaddress.ip_network(p, strict=False)
        except ValueError:
            continue
        if want.version == net.version and want.subnet_of(net):  # type: ignore[arg-type]
            return True
    return False


def classify_neighbor(address: str, detail: dict[str, Any], log_lines: list[str]) -> tuple[str, list[str]]:
    """The cause id of a neighbor that is not Established, and the evidence."""
    texts = [f"{k}: {detail[k]}" for k in ("state", "last_reset", "last_notification", "last_error")
             if detail.get(k)]
    mine = [line.strip() for line in log_lines if re.search(rf"(?<![\d.]){re.escape(address)}(?![\d])", line)]
    joined = " ".join(texts + mine)
    if _AS.search(joined):
        return "bgp.peer_as_mismatch", texts + mine[-4:]
    if any(_MD5.search(line) for line in mine):
        return "bgp.auth_failed", texts + mine[-4:]
    notification = str(detail.get("last_notification") or "")
    if detail.get("password") and detail.get("state") in ("Connect", "Active") and \
            (not notification or "cease" in notification.lower()):
        return "bgp.auth_failed", texts + ["a TCP MD5 key is configured for this neighbor, no NOTIFICATION came and "
                                           "the TCP session does not come up: the keys differ (the kernel drops "
                                           "unsigned or wrongly signed segments silently)"]
    if _HOLD.search(joined):
        return "bgp.hold_timer_expired", texts + mine[-4:]
    return "bgp.neighbor_down", texts + mine[-4:]


def evaluate_routing(exp: dict[str, Any], bgp: dict[str, Any] | None, details: dict[str, dict[str, Any]],
                     log_lines: list[str], route: dict[str, Any] | None,
                     tunnels_down: dict[str, str] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Findings for BGP and the route to the DICOMweb range. ``tunnels_down``: neighbor address -> tunnel
    name for tunnels the gateway layer found down (their BGP sessions are a consequence, not a cause)."""
    findings: list[dict[str, Any]] = []
    facts: dict[str, Any] = {"neighbors": {}, "route": route}
    tunnels_down = tunnels_down or {}
    if exp.get("routing", "bgp") == "bgp" and bgp is not None:
        neighbors = (bgp.get("summary") or {}).get("neighbors") or {}
        established = [n["address"] for n in exp.get("neighbors") or []
                       if (neighbors.get(n["address"]) or {}).get("state") == "Established"]
        for n in exp.get("neighbors") or []:
            addr = n["address"]
            obs = neighbors.get(addr) or {}
            det = {**(details.get(addr) or {}), "state": obs.get("state") or "not configured"}
            facts["neighbors"][addr] = {"name": n.get("name"), "state": det["state"],
                                        "prefixes_received": obs.get("prefixes_received"),
                                        "prefixes_sent": obs.get("prefixes_sent"),
                                        "last_reset": det.get("last_reset"),
                                        "last_notification": det.get("last_notification")}
            if det["state"] == "Established":
                continue
            if addr in tunnels_down:
                facts["neighbors"][addr]["consequence_of"] = f"tunnel {tunnels_down[addr]} down"
                continue
            cause, evidence = classify_neighbor(addr, det, log_lines)
            severity = "degraded" if established else "broken"
            findings.append(finding(cause, f"BGP neighbor {addr} ({n.get('name')}) is {det['state']}"
                                    + (f"; {', '.join(established)} Established" if established else ""),
                                    evidence, severity, neighbor=addr))
        if established:
            received = sorted({p for a in established for p in (bgp.get("received") or {}).get(a, [])})
            advertised = sorted({p for a in established for p in (bgp.get("advertised") or {}).get(a, [])})
            facts.update(received=received, advertised=advertised)
            missing = [c for c in exp.get("receive") or [] if not _covered(received, c)]
            if missing:
                findings.append(finding(
                    "bgp.prefix_not_received",
                    f"the cloud advertises {', '.join(received) or 'nothing'} over {', '.join(established)}; "
                    f"nothing covers {', '.join(missing)}",
                    [f"received from {a}: {', '.join((bgp.get('received') or {}).get(a, [])) or 'none'}"
                     for a in established]))
            unadv = [c for c in exp.get("advertise") or [] if not _covered(advertised, c)]
            if unadv:
                findings.append(finding("bgp.lan_not_advertised",
                                        f"{', '.join(unadv)} is not advertised to the cloud",
                                        [f"advertised: {', '.join(advertised) or 'none'}"]))
    links = [i for i in exp.get("link_interfaces") or [] if i]
    if route is not None and exp.get("cloud_cidrs"):
        target = route.get("target") or exp["cloud_cidrs"][0]
        if route.get("error") or not route.get("dev"):
            findings.append(finding("route.missing", f"the gateway has no route to {target}",
                                    [str(route.get("error") or route)]))
        elif links and route["dev"] not in links:
            findings.append(finding(
                "route.via_internet",
                f"traffic to {target} leaves via {route['dev']}"
                + (f" (next hop {route['gateway']})" if route.get("gateway") else "")
                + f", not the tunnel/VIF ({', '.join(links)})",
                [f"route to {target}: {route.get('prefix') or ''} dev {route['dev']} via {route.get('gateway') or '-'}"
                 f" ({route.get('protocol') or 'kernel'})"], route=route))
    return findings, facts


def route_from_table(routes: list[dict[str, Any]], target: str) -> dict[str, Any]:
    """The selected route covering ``target`` (longest prefix) from the neutral routes list."""
    ip = ipaddress.ip_address(target)
    best: tuple[int, dict[str, Any]] | None = None
    for r in routes:
        try:
            net = ipaddress.ip_network(r["prefix"], strict=False)
        except (KeyError, ValueError):
            continue
        if ip in net and r.get("selected", True) and (best is None or net.prefixlen > best[0]):
            best = (net.prefixlen, r)
    if best is None:
        return {"target": target, "error": f"no route to {target} in the routing table"}
    r = best[1]
    return {"target": target, "prefix": r["prefix"], "dev": (r.get("interfaces") or [None])[0],
            "gateway": (r.get("nexthops") or [None])[0], "protocol": r.get("protocol")}
