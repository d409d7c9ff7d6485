"""Write a change plan as ``change-plan.md``, ``change-plan.html`` (templates/report/change-plan.*.j2) and
``change-plan.json`` into ``<dest>/<site_name>/``; refuses to write a text that still holds a secret."""

from __future__ import annotations

import json
import os
from typing import Any, Iterable

from ..redact import unmasked_secrets
from ..report.html import render_template
from ..report.writer import write_files


class PlanLeakError(ValueError):
    """A rendered plan still holds a secret: nothing is written."""


def _md_template(path: str, plan: dict[str, Any]) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.dirname(os.path.abspath(path))),
                             autoescape=False, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True)
    return env.get_template(os.path.basename(path)).render(plan=plan)


def render_plan(plan: dict[str, Any], templates_dir: str, secrets: Iterable[str] = ()) -> dict[str, str]:
    texts = {
        "change-plan.json": json.dumps(plan, indent=2, sort_keys=True, default=str) + "\n",
        "change-plan.md": _md_template(os.path.join(templates_dir, "change-plan.md.j2"), plan),
        "change-plan.html": render_template(os.path.join(templates_dir, "change-plan.html.j2"), plan=plan),
    }
    known = [s for s in secrets if s]
    for name, text in texts.items():
        leaked = [s for s in known if s in text]
        if leaked or unmasked_secrets(text):
            raise PlanLeakError(f"{name} would hold a secret in clear; nothing was written")
    return texts


def write_plan(plan: dict[str, Any], dest: str, templates_dir: str, secrets: Iterable[str] = (),
               check_mode: bool = False) -> dict[str, str]:
    site = str(plan.get("site_name") or "")
    if not site or "/" in site or site.startswith("."):
        raise ValueError(f"site_name {site!r} cannot name a report directory")
    texts = render_plan(plan, templates_dir, secrets)
    return write_files(os.path.join(dest, site), texts, check_mode)
