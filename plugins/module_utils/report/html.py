"""report.html: a self-contained page (inline CSS, no scripts, no external assets) for the vendor.

Rendered from ``templates/report/report.html.j2`` with Jinja2 autoescaping; the template sees the
report dict plus the checks grouped by section.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
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


def render_template(template_path: str, filters: dict[str, Callable[..., Any]] | None = None,
                    **context: Any) -> str:
    """Render a page template (autoescaped, StrictUndefined) with ``context``."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.path.dirname(os.path.abspath(template_path))),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(filters or {})
    return env.get_template(os.path.basename(template_path)).render(**context)


def render_html(report: dict[str, Any], template_path: str) -> str:
    sections = []
    for key, title, _, _ in SECTIONS:
        members = [c for c in report["checks"] if c.get("section") == key]
        if members:
            meta = next((s for s in report["sections"] if s["key"] == key), {"status": "skip"})
            sections.append({"key": key, "title": title, "status": meta["status"], "checks": members})
    return render_template(template_path, {"fmt": _fmt, "kv": _kv}, report=report, sections=sections)
