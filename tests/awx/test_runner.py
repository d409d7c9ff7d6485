"""Every playbook runs as an AWX job: ansible-runner, a private data directory, no terminal.

Each test builds the private data directory AWX would build (``awx_job.py``), runs the playbook with
``ansible_runner.run`` and checks what AWX keeps: status and rc (a failed job is what triggers the
failure notification), the job events, and the reports the playbook wrote into the project.

The lab tests only read: onboarding runs with ``--check`` (AWX job type "check"), verify-site and
drift-check change nothing (the lab is shared). Their outcome depends on the lab's state, so they assert
that the job's status agrees with the playbook's own reports: successful exactly when every check passed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .awx_job import LAB_PARAMS, Job, run_job

# the lab is shared: when its facility is not onboarded at the moment, give up waiting for it sooner
LAB_WAITS = {"verify_network_tunnel_timeout": 3, "verify_network_bgp_timeout": 3, "verify_network_path_timeout": 3,
             "verify_dicomweb_timeout": 5}
EXAMPLE_HOSTS = {"riverside-cgw", "harbor-isr", "hillside-srx", "valley-dx", "lakeside-static"}


def assert_artifacts(job: Job) -> None:
    """What AWX stores of every job: status, rc, stdout and the job events ansible-runner wrote."""
    art = job.artifacts
    assert (art / "status").read_text() == job.status
    assert (art / "rc").read_text() == str(job.rc)
    assert (art / "stdout").stat().st_size > 0
    files = sorted((art / "job_events").glob("*.json"))
    assert files, "no job events"
    kinds = {json.loads(f.read_text())["event"] for f in files}
    assert {"playbook_on_start", "playbook_on_play_start", "runner_on_ok", "playbook_on_stats"} <= kinds, kinds
    assert len(job.events) >= len(files)


def needs_lab() -> None:
    if os.geteuid() != 0 or not LAB_PARAMS.is_file():
        pytest.skip("the lab is not up (make lab-up)")


def lab_report_job(tmp_path: Path, playbook: str, limit: str, report: str, others: set[str]) -> tuple[Job, dict]:
    """Run a read-only ``playbook`` on the lab as an AWX job; its JSON ``report`` (under ``reports/``) must
    stand beside the ``others`` it writes. Returns the job and the report."""
    needs_lab()
    job = run_job(tmp_path, playbook, "inventories/lab", limit=limit, extravars=LAB_WAITS)
    assert_artifacts(job)
    path = job.project / "reports" / report
    assert {p.name for p in path.parent.iterdir()} >= {path.name, *others}, job.stdout[-3000:]
    return job, json.loads(path.read_text())


def assert_job_agrees(job: Job, problems: object) -> None:
    """The job failed (rc 2) exactly when the playbook's report names ``problems``."""
    if problems:
        assert (job.status, job.rc) == ("failed", 2), problems
    else:
        assert (job.status, job.rc) == ("successful", 0), job.stdout[-3000:]


def test_render_site_runs_as_an_awx_job(tmp_path: Path) -> None:
    job = run_job(tmp_path, "render-site.yml", "inventories/example")
    assert (job.status, job.rc) == ("successful", 0), job.stdout[-3000:]
    assert_artifacts(job)
    recap = job.recap()
    # one fleet task renders every host (run once); only invalid hosts report on their own
    assert recap["ok"] and not recap["failures"] and not recap["dark"]
    build = job.project / "build"
    assert {p.name for p in build.iterdir()} == EXAMPLE_HOSTS
    site = json.loads((build / "riverside-cgw" / "site.json").read_text())
    assert site["site_name"] and "********" in json.dumps(site)


def test_without_inventory_dir_the_vendor_files_are_not_found(tmp_path: Path) -> None:
    """Why the job templates set ``inventory_dir``: an imported inventory has lost it, and relative
    ``cloud_params_file`` paths would be looked up beside AWX's inventory script."""
    job = run_job(tmp_path, "render-site.yml", "inventories/example", limit="riverside-cgw",
                  extravars={"inventory_dir": None})
    assert (job.status, job.rc) == ("failed", 2)
    assert "does not exist or is not a file" in job.stdout
    assert_artifacts(job)


@pytest.mark.lab
def test_onboard_check_runs_as_an_awx_check_job(tmp_path: Path) -> None:
    needs_lab()
    job = run_job(tmp_path, "onboard-site.yml", "inventories/lab", limit="cgw", check=True)
    assert (job.status, job.rc) == ("successful", 0), job.stdout[-3000:]
    assert_artifacts(job)
    assert job.recap()["ok"].get("cgw")
    assert (job.project / "build" / "cgw" / "swanctl.conf").is_file()
    starts = [e for e in job.events if e["event"] == "playbook_on_start"]
    assert starts and starts[0]["event_data"].get("playbook") == "playbooks/onboard-site.yml"


@pytest.mark.lab
def test_verify_site_runs_as_an_awx_job(tmp_path: Path) -> None:
    job, report = lab_report_job(tmp_path, "verify-site.yml", "cgw", "lab-facility/report.json",
                                 {"report.xml", "report.html"})
    assert_job_agrees(job, [c["id"] for c in report["checks"] if c["status"] == "fail"])


@pytest.mark.lab
def test_drift_check_runs_as_an_awx_job(tmp_path: Path) -> None:
    job, drift = lab_report_job(tmp_path, "drift-check.yml", "cgw,cgwdx", "fleet/drift.json", {"drift.xml", "index.html"})
    assert {s["host"] for s in drift["sites"]} == {"cgw", "cgwdx"}
    summary = drift["summary"]
    assert_job_agrees(job, summary if summary["drifted"] or summary["unreachable"] else None)
    assert list((job.project / "backups").glob("lab-facility/cgw/*"))
