"""lab-up / lab-down: idempotent, twice is fine, a broken lab is rebuilt, down leaves nothing.

Runs last among the lab tests of this directory; it ends with a freshly built lab (new PSKs/keys).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from labctl import REPO, lab, lab_status

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]
LAB_STATE = "/run/stowpath-lab"


@pytest.fixture(autouse=True, scope="module")
def _simulators_back() -> Iterator[None]:
    """``lab.py down`` also stops the vendor simulators (``make lab-up`` starts them): start them again
    afterwards, as ``make lab-up`` does, so later tests find the lab complete."""
    yield
    for script, port, state in (("netconf_iosxe.py", "8830", "netconf-iosxe"), ("iosxe_sim.py", "8022", "iosxe-sim")):
        subprocess.run([sys.executable, str(REPO / "lab" / "vendor" / script), "start", "--port", port,
                        "--state-dir", f"{LAB_STATE}/vendor/{state}", "--known-hosts", f"{LAB_STATE}/ssh/known_hosts"],
                       check=True, capture_output=True, text=True, timeout=120)


def sp_namespaces() -> list[str]:
    out = os.popen("ip netns list").read()
    return [line.split()[0] for line in out.splitlines() if line.startswith("sp-")]


def processes_in(namespaces: list[str]) -> list[int]:
    inodes = {os.stat(f"/run/netns/{n}").st_ino for n in namespaces if os.path.exists(f"/run/netns/{n}")}
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.stat(f"/proc/{entry.name}/ns/net").st_ino in inodes:
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def test_up_is_idempotent(lab_up: dict[str, Any]) -> None:
    before = lab_status()
    out = lab("up").stdout
    assert "already up and healthy" in out
    assert lab_status()["created"] == before["created"]


def test_a_broken_lab_is_rebuilt(lab_up: dict[str, Any]) -> None:
    st = lab_status()
    cgw = next(r for r in st["devices"] if r["device"] == "cgw")
    os.kill(cgw["pids"]["charon"], 15)  # a PID the lab started, from its own status
    import time

    deadline = time.monotonic() + 5
    while lab("status", check=False).returncode == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    broken = lab("status", check=False)
    assert broken.returncode == 1 and "charon not running" in broken.stdout
    out = lab("up").stdout
    assert "tearing it down first" in out and "up in" in out
    assert lab_status()["healthy"]


def test_down_twice_leaves_nothing_then_up_twice() -> None:
    namespaces = sp_namespaces()
    assert namespaces
    files = [REPO / "inventories" / "lab" / "files" / f for f in ("aws-vpn.xml", "aws-dx.json")]
    try:
        assert lab("down").returncode == 0
        assert "nothing to remove" in lab("down").stdout
        assert sp_namespaces() == [] and processes_in(namespaces) == []
        assert not Path("/run/stowpath-lab").exists() and not any(f.exists() for f in files)
        assert not Path("/sys/class/net/sp-mgmt").exists()
        assert lab("status", check=False).returncode == 1
    finally:
        lab("up")
    assert "already up" in lab("up").stdout
    assert lab_status()["healthy"] and all(f.exists() for f in files)
