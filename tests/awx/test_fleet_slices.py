"""Job slicing of the fleet drift check: one report per slice, merged into one fleet report.

AWX runs a sliced job template as N jobs; each gets ``awx_job_id`` and ``awx_workflow_job_id`` (the workflow
job of the sliced launch, shared by its slices) but no slice number. The drift check job template's
``drift_check_report_dir`` (awx/vars/stowpath.yml) puts each slice's report into
``<fleet report dir>/slices/<awx_workflow_job_id>/job-<awx_job_id>/``; ``playbooks/merge-fleet-reports.yml``
(``report/slices.py``) merges one run's slices into ``<fleet report dir>/{drift.json,drift.xml,index.html}``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .awx_job import Job, run_job
from .test_awx_config import DATA, REPO
from .test_runner import assert_artifacts, needs_lab

sys.path.insert(0, str(REPO / "collections"))
from ansible_collections.stowpath.core.plugins.module_utils.drift.fleet import build_fleet, write_fleet  # noqa: E402
from ansible_collections.stowpath.core.plugins.module_utils.drift.linux import item  # noqa: E402
from ansible_collections.stowpath.core.plugins.module_utils.report.slices import (  # noqa: E402
    MergeError,
    merge_fleets,
    merge_run,
    runs_newest_first,
    slice_dir,
)

BIN = Path(sys.executable).parent
TEMPLATE = str(REPO / "templates" / "report" / "fleet.html.j2")
JT = {t["name"]: t for t in DATA["stowpath_awx_job_templates"]}


def gateway(host: str, drifted: bool = False, unreachable: bool = False) -> dict[str, Any]:
    """What the drift check collects for one gateway (drift_report's ``hosts`` entry)."""
    items = [item("frr.bgp", "frr", "section", "router bgp", "BGP section drifted", "-a\n+b\n",
                  ["router bgp 65000"], ["neighbor changed"])] if drifted else []
    result = {"unreachable": True, "msg": "ssh: timeout"} if unreachable else {"items": items, "checks": []}
    return {"host": host, "site_name": f"site-{host}", "platform": "linux_strongswan", "result": result}


def write_slice(root: Path, run: str | int, job: int, gateways: list[dict[str, Any]], when: str | None = None) -> None:
    fleet = build_fleet(gateways)
    if when:
        fleet["generated_at"] = when
    write_fleet(fleet, slice_dir(str(root), run, job), TEMPLATE)


def test_slice_directories_follow_the_awx_variables(tmp_path: Path) -> None:
    assert slice_dir("/data/fleet", 81, 95) == "/data/fleet/slices/81/job-95"
    with pytest.raises(MergeError, match="cannot name"):
        slice_dir(str(tmp_path), "../etc", 1)


def test_merged_report_covers_every_slice_and_recounts(tmp_path: Path) -> None:
    write_slice(tmp_path, 81, 95, [gateway("a"), gateway("d", drifted=True)])
    write_slice(tmp_path, 81, 96, [gateway("b"), gateway("e", unreachable=True)])
    write_slice(tmp_path, 81, 97, [gateway("c")])
    out = merge_run(str(tmp_path), template=TEMPLATE, expected=3)
    assert out["run"] == "81" and out["slices"] == ["job-95", "job-96", "job-97"] and not out["missing_slices"]
    assert out["status"] == "attention" and out["changed"]
    fleet = json.loads((tmp_path / "drift.json").read_text())
    assert fleet["summary"] == {"total": 5, "in_sync": 3, "drifted": 1, "unreachable": 1}
    assert [s["host"] for s in fleet["sites"]] == ["e", "d", "a", "b", "c"]  # unreachable, drifted, in sync
    assert [s["hosts"] for s in fleet["merged"]["slices"]] == [["a", "d"], ["b", "e"], ["c"]]
    junit = (tmp_path / "drift.xml").read_text()
    assert junit.count("<testsuite ") == 5 and 'failures="2"' in junit.split("\n")[1]
    assert "3 slice(s) of run 81 merged" in (tmp_path / "index.html").read_text()


def test_all_in_sync_and_complete_is_ok_and_a_missing_slice_is_not(tmp_path: Path) -> None:
    write_slice(tmp_path, 7, 1, [gateway("a")])
    write_slice(tmp_path, 7, 2, [gateway("b")])
    assert merge_run(str(tmp_path), template=TEMPLATE, expected=2)["status"] == "ok"
    short = merge_run(str(tmp_path), template=TEMPLATE, expected=3)
    assert (short["status"], short["missing_slices"]) == ("attention", 1)
    assert "1 of 3 slice(s) missing" in json.loads((tmp_path / "drift.json").read_text())["title"]


def test_a_relaunched_slice_counts_each_gateway_once_from_the_newest_report() -> None:
    old = build_fleet([gateway("a", drifted=True)])
    old["generated_at"] = "2026-01-01T02:17:00+00:00"
    new = build_fleet([gateway("a")])
    new["generated_at"] = "2026-01-01T02:40:00+00:00"
    for order in ([("job-1", old), ("job-2", new)], [("job-2", new), ("job-1", old)]):
        fleet = merge_fleets(order, "9", expected=2)
        assert fleet["summary"]["total"] == 1 and fleet["sites"][0]["status"] == "in_sync"
        assert fleet["merged"]["duplicates"] == ["a"]


def test_newest_run_by_default_named_run_on_request_old_runs_pruned(tmp_path: Path) -> None:
    import os
    import time

    for n, run in enumerate(("100", "200", "150")):
        write_slice(tmp_path, run, n, [gateway(f"h{run}")])
        path = Path(slice_dir(str(tmp_path), run, n)) / "drift.json"
        os.utime(path, (time.time() - 1000 + n * 100,) * 2)
    assert runs_newest_first(str(tmp_path)) == ["150", "200", "100"]
    assert merge_run(str(tmp_path), template=TEMPLATE)["run"] == "150"
    named = merge_run(str(tmp_path), run="100", template=TEMPLATE, keep_runs=2)
    assert named["run"] == "100" and named["pruned_runs"] == ["200"]
    assert sorted(p.name for p in (tmp_path / "slices").iterdir()) == ["100", "150"]


def test_what_cannot_be_merged_is_named(tmp_path: Path) -> None:
    with pytest.raises(MergeError, match="no slice reports under"):
        merge_run(str(tmp_path), template=TEMPLATE)
    write_slice(tmp_path, 5, 1, [gateway("a")])
    with pytest.raises(MergeError, match="run '6' has no slice report"):
        merge_run(str(tmp_path), run="6", template=TEMPLATE)
    bad = Path(slice_dir(str(tmp_path), 5, 2))
    bad.mkdir(parents=True)
    (bad / "drift.json").write_text(json.dumps({"schema": "stowpath/report/v1", "checks": []}))
    with pytest.raises(MergeError, match=r"job-2/drift.json: not a fleet drift report"):
        merge_run(str(tmp_path), template=TEMPLATE)


def test_check_mode_writes_nothing(tmp_path: Path) -> None:
    write_slice(tmp_path, 5, 1, [gateway("a")])
    out = merge_run(str(tmp_path), template=TEMPLATE, check=True)
    assert out["changed"] and out["check_mode"] and not (tmp_path / "drift.json").exists()


def job_template_vars(tmp_path: Path) -> dict[str, dict[str, Any]]:
    """Every job template's extra_vars exactly as awx/configure.yml computes them (its own expression)."""
    play = yaml.safe_load((REPO / "awx" / "configure.yml").read_text())[0]
    (task,) = [t for t in play["tasks"] if "awx.awx.job_template" in t]
    expression = task["awx.awx.job_template"]["extra_vars"]
    # one template's variables at a time, with configure.yml's expression and `item` as in its loop
    pb = [{"hosts": "localhost", "connection": "local", "gather_facts": False,
           "vars_files": [str(REPO / "awx" / "vars" / "stowpath.yml")], "vars": play["vars"]}]
    pb[0]["tasks"] = [{"ansible.builtin.copy": {"dest": str(tmp_path / "jt-{{ idx }}.json"), "mode": "0600",
                                                "content": "{{ (" + expression.strip().removeprefix("{{").removesuffix(
                                                    "}}") + ") | to_json }}"},
                       "loop": "{{ stowpath_awx_job_templates }}", "loop_control": {"index_var": "idx"}}]
    (tmp_path / "pb.yml").write_text(yaml.safe_dump(pb, sort_keys=False))
    proc = subprocess.run([str(BIN / "ansible-playbook"), str(tmp_path / "pb.yml"), "-i", "localhost,"],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return {t["name"]: json.loads((tmp_path / f"jt-{i}.json").read_text())
            for i, t in enumerate(DATA["stowpath_awx_job_templates"])}


def render_in_job(tmp_path: Path, value: str, extravars: dict[str, Any]) -> str:
    """``value`` as an AWX job renders it: a job template extra var beside AWX's own variables."""
    (tmp_path / "extravars.yml").write_text(yaml.safe_dump({"slice_value": value, **extravars}))
    pb = [{"hosts": "localhost", "connection": "local", "gather_facts": False,
           "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
           "tasks": [{"ansible.builtin.copy": {"dest": str(tmp_path / "value.txt"), "mode": "0600",
                                               "content": "{{ slice_value }}"}}]}]
    (tmp_path / "job.yml").write_text(yaml.safe_dump(pb))
    proc = subprocess.run([str(BIN / "ansible-playbook"), str(tmp_path / "job.yml"), "-i", "localhost,",
                           "-e", f"@{tmp_path / 'extravars.yml'}"], cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return (tmp_path / "value.txt").read_text()


def test_the_drift_check_job_template_gives_each_slice_its_directory(tmp_path: Path) -> None:
    jt_vars = job_template_vars(tmp_path)
    slice_var = jt_vars["stowpath drift check"]["drift_check_report_dir"]
    assert "{{" in slice_var and "awx_job_id" in slice_var  # left for AWX to render at job start
    assert jt_vars["stowpath drift check"]["stowpath_fleet_report_dir"] == "/var/lib/stowpath/reports/fleet"
    assert int(jt_vars["stowpath merge fleet reports"]["merge_fleet_expected_slices"]) == DATA["stowpath_awx_drift_slices"]
    assert jt_vars["stowpath drift remediation"]["drift_check_report_dir"] == "/var/lib/stowpath/reports/fleet"
    meta = {"stowpath_fleet_report_dir": "/data/fleet", "awx_job_id": 95, "awx_workflow_job_id": 81}
    assert render_in_job(tmp_path, slice_var, meta) == slice_dir("/data/fleet", 81, 95)
    lone = render_in_job(tmp_path, slice_var, {"stowpath_fleet_report_dir": "/data/fleet", "awx_job_id": 12})
    assert lone == slice_dir("/data/fleet", "job-12", 12)  # not sliced: a run of its own


def test_the_workflow_merges_after_every_slice_and_is_scheduled() -> None:
    (wf,) = DATA["stowpath_awx_workflows"]
    nodes = {n["identifier"]: n for n in wf["workflow_nodes"]}
    assert nodes["drift-check"]["unified_job_template"]["name"] == "stowpath drift check"
    assert nodes["drift-check"]["related"]["always_nodes"] == [{"identifier": "merge"}]  # slices fail on drift
    assert nodes["merge"]["unified_job_template"]["name"] == "stowpath merge fleet reports"
    assert JT["stowpath merge fleet reports"]["playbook"] == "playbooks/merge-fleet-reports.yml"
    assert (REPO / JT["stowpath merge fleet reports"]["playbook"]).is_file()
    rules = {s["job_template"]: s["rrule"] for s in DATA["stowpath_awx_schedules"]}
    assert "FREQ=DAILY" in rules[wf["name"]]


def merge_job(tmp_path: Path, fleet_dir: Path, **extravars: Any) -> Job:
    return run_job(tmp_path, "merge-fleet-reports.yml", "inventories/example",
                   extravars={"stowpath_fleet_report_dir": str(fleet_dir), **extravars})


def test_merge_playbook_runs_as_an_awx_job(tmp_path: Path) -> None:
    fleet_dir = tmp_path / "data" / "fleet"
    write_slice(fleet_dir, 81, 95, [gateway("a")])
    write_slice(fleet_dir, 81, 96, [gateway("b")])
    job = merge_job(tmp_path / "ok", fleet_dir, merge_fleet_expected_slices=2)
    assert (job.status, job.rc) == ("successful", 0), job.stdout[-3000:]
    assert_artifacts(job)
    assert json.loads((fleet_dir / "drift.json").read_text())["summary"]["total"] == 2
    write_slice(fleet_dir, 82, 97, [gateway("a", drifted=True)])
    job = merge_job(tmp_path / "drift", fleet_dir, merge_fleet_expected_slices=2)
    assert (job.status, job.rc) == ("failed", 2)
    assert "1 drifted" in job.stdout and "1 slice(s) missing" in job.stdout


@pytest.mark.lab
def test_sliced_drift_check_then_merge_as_awx_runs_them(tmp_path: Path) -> None:
    """Two slices of the lab's gateways (AWX's host split: every 2nd host), each an AWX job with the drift check
    job template's variables, then the merge job: one fleet report with both gateways, and the merge job's
    status agrees with it."""
    needs_lab()
    fleet_dir = tmp_path / "data" / "fleet"
    template_var = DATA["stowpath_awx_slice_report_dir"]
    waits = {"verify_network_tunnel_timeout": 3, "verify_network_bgp_timeout": 3}
    for job_id, host in ((501, "cgw"), (502, "cgwdx")):
        job = run_job(tmp_path / host, "drift-check.yml", "inventories/lab", limit=host, extravars={
            **waits, "drift_check_report_dir": template_var, "stowpath_fleet_report_dir": str(fleet_dir),
            "awx_job_id": job_id, "awx_workflow_job_id": 500})
        assert job.status in ("successful", "failed"), job.stdout[-3000:]
        assert (Path(slice_dir(str(fleet_dir), 500, job_id)) / "drift.json").is_file(), job.stdout[-3000:]
    job = merge_job(tmp_path / "merge", fleet_dir, merge_fleet_expected_slices=2)
    fleet = json.loads((fleet_dir / "drift.json").read_text())
    assert {s["host"] for s in fleet["sites"]} == {"cgw", "cgwdx"}
    assert fleet["merged"]["run"] == "500" and fleet["merged"]["missing_slices"] == 0
    expected = ("successful", 0) if fleet["status"] == "ok" else ("failed", 2)
    assert (job.status, job.rc) == expected, job.stdout[-3000:]
