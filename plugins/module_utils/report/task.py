"""The task stowpath.core.site_report: its arguments and what it returns, for the module and its action plugin."""

from __future__ import annotations

from typing import Any

from ..inprocess import TaskFailed, TaskRun
from .model import build_report, checks_from_results
from .redaction import SecretLeak
from .writer import write_report

REPORT_ARGS: dict[str, dict[str, Any]] = {
    "site": {"type": "dict", "required": True},
    "checks": {"type": "list", "elements": "dict", "default": []},
    "results": {"type": "list", "elements": "raw", "default": []},
    "timings": {"type": "dict", "default": {}},
    "dest": {"type": "path", "default": "reports"},
    "formats": {"type": "list", "elements": "str", "choices": ["json", "junit", "html"],
                "default": ["json", "junit", "html"]},
    "template": {"type": "path"},
    "title": {"type": "str"},
    "secrets": {"type": "list", "elements": "str", "default": [], "no_log": True},
    "secret_files": {"type": "list", "elements": "path", "default": []},
}


def file_secrets(paths: list[str]) -> list[str]:
    """The secret values written into rendered artifacts."""
    from ..drift.secrets import artifact_secrets

    texts = []
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as fh:
            texts.append(fh.read())
    return artifact_secrets(texts)


def report_result(p: dict[str, Any], run: TaskRun) -> dict[str, Any]:
    """Build the report from the validated parameters ``p`` (``REPORT_ARGS``) and write it, unless in check mode
    (then the paths that would be written are returned). Every secret value is added to ``run.no_log_values``;
    ``TaskFailed`` when the report cannot be written or would hold a secret."""
    if "html" in p["formats"] and not p["template"]:
        raise TaskFailed("template is required for the html format (templates/report/report.html.j2)")
    try:
        secrets = [s for s in [*p["secrets"], *file_secrets(p["secret_files"])] if s]
        run.no_log_values.update(secrets)
        checks = list(p["checks"]) + checks_from_results(p["results"])
        report = build_report(p["site"], checks, p["timings"], secrets=secrets, title=p["title"])
        written = write_report(report, p["dest"], p["formats"], p["template"], secrets, run.check_mode)
    except SecretLeak as exc:
        raise TaskFailed(f"refused: {exc}") from None
    except (ValueError, OSError) as exc:
        raise TaskFailed(f"cannot write the report: {exc}") from None
    return {"changed": True, "status": report["status"], "summary": report["summary"],
            "failures": report["failures"], **written}
