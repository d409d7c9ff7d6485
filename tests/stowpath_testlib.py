"""Shared test helpers (import as ``from stowpath_testlib import ...``; conftest.py is not importable)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_PARAMS = REPO / "inventories" / "example" / "params"
SHARED_AWS = REPO.parent / "shared" / "testdata" / "aws"


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
