"""Fixtures for the live verification tests: the lab is up and we are root (helpers from tests/lab_env)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lab_env"))

from labctl import _lab_serialized, lab_up  # noqa: E402,F401 (fixtures)
