"""report.xml: JUnit XML for CI systems (one testsuite per group, one testcase per check).

``fail`` -> ``<failure>`` (message = likely cause, text = title, cause, action, detail),
``skip`` -> ``<skipped>``, ``warn`` -> a passing testcase whose ``<system-out>`` says WARN.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from ..checks import GROUPS


def _t(seconds: float) -> str:
    return f"{seconds:.3f}"


def render_junit(report: dict[str, Any]) -> str:
    checks = report["checks"]
    order = [g for g in GROUPS if any(c["group"] == g for c in checks)]
    order += sorted({c["group"] for c in checks} - set(order))
    summary = report["summary"]
    root = ET.Element("testsuites", {
        "name": report["title"], "tests": str(summary["total"]), "failures": str(summary["fail"]),
        "errors": "0", "skipped": str(summary["skip"]), "time": _t(summary["duration_s"]),
        "timestamp": report["generated_at"]})
    for group in order:
        members = [c for c in checks if c["group"] == group]
        suite = ET.SubElement(root, "testsuite", {
            "name": f"{report['site_name']}.{group}", "tests": str(len(members)),
            "failures": str(sum(c["status"] == "fail" for c in members)), "errors": "0",
            "skipped": str(sum(c["status"] == "skip" for c in members)),
            "time": _t(sum(c["duration_s"] for c in members)), "timestamp": report["generated_at"]})
        props = ET.SubElement(suite, "properties")
        for name in ("site_name", "status"):
            ET.SubElement(props, "property", {"name": name, "value": str(report[name])})
        for c in members:
            case = ET.SubElement(suite, "testcase", {
                "classname": f"stowpath.{report['site_name']}.{group}", "name": f"{c['id']}: {c['title']}",
                "time": _t(c["duration_s"])})
            detail = json.dumps(c["detail"], indent=2, sort_keys=True, default=str)
            if c["status"] == "fail":
                failure = ET.SubElement(case, "failure", {"message": str(c.get("cause") or c["title"]),
                                                          "type": str(c.get("guide_row") or "check failed")})
                failure.text = (f"{c['title']}\nlikely cause: {c.get('cause')}\naction: {c.get('action')}\n"
                                f"detail: {detail}\n")
            elif c["status"] == "skip":
                ET.SubElement(case, "skipped", {"message": str(c.get("cause") or "skipped")})
            elif c["status"] == "warn":
                out = ET.SubElement(case, "system-out")
                out.text = f"WARN: {c.get('cause') or ''}\naction: {c.get('action') or ''}\n"
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
