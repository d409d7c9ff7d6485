"""Glue between Ansible modules and the site model (kept here so modules stay thin)."""

from __future__ import annotations

from typing import Any

from .errors import SiteError, SiteErrors
from .site import load_site

SITE_ARGS: dict[str, Any] = {
    "site": {"type": "dict", "required": True},
    "hostname": {"type": "str", "required": True},
    "inventory_dir": {"type": "str", "default": "."},
}


def error_list(exc: SiteError | SiteErrors) -> list[dict[str, str]]:
    errors = exc.errors if isinstance(exc, SiteErrors) else [exc]
    return [{"source": e.source, "field": e.field, "problem": e.problem, "fix": e.fix} for e in errors]


def load_or_fail(module: Any) -> dict[str, Any]:
    """Load the site from the module's params or ``fail_json`` with every problem, named and fixable."""
    p = module.params
    try:
        return load_site(p["site"], p["hostname"], p["inventory_dir"])
    except (SiteError, SiteErrors) as exc:
        errors = error_list(exc)
        module.fail_json(
            msg=f"invalid input for host {p['hostname']}, nothing was rendered or pushed:\n{exc}",
            errors=errors,
        )
        raise  # unreachable: fail_json exits
