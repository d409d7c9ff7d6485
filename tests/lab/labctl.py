"""Helpers for tests that drive the lab (lab/lab.py) as a program."""

from __future__ import annotations

import contextlib
import fcntl
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parents[2]
LAB = [sys.executable, str(REPO / "lab" / "lab.py")]


def lab(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LAB, *args], capture_output=True, text=True, check=check, timeout=timeout)


def lab_status() -> dict[str, Any]:
    return json.loads(lab("status", "--json", check=False).stdout)


def lab_exec(device: str, *cmd: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` inside a lab device's namespaces."""
    return lab("exec", device, "--", *cmd, check=check)


def lab_module() -> Any:
    """lab/lab.py as a module, under a name no other ``lab`` package (lab/services) can shadow."""
    import importlib.util

    name = "stowpath_lab_tool"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "lab" / "lab.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


TEST_LOCK = Path("/run/stowpath-lab.tests.lock")


@contextlib.contextmanager
def serialized() -> Iterator[None]:
    """Hold the lab for one test module across pytest-xdist workers.

    ``xdist_group`` does not group anything with pytest 9 + pytest-xdist 3.8 (xdist sets
    ``item._nodeid``, pytest 9 reads ``item._id``), so lab modules take this lock instead.
    """
    with open(TEST_LOCK, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
