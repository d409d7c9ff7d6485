"""Merge the fleet drift reports of AWX job slices into one fleet report.

With job slicing (awx/vars/stowpath.yml: the drift check job template's ``job_slice_count``) AWX runs the drift
check as N jobs, each on every N-th host of the inventory, possibly on N execution nodes. Each slice writes
its own report (``drift.json``, ``drift.xml``, ``index.html``) into ``<root>/slices/<run>/job-<job id>/``:
``<run>`` is ``awx_workflow_job_id`` (the workflow job AWX makes of a sliced launch, the same for all its
slices) and ``<job id>`` is ``awx_job_id``. AWX gives a playbook no slice number (``job_slice_number`` is a
field of the job in the API, not a variable), so slices are named by their job.

:func:`merge_run` reads every slice report of one run (default: the newest) and writes ``<root>/drift.json``,
``drift.xml`` and ``index.html`` as one drift check over the whole fleet would: one entry per gateway
(a gateway in two slices, e.g. a relaunched slice, counts once, from the newest report), the summary and the
status recomputed, the slices listed, and a missing slice (fewer than ``expected``) makes it ``attention``.

    python -m ansible_collections.stowpath.core.plugins.module_utils.report.slices --root DIR \\
        [--run ID] [--expected-slices N] [--template FILE] [--keep-runs N] [--check]

prints one JSON result; exit 0 when the fleet is in sync and complete, 2 when it needs attention, 1 on error.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

SLICES = "slices"
JOB_PREFIX = "job-"
SCHEMA = "stowpath/drift/v1"
STATUSES = ("in_sync", "drifted", "unreachable")
_ORDER = {"unreachable": 0, "drifted": 1, "in_sync": 2}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class MergeError(ValueError):
    """A slice report cannot be merged; the message names the file and the fix."""


def slice_dir(root: str, run: str | int, job: str | int) -> str:
    """Where one slice writes its report: ``<root>/slices/<run>/job-<job>``."""
    run, job = str(run), f"{JOB_PREFIX}{job}"
    for name in (run, job):
        if not _NAME.match(name):
            raise MergeError(f"{name!r} cannot name a slice report directory (letters, digits, '.', '_', '-')")
    return os.path.join(root, SLICES, run, job)


def slice_reports(run_dir: str) -> list[str]:
    """The ``drift.json`` of every slice of one run (``job-*`` directories), sorted."""
    if not os.path.isdir(run_dir):
        return []
    return sorted(os.path.join(run_dir, d, "drift.json") for d in os.listdir(run_dir)
                  if d.startswith(JOB_PREFIX) and os.path.isfile(os.path.join(run_dir, d, "drift.json")))


def runs_newest_first(root: str) -> list[str]:
    """Run names under ``<root>/slices``, the run with the most recently written slice report first."""
    base = os.path.join(root, SLICES)
    if not os.path.isdir(base):
        return []
    latest = {}
    for run in os.listdir(base):
        reports = slice_reports(os.path.join(base, run)) if _NAME.match(run) else []
        if reports:
            latest[run] = max(os.stat(r).st_mtime for r in reports)
    return sorted(latest, key=lambda r: (latest[r], r), reverse=True)


def load_slice(path: str) -> dict[str, Any]:
    """One slice's fleet report, checked enough to merge (schema, one entry per gateway with a status)."""
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError) as exc:
        raise MergeError(f"{path}: not a readable drift report ({exc}); remove it or run that slice again") from exc
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or not isinstance(doc.get("sites"), list):
        raise MergeError(f"{path}: not a fleet drift report (schema {SCHEMA!r} with 'sites' expected); "
                         "only drift-check.yml's drift.json belongs in a slice directory")
    for site in doc["sites"]:
        if not isinstance(site, dict) or not site.get("host") or site.get("status") not in STATUSES:
            raise MergeError(f"{path}: an entry has no host or an unknown status ({str(site)[:120]}); "
                             "run that slice again")
    return doc


def merge_fleets(slices: Sequence[tuple[str, dict[str, Any]]], run: str, expected: int | None = None,
                 generated_at: datetime | None = None) -> dict[str, Any]:
    """One fleet report from ``(slice name, report)`` pairs (pure)."""
    newest: dict[str, tuple[str, dict[str, Any]]] = {}
    duplicates: set[str] = set()
    for _, doc in slices:
        for site in doc["sites"]:
            host = site["host"]
            if host in newest:
                duplicates.add(host)
                if newest[host][0] > doc.get("generated_at", ""):
                    continue
            newest[host] = (doc.get("generated_at", ""), site)
    sites = sorted((s for _, s in newest.values()),
                   key=lambda s: (_ORDER[s["status"]], s.get("site_name") or "", s["host"]))
    counts = {s: sum(e["status"] == s for e in sites) for s in STATUSES}
    missing = max(0, (expected or 0) - len(slices))
    phases = sorted({str(doc.get("phase") or "check") for _, doc in slices}) or ["check"]
    when = (generated_at or datetime.now(UTC)).astimezone(UTC)
    return {
        "schema": SCHEMA, "phase": "+".join(phases),
        "title": f"stowpath drift check ({len(slices)} slice(s) of run {run} merged"
                 + (f"; {missing} of {expected} slice(s) missing" if missing else "") + ")",
        "generated_at": when.isoformat(timespec="seconds"),
        "status": "ok" if counts["in_sync"] == len(sites) and sites and not missing else "attention",
        "summary": {"total": len(sites), **counts}, "sites": sites,
        "merged": {"run": run, "expected_slices": expected, "missing_slices": missing,
                   "duplicates": sorted(duplicates),
                   "slices": [{"slice": name, "generated_at": doc.get("generated_at"), "phase": doc.get("phase"),
                               "hosts": sorted(s["host"] for s in doc["sites"]), "summary": doc.get("summary")}
                              for name, doc in slices]},
    }


def prune_runs(root: str, keep: int, current: str) -> list[str]:
    """Delete the slice reports of all but the ``keep`` newest runs (never ``current``); returns the deleted runs."""
    if keep <= 0:
        return []
    old = [r for r in runs_newest_first(root) if r != current][max(0, keep - 1):]
    for run in old:
        shutil.rmtree(os.path.join(root, SLICES, run))
    return old


def render_texts(fleet: dict[str, Any], template: str | None, formats: Iterable[str]) -> dict[str, str]:
    """``{file name: text}`` in the drift check's formats, through its renderers and secret check."""
    from ..drift.fleet import FILES, render_html, render_junit
    from .json_writer import render_json
    from .writer import html_renderer, render_formats

    renderers = {"json": render_json, "junit": render_junit,
                 "html": html_renderer(render_html, template, "templates/report/fleet.html.j2")}
    return render_formats(fleet, formats, FILES, renderers)


def merge_run(root: str, run: str | None = None, expected: int | None = None, template: str | None = None,
              formats: Iterable[str] = ("json", "junit", "html"), keep_runs: int = 0,
              check: bool = False) -> dict[str, Any]:
    """Merge one run's slice reports into ``root``'s fleet report; the result says what was (or would be) done."""
    from .writer import write_files

    runs = runs_newest_first(root)
    if run is None:
        if not runs:
            raise MergeError(f"no slice reports under {os.path.join(root, SLICES)}: the sliced drift check writes "
                             "them there (drift_check_report_dir of the AWX job template, awx/vars/stowpath.yml)")
        run = runs[0]
    paths = slice_reports(os.path.join(root, SLICES, str(run)))
    if not paths:
        raise MergeError(f"run {run!r} has no slice report under {os.path.join(root, SLICES)} "
                         f"(runs there: {', '.join(runs) or 'none'})")
    slices = [(os.path.basename(os.path.dirname(p)), load_slice(p)) for p in paths]
    fleet = merge_fleets(slices, str(run), expected)
    texts = render_texts(fleet, template, formats)
    before = {}
    for name in texts:
        try:
            with open(os.path.join(root, name), encoding="utf-8") as fh:
                before[name] = fh.read()
        except OSError:
            before[name] = None
    files = write_files(root, texts, check_mode=check)
    pruned = [] if check else prune_runs(root, keep_runs, str(run))
    s = fleet["summary"]
    missing = fleet["merged"]["missing_slices"]
    msg = (f"run {run}: {len(slices)} slice(s) merged, {s['in_sync']} in sync, {s['drifted']} drifted, "
           f"{s['unreachable']} unreachable of {s['total']}" + (f"; {missing} slice(s) missing" if missing else "")
           + f"; {files.get('index.html') or root}")
    return {"changed": any(before[n] != t for n, t in texts.items()) or bool(pruned), "run": str(run),
            "slices": [n for n, _ in slices], "expected_slices": expected, "missing_slices": missing,
            "duplicates": fleet["merged"]["duplicates"], "summary": s, "status": fleet["status"], "files": files,
            "pruned_runs": pruned, "check_mode": check, "msg": msg}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", required=True, help="the fleet report directory (its slices/ holds the slice reports)")
    ap.add_argument("--run", default=None, help="the run to merge (default: the newest)")
    ap.add_argument("--expected-slices", type=int, default=0, help="slices the run should have (0: do not check)")
    ap.add_argument("--template", default=None, help="templates/report/fleet.html.j2 (needed for index.html)")
    ap.add_argument("--formats", default="json,junit,html")
    ap.add_argument("--keep-runs", type=int, default=0, help="keep the slice reports of this many runs (0: all)")
    ap.add_argument("--check", action="store_true", help="write nothing, say what would change")
    a = ap.parse_args(argv)
    try:
        out = merge_run(a.root, a.run or None, a.expected_slices or None, a.template, a.formats.split(","),
                        a.keep_runs, a.check)
    except (MergeError, ValueError, OSError) as exc:
        print(json.dumps({"failed": True, "msg": str(exc)}))
        return 1
    print(json.dumps(out))
    return 0 if out["status"] == "ok" else 2


if __name__ == "__main__":
    sys.exit(main())
