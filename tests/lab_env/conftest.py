"""Fixtures for the lab tests: the lab is up (lab.py up is idempotent) and we are root."""

from labctl import _lab_serialized, lab_up  # noqa: F401 (fixtures)
