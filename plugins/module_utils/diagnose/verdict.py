"""The overall verdict: status (``healthy`` / ``degraded`` / ``broken``), the primary finding (the lowest
broken layer: the evidence there explains what fails above it) and which findings are consequences."""

from __future__ import annotations

from typing import Any

from .causes import LAYERS, ORDER

STATUS_ORDER = ("healthy", "degraded", "broken")
# degraded causes that make the layers above them fail (loss and a squeezed link time out TLS and uploads)
CAUSAL = ("path.packet_loss", "path.low_throughput")


def _key(f: dict[str, Any]) -> tuple[int, int, int]:
    sev = {"broken": 0, "degraded": 1, "info": 2}[f["severity"]]
    return (LAYERS.index(f["layer"]), sev, ORDER.get(f["cause"], 999))


def verdict(findings: list[dict[str, Any]]) -> dict[str, Any]:
    """``{status, primary, findings}``; findings sorted by layer, each broken finding above the primary's
    layer marked ``consequence: true`` (it follows from the primary cause)."""
    ordered = sorted(findings, key=_key)
    broken = [f for f in ordered if f["severity"] == "broken"]
    degraded = [f for f in ordered if f["severity"] == "degraded"]
    status = "broken" if broken else ("degraded" if degraded else "healthy")
    primary = broken[0] if broken else (degraded[0] if degraded else None)
    causal = [f for f in degraded if f["cause"] in CAUSAL]
    if primary is not None and causal and LAYERS.index(causal[0]["layer"]) < LAYERS.index(primary["layer"]):
        primary = causal[0]
    for f in ordered:
        f["consequence"] = bool(primary is not None and f is not primary and f["severity"] != "info"
                                and LAYERS.index(f["layer"]) > LAYERS.index(primary["layer"]))
    # the primary cause first, then the other independent findings, then consequences, then info
    ordered.sort(key=lambda f: (f is not primary, f["consequence"], f["severity"] == "info", _key(f)))
    return {"status": status, "primary": primary, "findings": ordered}


def summary_lines(site: str, result: dict[str, Any], seconds: float | None = None) -> list[str]:
    """The short summary printed on stdout."""
    head = f"{site}: {result['status'].upper()}" + (f" ({seconds:.1f} s)" if seconds is not None else "")
    lines = [head]
    for f in result["findings"]:
        if f["severity"] == "info" and result["status"] != "healthy":
            continue
        mark = "  -> " if f is result.get("primary") else ("     (consequence) " if f.get("consequence") else "     ")
        lines.append(f"{mark}[{f['layer']}] {f['cause']}: {f['summary']}")
        if f is result.get("primary"):
            lines.append(f"        action: {f['action']}")
    return lines
