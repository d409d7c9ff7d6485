"""Gateway layer: IKE/IPsec SA state per tunnel, with the reason for a down tunnel read from the device's
own IKE log (charon's log file or journal, IOS-XE ``show logging``, the SRX ``show log kmd``).

Evidence in: the expected tunnels, the observed SAs (``verify/model.py`` TunnelState shape), the loaded
connections (or None when the platform does not list them) and the log lines. Findings out.
"""

from __future__ import annotations

import re
from typing import Any

from .causes import finding

# (regex, event) per log dialect; events: up, auth_failed, no_proposal, retransmit_init, giving_up,
# dpd, deleted, down. The last event of a tunnel after its last "up" explains why it is down.
PATTERNS: dict[str, list[tuple[re.Pattern[str], str]]] = {
    "charon": [(re.compile(p), e) for p, e in (
        (r"IKE_SA \S+ established between", "up"),
        (r"CHILD_SA \S+ established with SPIs", "up"),
        (r"received AUTHENTICATION_FAILED notify", "auth_failed"),
        (r"authentication of '[^']*' with pre-shared key failed", "auth_failed"),
        (r"no shared key found for", "auth_failed"),
        (r"received NO_PROPOSAL_CHOSEN notify", "no_proposal"),
        (r"no acceptable proposal found|no IKE config found for", "no_proposal"),
        (r"retransmit \d+ of request with message ID 0\b", "retransmit_init"),
        (r"sending DPD request", "dpd"),
        (r"giving up after \d+ retransmits", "giving_up"),
        (r"establishing IKE_SA failed, peer not responding", "retransmit_init"),
        (r"received DELETE for IKE_SA", "deleted"),
    )],
    "ios": [(re.compile(p, re.I), e) for p, e in (
        (r"IKEV2_SESSION_STATUS: .*is UP|%IKEV2-5-SA_UP|%CRYPTO-5-SESSION_STATUS: .*is UP", "up"),
        (r"AUTHENTICATION_FAILED|Auth exchange failed|authentication data FAILED|%CRYPTO-6-IKMP_AUTH_FAIL", "auth_failed"),
        (r"NO_PROPOSAL_CHOSEN|no proposal chosen|%CRYPTO-6-IKMP_NO_SA_PROPOSAL", "no_proposal"),
        (r"Dead Peer Detection|DPD.*(timeout|dead)|peer .* is dead", "dpd"),
        (r"(retransmit|Retransmitting).*(SA_INIT|IKE_SA_INIT)|Failed to receive the AUTH msg|no response from peer",
         "retransmit_init"),
        (r"IKEV2_SESSION_STATUS: .*is DOWN|%IKEV2-5-SA_DOWN|%CRYPTO-5-SESSION_STATUS: .*is DOWN", "down"),
    )],
    "kmd": [(re.compile(p, re.I), e) for p, e in (
        (r"KMD_VPN_UP_ALARM_USER|IKE Phase-2.*succeeded|tunnel is up", "up"),
        (r"Authentication failed|AUTHENTICATION_FAILED|pre-shared key.*(mismatch|failed)", "auth_failed"),
        (r"No proposal chosen|NO_PROPOSAL_CHOSEN", "no_proposal"),
        (r"DPD.*(timeout|dead|not responding)|dead peer", "dpd"),
        (r"Peer .*not responding|negotiation (timed out|timeout)|Timed out", "retransmit_init"),
        (r"KMD_VPN_DOWN_ALARM_USER|tunnel is down", "down"),
    )],
}

_CHARON_THREAD = re.compile(r"\b(\d+)\[[A-Z]{3}\] ")
EVENT_CAUSE = {"auth_failed": "ike.auth_failed", "no_proposal": "ike.no_proposal",
               "retransmit_init": "ike.peer_unreachable", "dpd_timeout": "ike.dpd_timeout",
               "deleted": "ike.deleted_by_peer", "down": "ike.tunnel_down"}


def attribute_lines(lines: list[str], tunnels: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The log lines of each tunnel: lines naming its connection (``<prefix>tunN``, ``TunnelN``,
    ``st0.N``) or its cloud outside address; a charon line naming neither belongs to the tunnel last
    seen on the same charon thread."""
    keys: list[tuple[str, re.Pattern[str]]] = []
    for t in tunnels:
        idx = t.get("index") or "".join(ch for ch in str(t["name"]) if ch.isdigit())
        alts = [re.escape(str(t["remote_outside"]) + "") + r"(?![\d])", rf"-{re.escape(str(t['name']))}\b"]
        if t.get("interface"):
            alts.append(rf"\b{re.escape(str(t['interface']))}\b")
        if idx:
            alts.append(rf"\bTunnel{idx}\b")
        keys.append((t["name"], re.compile("|".join(alts))))
    out: dict[str, list[str]] = {t["name"]: [] for t in tunnels}
    named = [next((name for name, rx in keys if rx.search(line)), None) for line in lines]
    threads = [(m.group(1) if (m := _CHARON_THREAD.search(line)) else None) for line in lines]
    thread_owner: dict[str, str] = {}
    for i, line in enumerate(lines):
        owner, thread = named[i], threads[i]
        if thread and owner:
            thread_owner[thread] = owner
        elif thread:
            # charon names the peer in the packet line right after ("retransmit ...", then "sending packet")
            ahead = next((named[j] for j in range(i + 1, min(i + 4, len(lines)))
                          if threads[j] == thread and named[j]), None)
            owner = ahead or thread_owner.get(thread)
        if owner:
            out[owner].append(line.rstrip())
    return out


def last_failure(lines: list[str], dialect: str) -> tuple[str | None, list[str]]:
    """``(event, evidence lines)``: the failure that explains a down tunnel, from its log lines
    (everything after the last time it came up)."""
    events: list[tuple[str, str]] = []
    for line in lines:
        for rx, ev in PATTERNS.get(dialect, []):
            if rx.search(line):
                events.append((ev, line))
                break
    last_up = max((i for i, (ev, _) in enumerate(events) if ev == "up"), default=-1)
    after = events[last_up + 1:]
    if not after:
        return None, []
    evidence = [line for _, line in after][-6:]
    kinds = [ev for ev, _ in after]
    for strong in ("auth_failed", "no_proposal"):
        if strong in kinds[-4:]:
            return strong, evidence
    # DPD probes that were never answered, and no fresh IKE_SA_INIT since: DPD timeout
    if "dpd" in kinds and "giving_up" in kinds[kinds.index("dpd"):] and "retransmit_init" not in kinds[-2:]:
        return "dpd_timeout", evidence
    if "retransmit_init" in kinds:
        return "retransmit_init", evidence
    if "giving_up" in kinds:
        return "dpd_timeout" if "dpd" in kinds else "retransmit_init", evidence
    return kinds[-1] if kinds[-1] in EVENT_CAUSE else None, evidence


def _is_up(sa: dict[str, Any] | None) -> bool:
    return bool(sa) and sa.get("ike_state") == "ESTABLISHED" and any(
        c.get("state") == "INSTALLED" for c in sa.get("children") or [])


def evaluate_gateway(expected_tunnels: list[dict[str, Any]], observed: list[dict[str, Any]],
                     configured: list[dict[str, Any]] | None, log_lines: list[str],
                     dialect: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Findings for the tunnels and the per-tunnel state (``{name: {up, ike_state, reason}}``)."""
    findings: list[dict[str, Any]] = []
    state: dict[str, Any] = {}
    if not expected_tunnels:
        return findings, {"tunnels": {}, "up": 0, "expected": 0}
    per_tunnel = attribute_lines(log_lines, expected_tunnels)
    up_names = []
    down: list[tuple[dict[str, Any], str | None, list[str], dict[str, Any] | None]] = []
    for t in expected_tunnels:
        sa = next((s for s in observed if s.get("remote_outside") == t["remote_outside"]), None)
        if _is_up(sa):
            up_names.append(t["name"])
            state[t["name"]] = {"up": True, "ike_state": "ESTABLISHED", "remote": t["remote_outside"]}
            continue
        event, evidence = last_failure(per_tunnel.get(t["name"], []), dialect)
        state[t["name"]] = {"up": False, "ike_state": (sa or {}).get("ike_state") or "none",
                            "remote": t["remote_outside"], "reason": event}
        down.append((t, event, evidence, sa))
    severity = "degraded" if up_names else "broken"
    for t, event, evidence, sa in down:
        loaded = configured is None or any(t["remote_outside"] in (c.get("remote_outside") or []) for c in configured)
        sa_line = (f"SA to {t['remote_outside']}: IKE {(sa or {}).get('ike_state') or 'none'}, CHILD "
                   f"{', '.join(c.get('state', '?') for c in (sa or {}).get('children') or []) or 'none'}")
        other = f"; {', '.join(up_names)} still up, traffic flows over it" if up_names else "; no tunnel is up"
        if not loaded:
            findings.append(finding("ike.tunnel_not_configured",
                                    f"tunnel {t['name']} to {t['remote_outside']} is not configured on the gateway{other}",
                                    [sa_line], severity, tunnel=t["name"]))
            continue
        cause = EVENT_CAUSE.get(event or "", "ike.tunnel_down")
        why = {"ike.auth_failed": "the peer rejected our authentication (AUTHENTICATION_FAILED): pre-shared key "
                                  "mismatch",
               "ike.no_proposal": "no proposal chosen: the algorithms do not match",
               "ike.peer_unreachable": "IKE requests to the endpoint are not answered",
               "ike.dpd_timeout": "dead peer detection got no answer",
               "ike.deleted_by_peer": "the cloud endpoint deleted the IKE SA",
               "ike.tunnel_down": "the device log does not say why"}[cause]
        findings.append(finding(cause, f"tunnel {t['name']} to {t['remote_outside']} is down: {why}{other}",
                                [sa_line, *evidence], severity, tunnel=t["name"]))
    return findings, {"tunnels": state, "up": len(up_names), "expected": len(expected_tunnels)}
