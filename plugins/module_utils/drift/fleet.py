"""The fleet drift report: ``reports/fleet/drift.json``, ``drift.xml`` (JUnit) and ``index.html``.

Written by the report writer (:mod:`..report.writer`) with its redaction: every value under a
secret-named key, every known secret and every config-form secret is masked before rendering,
and :func:`..report.redaction.assert_clean` refuses an output that still holds one.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from ..report.html import render_template
from ..report.json_writer import render_json
from ..report.redaction import sanitize
from ..report.writer import Renderer, html_renderer, render_formats, write_files
from .model import DRIFTED, IN_SYNC, STATUSES, UNREACHABLE, as_checks, runtime_problems, summary, verdict

SCHEMA = "stowpath/drift/v1"
FILES = {"json": "drift.json", "junit": "drift.xml", "html": "index.html"}
_ORDER = {UNREACHABLE: 0, DRIFTED: 1, IN_SYNC: 2}


def cert_checks(path: str, warn_days: int) -> list[dict[str, Any]]:
    """Expiry of the client certificate a site uses (the ``tls_material`` module's own validation)."""
    from ..checks import check
    from ..dicomweb.tls import validate_material

    try:
        with open(path, "rb") as fh:
            pem = fh.read()
    except OSError as exc:
        return [check("tls.material.client_cert", "tls", "Client certificate is readable", "fail",
                      cause=f"{path}: {exc.strerror}", action="fix drift_check_client_cert / tls_material_client_cert_file")]
    checks, _ = validate_material(None, pem, None, warn_days=warn_days, require_client_chain=False)
    for c in checks:
        c["detail"] = dict(c.get("detail") or {}, path=path)
    return checks


def host_entry(raw: dict[str, Any], warn_days: int = 30) -> dict[str, Any]:
    """One gateway's entry from what the playbook collected (collector result + context)."""
    result = dict(raw.get("result") or {})
    # a collector that could not run at all (SSH down, module failed) leaves the gateway unchecked
    unreachable = (bool(result.get("unreachable")) or result.get("status") == "unreachable"
                   or (bool(result.get("failed")) and not result.get("items")))
    entry: dict[str, Any] = {
        "host": raw["host"], "site_name": raw.get("site_name") or "unknown-site",
        "platform": raw.get("platform") or "?", "unreachable": unreachable,
        "error": (result.get("error") or result.get("msg") or raw.get("error") or "no answer") if unreachable else None,
        "items": list(result.get("items") or []), "ignored": list(result.get("ignored") or []),
        "checks": list(result.get("checks") or []) + list(raw.get("extra_checks") or [])
        + (cert_checks(raw["client_cert"], warn_days) if raw.get("client_cert") and not unreachable else []),
        "errors": list(result.get("errors") or []), "facts": dict(result.get("facts") or {}),
        "backup_dir": raw.get("backup_dir"), "remediation": raw.get("remediation"),
    }
    entry["status"] = verdict(entry)
    entry["summary"] = summary(entry)
    entry["runtime_problems"] = [c["id"] for c in runtime_problems(entry["checks"])]
    entry["commands"] = [c for i in entry["items"] for c in i.get("commands") or []]
    return entry


def build_fleet(hosts: Iterable[dict[str, Any]], secrets: Iterable[str] = (), generated_at: datetime | None = None,
                title: str = "stowpath drift check", phase: str = "check", warn_days: int = 30) -> dict[str, Any]:
    entries = sorted((host_entry(h, warn_days) for h in hosts), key=lambda e: (_ORDER[e["status"]], e["site_name"], e["host"]))
    counts = {s: sum(e["status"] == s for e in entries) for s in STATUSES}
    when = (generated_at or datetime.now(UTC)).astimezone(UTC)
    fleet = {
        "schema": SCHEMA, "title": title, "phase": phase, "generated_at": when.isoformat(timespec="seconds"),
        "status": "ok" if counts[IN_SYNC] == len(entries) else "attention",
        "summary": {"total": len(entries), **counts}, "sites": entries,
    }
    return sanitize(fleet, [s for s in secrets if s])


def render_junit(fleet: dict[str, Any]) -> str:
    """One testsuite per gateway (``<site_name>.<host>``), one testcase per check; drift is a failure."""
    all_checks = {e["host"]: as_checks(e) for e in fleet["sites"]}
    total = sum(len(c) for c in all_checks.values())
    fails = sum(c["status"] == "fail" for cs in all_checks.values() for c in cs)
    root = ET.Element("testsuites", {"name": fleet["title"], "tests": str(total), "failures": str(fails),
                                     "errors": "0", "timestamp": fleet["generated_at"]})
    for e in fleet["sites"]:
        checks = all_checks[e["host"]]
        suite = ET.SubElement(root, "testsuite", {
            "name": f"{e['site_name']}.{e['host']}", "tests": str(len(checks)),
            "failures": str(sum(c["status"] == "fail" for c in checks)), "errors": "0",
            "skipped": str(sum(c["status"] == "skip" for c in checks)), "timestamp": fleet["generated_at"]})
        props = ET.SubElement(suite, "properties")
        for name in ("site_name", "host", "platform", "status"):
            ET.SubElement(props, "property", {"name": name, "value": str(e[name])})
        for c in checks:
            case = ET.SubElement(suite, "testcase", {"classname": f"stowpath.drift.{e['site_name']}.{e['host']}",
                                                     "name": f"{c['id']}: {c['title']}",
                                                     "time": f"{float(c.get('duration_s') or 0):.3f}"})
            detail = c.get("detail") or {}
            if c["status"] == "fail" or (c["status"] == "warn" and c["group"] != "drift"):
                failure = ET.SubElement(case, "failure", {"message": str(c.get("cause") or c["title"]),
                                                          "type": "drift" if c["group"] == "drift" else "runtime"})
                text = [c["title"], f"cause: {c.get('cause')}", f"action: {c.get('action')}"]
                if detail.get("diff"):
                    text += ["diff:", detail["diff"]]
                if detail.get("remediation"):
                    text += ["remediation:", *detail["remediation"]]
                failure.text = "\n".join(str(t) for t in text) + "\n"
            elif c["status"] == "skip":
                ET.SubElement(case, "skipped", {"message": str(c.get("cause") or "skipped")})
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render_html(fleet: dict[str, Any], template_path: str) -> str:
    return render_template(template_path, fleet=fleet)


def write_fleet(fleet: dict[str, Any], dest: str, template: str | None, secrets: Iterable[str] = (),
                formats: Iterable[str] = ("json", "junit", "html")) -> dict[str, str]:
    """Render every format, refuse any secret, then write them into ``dest`` (atomically per file)."""
    renderers: dict[str, Renderer] = {
        "json": render_json, "junit": render_junit,
        "html": html_renderer(render_html, template, "templates/report/fleet.html.j2"),
    }
    return write_files(dest, render_formats(fleet, formats, FILES, renderers, secrets))
