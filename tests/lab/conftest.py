"""Fixtures for the lab tests: the lab is up (lab.py up is idempotent) and we are root."""

from __future__ import annotations

import os
from typing import Any

import pytest
from labctl import lab, lab_status


@pytest.fixture(scope="session")
def lab_up() -> dict[str, Any]:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    lab("up")
    return lab_status()
