"""Fixtures for the live verification tests: the lab is up and we are root (helpers from tests/lab)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lab"))

from labctl import lab, lab_status, serialized  # noqa: E402


@pytest.fixture(scope="session")
def lab_up() -> dict[str, Any]:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    lab("up")
    return lab_status()


@pytest.fixture(scope="module", autouse=True)
def _lab_serialized(request: pytest.FixtureRequest) -> Iterator[None]:
    """Lab modules run one at a time, whatever the xdist worker (see labctl.serialized)."""
    marks = getattr(request.module, "pytestmark", [])
    if any(getattr(m, "name", None) == "lab" for m in (marks if isinstance(marks, list) else [marks])):
        with serialized():
            yield
    else:
        yield
