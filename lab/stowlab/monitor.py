"""The facility's monitoring host ``mon`` in the lab: what ``up`` starts there before Ansible runs.

Prometheus, Alertmanager and the exporters are deployed by ``playbooks/monitor-site.yml`` (like on a
real monitoring host); the lab itself only starts the webhook receiver Alertmanager notifies, which
records every notification in ``ALERT_LOG`` (the live alert tests read it).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .host import LabError, read_pid, write
from .topology import REPO, STATE

MON_DIR = Path("/srv/stowpath-lab/mon")
ALERT_LOG = MON_DIR / "alerts.jsonl"
WEBHOOK_PORT = 9099
WEBHOOK_URL = f"http://127.0.0.1:{WEBHOOK_PORT}/alerts"


def start_webhook_receiver() -> dict[str, Any]:
    """Start lab/stowlab/webhook.py inside ``mon`` (its net + mount namespaces); record its PID."""
    holder = read_pid(STATE / "dev" / "mon" / "holder.pid")
    if not holder:
        raise LabError("mon device is not running")
    MON_DIR.mkdir(parents=True, exist_ok=True)
    logf = open(MON_DIR / "webhook.stdout", "ab")  # noqa: SIM115 (handed to the child)
    proc = subprocess.Popen(
        ["nsenter", "-t", str(holder), "-m", "-u", "-n", "--", sys.executable,
         str(REPO / "lab" / "stowlab" / "webhook.py"), "--listen", "127.0.0.1", "--port", str(WEBHOOK_PORT),
         "--log", str(ALERT_LOG)],
        stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
    logf.close()
    write(STATE / "dev" / "mon" / "service.json", json.dumps({"kind": "webhook", "pids": {"receiver": proc.pid}}) + "\n")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if ALERT_LOG.exists():
            return {"kind": "webhook", "url": WEBHOOK_URL, "log": str(ALERT_LOG), "pid": proc.pid}
        if proc.poll() is not None:
            raise LabError("webhook receiver died: " + (MON_DIR / "webhook.stdout").read_text()[-500:])
        time.sleep(0.05)
    raise LabError("webhook receiver not ready after 10s")

