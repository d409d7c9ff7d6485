"""Render the report in every format, refuse any secret, write ``<dest>/<site_name>/report.*``."""

from __future__ import annotations

import os
import re
from typing import Any, Iterable

from .html import render_html
from .json_writer import render_json
from .junit import render_junit
from .redaction import assert_clean

FORMATS = {"json": "report.json", "junit": "report.xml", "html": "report.html"}
_SITE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def render_all(report: dict[str, Any], formats: Iterable[str], template: str | None,
               secrets: Iterable[str] = ()) -> dict[str, str]:
    """``{file name: text}`` for each format; raises SecretLeak if any output holds a secret."""
    secret_list = [s for s in secrets if s]
    out: dict[str, str] = {}
    for fmt in formats:
        if fmt == "json":
            text = render_json(report)
        elif fmt == "junit":
            text = render_junit(report)
        elif fmt == "html":
            if not template:
                raise ValueError("the html format needs the report template (templates/report/report.html.j2)")
            text = render_html(report, template)
        else:
            raise ValueError(f"unknown report format {fmt!r} (choose from {sorted(FORMATS)})")
        assert_clean(text, secret_list, FORMATS[fmt])
        out[FORMATS[fmt]] = text
    return out


def write_report(report: dict[str, Any], dest: str, formats: Iterable[str], template: str | None,
                 secrets: Iterable[str] = (), check_mode: bool = False) -> dict[str, Any]:
    """Write (unless ``check_mode``) into ``dest/<site_name>/``; returns dir, files and bytes per file."""
    site = report["site_name"]
    if not _SITE_RE.match(site):
        raise ValueError(f"site_name {site!r} cannot name a report directory")
    texts = render_all(report, formats, template, secrets)
    directory = os.path.join(dest, site)
    files = {name: os.path.join(directory, name) for name in texts}
    if not check_mode:
        os.makedirs(directory, mode=0o755, exist_ok=True)
        for name, text in texts.items():
            tmp = files[name] + ".tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, files[name])
    return {"report_dir": directory, "files": files, "sizes": {n: len(t.encode()) for n, t in texts.items()},
            "written": not check_mode}
