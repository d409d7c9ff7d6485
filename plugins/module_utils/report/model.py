"""The onboarding report's data: every check, grouped into the sections a facility admin reads.

:func:`build_report` takes the masked site model, the ``checks`` of every verification module
(shape of :mod:`..checks`) and timings, and returns one JSON-ready dict that the JSON, JUnit and
HTML writers all render. Every failed check carries a likely cause and action: the module's own,
or else the row of the guide's "Common Issues" table (section 7) that matches it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Iterable

from ..checks import GROUPS, STATUSES
from .redaction import sanitize

SCHEMA = "stowpath/report/v1"

# The guide's "Common Issues" table (section 7), verbatim.
COMMON_ISSUES = [
    {"symptom": "TLS handshake failures", "cause": "Certificate mismatch or expired",
     "action": "Validate cert chain and expiration dates"},
    {"symptom": "Transfer timeouts", "cause": "Latency or firewall blocking",
     "action": "Increase timeouts; verify firewall allows 443"},
    {"symptom": "400/404/500 HTTP responses", "cause": "URL or payload error",
     "action": "Confirm endpoint path and payload format"},
]
_ROW = {r["symptom"]: r for r in COMMON_ISSUES}

# Report sections: (key, title, group, id pattern). First match wins; order is the page's order.
SECTIONS: list[tuple[str, str, str, str]] = [
    ("input", "Input and parameters", "input", r""),
    ("tunnels", "Tunnels", "network", r"\b(tunnel|ipsec|ike|sa)\b"),
    ("bgp", "BGP", "network", r"\bbgp\b"),
    ("routes", "Routes and path", "network", r"\b(route|routes|path|ping|traceroute|mtu|mss)\b"),
    ("firewall", "Firewall", "network", r"\b(firewall|nft|acl|policy)\b"),
    ("network", "Other network checks", "network", r""),
    ("tls", "TLS certificates and handshake", "tls", r""),
    ("dicomweb", "STOW-RS and QIDO-RS", "dicomweb", r""),
    ("pacs", "PACS", "pacs", r""),
    ("drift", "Drift", "drift", r""),
    ("other", "Other checks", "", r""),
]

_HTTP_RE = re.compile(r"\b(HTTP\s*)?(400|401|403|404|405|409|413|415|5[0-9]{2})\b")


def guide_row(c: dict[str, Any]) -> dict[str, str] | None:
    """The "Common Issues" row that matches a failed check (None when none applies)."""
    explicit = (c.get("detail") or {}).get("explanation", {})
    if isinstance(explicit, dict) and explicit.get("guide_row") in _ROW:
        return _ROW[explicit["guide_row"]]
    text = " ".join(str(c.get(k) or "") for k in ("id", "title", "cause")).lower()
    if "timeout" in text or "timed out" in text:
        return _ROW["Transfer timeouts"]
    if c.get("group") == "tls" or any(w in text for w in ("tls", "certificate", "handshake", "ssl", "expired")):
        return _ROW["TLS handshake failures"]
    if _HTTP_RE.search(text) or "endpoint path" in text or "payload" in text:
        return _ROW["400/404/500 HTTP responses"]
    if c.get("group") == "dicomweb":
        return _ROW["400/404/500 HTTP responses"]
    return None


def normalise_check(raw: Any) -> dict[str, Any]:
    """A check with every field present and a valid status (invalid input raises ValueError)."""
    if not isinstance(raw, dict):
        raise ValueError(f"a check must be a dict, not {type(raw).__name__}")
    missing = [k for k in ("id", "group", "title", "status") if not raw.get(k)]
    if missing:
        raise ValueError(f"check {raw.get('id', '?')!r} lacks {', '.join(missing)}")
    if raw["status"] not in STATUSES:
        raise ValueError(f"check {raw['id']!r}: status must be one of {STATUSES}, not {raw['status']!r}")
    try:
        duration = round(float(raw.get("duration_s") or 0.0), 3)
    except (TypeError, ValueError):
        duration = 0.0
    detail = raw.get("detail")
    return {"id": str(raw["id"]), "group": str(raw["group"]), "title": str(raw["title"]), "status": raw["status"],
            "duration_s": duration, "detail": detail if isinstance(detail, dict) else {"value": detail} if detail else {},
            "cause": raw.get("cause"), "action": raw.get("action")}


def section_of(c: dict[str, Any]) -> str:
    for key, _, group, pattern in SECTIONS:
        if group and c["group"] != group:
            continue
        if not group and c["group"] in GROUPS:
            continue
        if not pattern or re.search(pattern, c["id"].lower().replace("_", " ").replace(".", " ")):
            return key
    return "other"


def checks_from_results(results: Iterable[Any]) -> list[dict[str, Any]]:
    """The ``checks`` of registered module results (skipped or check-less results are ignored)."""
    out: list[dict[str, Any]] = []
    for r in results:
        if isinstance(r, dict) and isinstance(r.get("checks"), list):
            out.extend(r["checks"])
        elif isinstance(r, dict) and isinstance(r.get("results"), list):  # a loop's registered result
            out.extend(checks_from_results(r["results"]))
    return out


def overall(counts: dict[str, int]) -> str:
    if counts.get("fail"):
        return "fail"
    if counts.get("warn"):
        return "warn"
    if counts.get("pass"):
        return "pass"
    return "skip"


def build_report(site: dict[str, Any], checks: list[Any], timings: dict[str, Any] | None = None,
                 secrets: Iterable[str] = (), generated_at: datetime | None = None,
                 title: str | None = None) -> dict[str, Any]:
    """The report dict (sanitised: secret-named keys and known secret values masked)."""
    secret_list = [s for s in secrets if s]
    site = sanitize(dict(site), secret_list)
    normal = [sanitize(normalise_check(c), secret_list) for c in checks]
    site_name = str(site.get("site_name") or "unknown-site")
    counts = {s: sum(1 for c in normal if c["status"] == s) for s in STATUSES}
    groups: dict[str, dict[str, Any]] = {}
    for c in normal:
        g = groups.setdefault(c["group"], {**{s: 0 for s in STATUSES}, "duration_s": 0.0})
        g[c["status"]] += 1
        g["duration_s"] = round(g["duration_s"] + c["duration_s"], 3)
        c["section"] = section_of(c)
        if c["status"] == "fail":
            row = guide_row(c)
            c["guide_row"] = row["symptom"] if row else None
            if not c.get("cause"):
                c["cause"] = row["cause"] if row else "see detail"
            if not c.get("action"):
                c["action"] = row["action"] if row else "see detail and re-run the check"
    for g in groups.values():
        g["status"] = overall(g)
    sections = []
    for key, stitle, _, _ in SECTIONS:
        members = [c for c in normal if c["section"] == key]
        if members:
            scounts = {s: sum(1 for c in members if c["status"] == s) for s in STATUSES}
            sections.append({"key": key, "title": stitle, "status": overall(scounts), "counts": scounts,
                             "checks": members})
    clean_timings: dict[str, float] = {}
    for k, v in (timings or {}).items():
        try:
            clean_timings[str(k)] = round(float(v), 3)
        except (TypeError, ValueError):
            continue
    when = (generated_at or datetime.now(UTC)).astimezone(UTC)
    return {
        "schema": SCHEMA,
        "title": title or f"stowpath onboarding report: {site_name}",
        "site_name": site_name,
        "generated_at": when.isoformat(timespec="seconds"),
        "status": overall(counts),
        "summary": {"total": len(normal), **counts,
                    "duration_s": round(sum(c["duration_s"] for c in normal), 3)},
        "site": site,
        "timings": clean_timings,
        "groups": groups,
        "sections": [{k: v for k, v in s.items() if k != "checks"} | {"check_ids": [c["id"] for c in s["checks"]]}
                     for s in sections],
        "checks": normal,
        "failures": [{"id": c["id"], "title": c["title"], "group": c["group"], "cause": c["cause"],
                      "action": c["action"], "guide_row": c.get("guide_row")} for c in normal if c["status"] == "fail"],
        "common_issues": COMMON_ISSUES,
    }
