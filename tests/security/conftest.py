"""Fixtures for the security tests: the vendor fixtures (simulators on free loopback ports) by import."""

from __future__ import annotations

from vendor.conftest import netconf, sim, sim_factory  # noqa: F401 - pytest fixtures
