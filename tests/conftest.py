"""Shared pytest set-up: import path for plugins (the collection stowpath.core) and sample data."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "collections"))
sys.path.insert(0, str(REPO / "tests"))

from stowpath_testlib import EXAMPLE_PARAMS  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "lab: needs the network lab (make lab-up)")
    config.addinivalue_line("markers", "root: needs root (network namespaces, daemons)")
    os.environ.setdefault("ANSIBLE_CONFIG", str(REPO / "ansible.cfg"))


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def vpn_xml() -> str:
    return (EXAMPLE_PARAMS / "aws-vpn-bgp.xml").read_text()


@pytest.fixture(scope="session")
def dx_json() -> str:
    return (EXAMPLE_PARAMS / "aws-dx-vif.json").read_text()

