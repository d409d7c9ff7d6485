"""Shared pytest set-up: import path for plugins (the collection stowpath.core) and sample data."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "collections"))

EXAMPLE_PARAMS = REPO / "inventories" / "example" / "params"
SHARED_AWS = REPO.parent / "shared" / "testdata" / "aws"


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


def base_vars(**overrides: object) -> dict:
    """A valid linux_strongswan / aws_vpn host, as in inventories/example."""
    hv = {
        "site_name": "test-facility",
        "gateway_platform": "linux_strongswan",
        "cloud_provider": "aws_vpn",
        "cloud_params_file": "params.xml",
        "wan_interface": "eth0",
        "wan_address": "198.51.100.24",
        "lan_interface": "eth1",
        "lan_cidrs": ["10.20.0.0/24"],
        "dicomweb_url": "https://dicom.vendor.example/dicomweb/studies",
        "dicomweb_cidrs": ["10.100.0.0/24"],
    }
    hv.update(overrides)
    return {k: v for k, v in hv.items() if v is not None}
