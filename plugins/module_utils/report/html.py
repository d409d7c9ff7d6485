"""report.html: a self-contained page (inline CSS, no scripts, no external assets) for the vendor.

Rendered from ``templates/report/report.html.j2`` with Jinja2 autoescaping; the template sees the
report dict plus the checks grouped by section.
"""

from __future__ import annotations

import json
import os
from typing import Any

from .model import SECTIONS


def _fmt(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=1, sort_keys=True, default=str)
    if value is None:
        return "-"
    return str(value)


def _kv(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_fmt(v)}" for k, v in sorted(value.items())) or "-"
    return _fmt(value)


def render_html(report: dict[str, Any], template_path: str) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.path.dirname(os.path.abspath(template_path))),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = _fmt
    env.filters["kv"] = _kv
    sections = []
    for key, title, _, _ in SECTIONS:
        members = [c for c in report["checks"] if c.get("section") == key]
        if members:
            meta = next((s for s in report["sections"] if s["key"] == key), {"status": "skip"})
            sections.append({"key": key, "title": title, "status": meta["status"], "checks": members})
    template = env.get_template(os.path.basename(template_path))
    return template.render(report=report, sections=sections)
