"""Drive the lab as a program (``lab/lab.py`` in a subprocess), as tests and benchmarks do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from .topology import REPO

LAB = [sys.executable, str(REPO / "lab" / "lab.py")]


def lab(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``lab/lab.py ARGS``, output captured."""
    return subprocess.run([*LAB, *args], capture_output=True, text=True, check=check, timeout=timeout)


def lab_status() -> dict[str, Any]:
    return json.loads(lab("status", "--json", check=False).stdout)


def lab_exec(device: str, *cmd: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` inside a lab device's namespaces."""
    return lab("exec", device, "--", *cmd, check=check)


def require_root(tool: str) -> bool:
    """True when running as root (the lab needs it); otherwise say so on stderr and return False."""
    if os.geteuid() == 0:
        return True
    print(f"{tool}: needs root (the lab)", file=sys.stderr)
    return False
