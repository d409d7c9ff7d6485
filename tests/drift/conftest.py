"""Fixtures for the drift tests: sites rendered with the real templates, and helpers for lab runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.render import render_site
from ansible_collections.stowpath.core.plugins.module_utils.site import load_site, site_secrets
from stowpath_testlib import REPO, base_vars

EXAMPLE = REPO / "inventories" / "example"


def linux_site(**over: Any) -> dict[str, Any]:
    hv = base_vars(cloud_params_file="params/aws-vpn-bgp.xml", **over)
    return load_site(hv, "harbor-gw", str(EXAMPLE))


@pytest.fixture()
def site() -> dict[str, Any]:
    return linux_site()


@pytest.fixture()
def artifacts(site: dict[str, Any]) -> dict[str, str]:
    return render_site(site, str(REPO / "templates"))


@pytest.fixture()
def secrets(site: dict[str, Any]) -> list[str]:
    return site_secrets(site)


def fleet_json(report_dir: Path) -> dict[str, Any]:
    return json.loads((report_dir / "drift.json").read_text())
