"""Golden tests: rendered artifacts for the vendor samples and our own cases vs reviewed expected files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from ansible_collections.stowpath.core.plugins.module_utils.render import render_site
from ansible_collections.stowpath.core.plugins.module_utils.site import load_site

HERE = Path(__file__).parent
REPO = HERE.parent.parent
SPEC = yaml.safe_load((HERE / "cases.yml").read_text())
PLATFORMS = ("linux_strongswan", "cisco_iosxe", "junos")
UPDATE = os.environ.get("STOWPATH_UPDATE_GOLDEN") == "1"


def case_vars(case: str, platform: str) -> dict:
    hv = dict(SPEC["defaults"], **SPEC["interfaces"][platform], **SPEC["cases"][case], gateway_platform=platform)
    return {k: v for k, v in hv.items() if v is not None}


def render_case(case: str, platform: str) -> dict[str, str]:
    out = render_site(load_site(case_vars(case, platform), "golden-gw", str(HERE)), str(REPO / "templates"))
    # site.json names the resolved vendor file: independent of where the checkout lives
    return {name: text.replace(str(REPO), "<repo>") for name, text in out.items()}


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("case", sorted(SPEC["cases"]))
def test_golden(case: str, platform: str) -> None:
    rendered = render_case(case, platform)
    folder = HERE / "expected" / case / platform
    if UPDATE:
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        for name, text in rendered.items():
            (folder / name).write_text(text)
    expected = {p.name: p.read_text() for p in folder.iterdir()}
    assert sorted(rendered) == sorted(expected), "artifact set changed"
    for name, text in rendered.items():
        assert text == expected[name], f"{case}/{platform}/{name} differs from the reviewed golden file"
