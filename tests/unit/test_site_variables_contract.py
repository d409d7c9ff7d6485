"""The site variables (README "Site variables") are listed twice: in Python for the controller-side action
plugins and in the site_render role's defaults for playbooks that pass them explicitly. They must agree."""

from __future__ import annotations

from pathlib import Path

import yaml
from ansible_collections.stowpath.core.plugins.module_utils.ansible_site import SECRET_SITE_VARIABLES, SITE_VARIABLES

REPO = Path(__file__).resolve().parents[2]


def test_role_and_python_list_the_same_site_variables() -> None:
    defaults = yaml.safe_load((REPO / "roles" / "site_render" / "defaults" / "main.yml").read_text())
    assert list(SITE_VARIABLES) == defaults["site_render_site_variables"]


def test_secret_site_variables_are_site_variables() -> None:
    assert set(SECRET_SITE_VARIABLES) <= set(SITE_VARIABLES)
