"""Fixtures for the live verification tests: the lab is up and we are root (helpers from tests/lab)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lab"))

from labctl import lab, lab_status  # noqa: E402


@pytest.fixture(scope="session")
def lab_up() -> dict[str, Any]:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    lab("up")
    return lab_status()
