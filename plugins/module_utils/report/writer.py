"""Render a report in every format, refuse any secret, write the files atomically.

One writer for the site report (``<dest>/<site_name>/report.{json,xml,html}``) and the fleet
drift page (``reports/fleet/drift.{json,xml}``, ``index.html``, see :mod:`..drift.fleet`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..fileutil import write_atomic
from .html import render_html
from .json_writer import render_json
from .junit import render_junit
from .redaction import assert_clean

FORMATS = {"json": "report.json", "junit": "report.xml", "html": "report.html"}
_SITE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

Renderer = Callable[[dict[str, Any]], str]
HtmlRenderer = Callable[[dict[str, Any], str], str]


def html_renderer(render: HtmlRenderer, template: str | None, template_name: str) -> Renderer:
    """``render`` with its page template, or a renderer that says the template is missing."""
    def rendered(doc: dict[str, Any]) -> str:
        if not template:
            raise ValueError(f"the html format needs {template_name}")
        return render(doc, template)
    return rendered


def render_formats(doc: dict[str, Any], formats: Iterable[str], files: Mapping[str, str],
                   renderers: Mapping[str, Renderer], secrets: Iterable[str] = ()) -> dict[str, str]:
    """``{file name: text}`` for each format; raises SecretLeak if any output holds a secret."""
    secret_list = [s for s in secrets if s]
    out: dict[str, str] = {}
    for fmt in formats:
        if fmt not in renderers:
            raise ValueError(f"unknown report format {fmt!r} (choose from {sorted(files)})")
        text = renderers[fmt](doc)
        assert_clean(text, secret_list, files[fmt])
        out[files[fmt]] = text
    return out


def write_files(directory: str, texts: Mapping[str, str], check_mode: bool = False) -> dict[str, str]:
    """``{file name: path}`` in ``directory``; unless ``check_mode`` each file is replaced atomically (0644)."""
    files = {name: os.path.join(directory, name) for name in texts}
    if not check_mode:
        os.makedirs(directory, mode=0o755, exist_ok=True)
        for name, text in texts.items():
            write_atomic(files[name], text.encode("utf-8"), 0o644)
    return files


def render_all(report: dict[str, Any], formats: Iterable[str], template: str | None,
               secrets: Iterable[str] = ()) -> dict[str, str]:
    """The site report's ``{file name: text}`` for each format; raises SecretLeak if any output holds a secret."""
    renderers: dict[str, Renderer] = {
        "json": render_json, "junit": render_junit,
        "html": html_renderer(render_html, template, "the report template (templates/report/report.html.j2)"),
    }
    return render_formats(report, formats, FORMATS, renderers, secrets)


def write_report(report: dict[str, Any], dest: str, formats: Iterable[str], template: str | None,
                 secrets: Iterable[str] = (), check_mode: bool = False) -> dict[str, Any]:
    """Write (unless ``check_mode``) into ``dest/<site_name>/``; returns dir, files and bytes per file."""
    site = report["site_name"]
    if not _SITE_RE.match(site):
        raise ValueError(f"site_name {site!r} cannot name a report directory")
    texts = render_all(report, formats, template, secrets)
    directory = os.path.join(dest, site)
    files = write_files(directory, texts, check_mode)
    return {"report_dir": directory, "files": files, "sizes": {n: len(t.encode()) for n, t in texts.items()},
            "written": not check_mode}
