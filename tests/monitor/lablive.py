"""Helpers of the live monitoring tests: the lab's Prometheus, the webhook log, faults, timings."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PY = str(REPO / ".venv" / "bin" / "python")
LAB = str(REPO / "lab" / "lab.py")
PROMETHEUS = "http://169.254.250.13:9090"
ALERT_LOG = Path("/srv/stowpath-lab/mon/alerts.jsonl")
TIMINGS = REPO / "reports" / "monitoring" / "timings.json"


def lab(*args: str, timeout: float = 180, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PY, LAB, *args], capture_output=True, text=True, timeout=timeout, check=check)


def prom(expr: str) -> list[dict[str, Any]]:
    url = f"{PROMETHEUS}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as resp:
        return list(json.load(resp)["data"]["result"])


def notifications(alertname: str, since: float, site: str | None = None) -> list[tuple[float, str]]:
    """(received, status) of every notification about ``alertname`` recorded after ``since``."""
    out = []
    try:
        lines = ALERT_LOG.read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec["received"] < since:
            continue
        for a in rec["payload"].get("alerts", []):
            if a["labels"].get("alertname") == alertname and (site is None or a["labels"].get("site") == site):
                out.append((rec["received"], a["status"]))
    return out


def wait_notification(alertname: str, status: str, since: float, timeout: float, site: str | None = None) -> float:
    """Seconds from ``since`` until the webhook received ``alertname`` with ``status``; AssertionError on timeout."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        hits = [t for t, s in notifications(alertname, since, site) if s == status]
        if hits:
            return round(min(hits) - since, 1)
        time.sleep(1)
    raise AssertionError(f"{alertname} did not reach the webhook as {status} within {timeout:.0f} s "
                         f"(seen: {notifications(alertname, since - 3600)[-5:]})")


def inject(name: str, wait_s: float = 300) -> float:
    """Inject a fault of the lab's catalogue (waiting while another one is active); its start time."""
    deadline = time.time() + wait_s
    while True:
        r = lab("fault", name, check=False)
        if r.returncode == 0:
            return time.time()
        if "still active" not in (r.stderr + r.stdout) or time.time() > deadline:
            raise AssertionError(f"lab.py fault {name}: {r.stderr or r.stdout}")
        time.sleep(5)


def clear() -> float:
    t = time.time()
    lab("fault", "clear", timeout=240)
    return t


def record(alert: str, **figures: Any) -> None:
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = json.loads(TIMINGS.read_text())
    except (OSError, ValueError):
        data = {}
    data[alert] = {**figures, "at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    TIMINGS.write_text(json.dumps(data, indent=2) + "\n")
    print(f"{alert}: {figures}", file=sys.stderr)
