"""Fixtures for the trust tests: the vendor fixtures (simulators on free loopback ports) by import, and lab
modules one at a time (the lab test lock of tests/lab_env)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lab_env"))

from labctl import _lab_serialized  # noqa: E402,F401 - pytest fixture
from vendor.conftest import netconf, sim, sim_factory  # noqa: E402,F401 - pytest fixtures
