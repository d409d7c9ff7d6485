"""Helpers and fixtures for tests that drive the lab (lab/lab.py) as a program.

The conftest.py of every directory with lab tests imports the fixtures ``lab_up`` and
``_lab_serialized`` from here.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from lab.stowlab.control import LAB, lab, lab_exec, lab_status  # noqa: E402

__all__ = ["LAB", "REPO", "TEST_LOCK", "lab", "lab_exec", "lab_module", "lab_status", "lab_up", "serialized"]


def lab_module() -> Any:
    """lab/lab.py as a module (what other code imports from it), under a name nothing else uses."""
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


@pytest.fixture(scope="session")
def lab_up() -> dict[str, Any]:
    """The lab is up (``lab.py up`` is idempotent) and we are root."""
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    lab("up")
    return lab_status()


@pytest.fixture(scope="module", autouse=True)
def _lab_serialized(request: pytest.FixtureRequest) -> Iterator[None]:
    """Lab modules run one at a time, whatever the xdist worker (see serialized)."""
    marks = getattr(request.module, "pytestmark", [])
    if any(getattr(m, "name", None) == "lab" for m in (marks if isinstance(marks, list) else [marks])):
        with serialized():
            yield
    else:
        yield
