"""Fixtures of the monitoring tests that need the lab."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from .lablive import REPO, lab, prom


@pytest.fixture(scope="session")
def monitoring() -> None:
    """Monitoring deployed on the lab (monitor-site.yml) and the lab facility healthy (tunnels, canary)."""
    if os.geteuid() != 0 or lab("status", check=False).returncode != 0:
        pytest.skip("the lab is not up (make lab-up)")
    r = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), "playbooks/monitor-site.yml", "-i",
                        "inventories/lab", "-l", "mon,cgw,cgwdx"], cwd=REPO, capture_output=True, text=True,
                       timeout=600, check=False)
    assert r.returncode == 0, r.stdout[-3000:]
    deadline = time.time() + 90
    while time.time() < deadline:
        up = prom('sum(stowpath_ipsec_child_sa_up{site="lab-facility"})')
        canary = prom('stowpath_canary_success{site="lab-facility"}')
        if up and float(up[0]["value"][1]) == 2 and canary and float(canary[0]["value"][1]) == 1:
            return
        time.sleep(3)
    pytest.skip("the lab facility is not onboarded and healthy (run `make demo`): no tunnels or no canary success")


@pytest.fixture(scope="session")
def autoroute(monitoring: None) -> None:
    """The PACS destination with auto-routing (the imaging half of the onboarding, gateway untouched)."""
    r = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), "tests/monitor/files/pacs-autoroute.yml",
                        "-i", "inventories/lab"], cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert r.returncode == 0, r.stdout[-3000:]
