"""The diagnosis document (``diagnosis.json``) and page (``diagnosis.html``), written by the report writer."""

from __future__ import annotations

import json
import os
import time
from typing import Any, Iterable

from ..report.html import render_template
from ..report.writer import render_formats, write_files
from .causes import LAYERS
from .verdict import summary_lines, verdict

FILES = {"json": "diagnosis.json", "html": "diagnosis.html"}
LAYER_TITLES = {
    "gateway": "1. Gateway: IKE/IPsec", "routing": "2. Routing: BGP and routes", "firewall": "3. Firewall",
    "path": "4. Path: loss, MTU, TCP 443", "tls": "5. TLS", "http": "6. HTTP / STOW-RS", "pacs": "7. PACS",
}


def build(site: dict[str, Any], results: list[dict[str, Any]], started: float | None,
          captures: list[str] | None = None) -> dict[str, Any]:
    """The diagnosis from the per-layer modules' results (each: ``findings``, ``facts``, ``elapsed_s``)."""
    findings = [f for r in results for f in r.get("findings") or []]
    v = verdict(findings)
    layers_run: dict[str, Any] = {}
    for r in results:
        for layer in {f["layer"] for f in r.get("findings") or []} | set(r.get("layers") or []):
            layers_run[layer] = True
    facts: dict[str, Any] = {}
    for r in results:
        facts.update(r.get("facts") or {})
    seconds = round(time.time() - started, 1) if started else round(sum(float(r.get("elapsed_s") or 0)
                                                                          for r in results), 1)
    return {
        "site_name": site["site_name"], "hostname": site.get("hostname"), "platform": site.get("gateway_platform"),
        "connection_type": site.get("connection_type"), "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds": seconds, "status": v["status"],
        "primary": {k: v["primary"][k] for k in ("layer", "cause", "summary", "action")} if v["primary"] else None,
        "findings": v["findings"], "layers": [{"name": name, "title": LAYER_TITLES[name],
                                               "findings": [f for f in v["findings"] if f["layer"] == name]}
                                              for name in LAYERS],
        "facts": facts, "notes": [n for r in results for n in r.get("notes") or []],
        "captures": captures or [], "summary": summary_lines(site["site_name"], v, seconds),
    }


def render_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n"


def write(doc: dict[str, Any], dest: str, template: str, secrets: Iterable[str] = (),
          check_mode: bool = False) -> dict[str, str]:
    renderers = {"json": render_json,
                 "html": lambda d: render_template(template, {"tojson": lambda x: json.dumps(x, indent=1, default=str)},
                                                   doc=d)}
    texts = render_formats(doc, ("json", "html"), FILES, renderers, secrets)
    return write_files(os.path.join(dest, doc["site_name"]), texts, check_mode)
