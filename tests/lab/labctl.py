"""Helpers for tests that drive the lab (lab/lab.py) as a program."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
LAB = [sys.executable, str(REPO / "lab" / "lab.py")]


def lab(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LAB, *args], capture_output=True, text=True, check=check, timeout=timeout)


def lab_status() -> dict[str, Any]:
    return json.loads(lab("status", "--json", check=False).stdout)


def lab_exec(device: str, *cmd: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` inside a lab device's namespaces."""
    return lab("exec", device, "--", *cmd, check=check)
