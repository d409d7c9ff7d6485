"""site_report delegated to localhost runs in the controller's process (action plugin): on the same inputs it
returns what the module returns in a new Python process - summary, failures, files, check mode (nothing
written), failure messages - and never a secret of the run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from action_paths import both_ways, run_action, run_module
from stowpath_testlib import REPO

TEMPLATE = str(REPO / "templates" / "report" / "report.html.j2")
PSK = "Psk.From.The.Vendor.7"  # only in a rendered artifact (secret_files)
PASSWORD = "Gw.Pass.4711"  # given as a secret


def site() -> dict[str, Any]:
    return {"site_name": "inproc-facility", "hostname": "gw1", "gateway_platform": "linux_strongswan",
            "cloud_provider": "aws_vpn", "tunnels": [{"name": "tun1", "psk": "********"}]}


def checks(detail: str = "ok") -> list[dict[str, Any]]:
    return [
        {"id": "network.tunnel", "group": "network", "title": "Tunnel 1", "status": "pass", "duration_s": 0.4,
         "detail": {"state": "ESTABLISHED"}},
        {"id": "network.bgp", "group": "network", "title": "BGP", "status": "fail", "duration_s": 1.2,
         "detail": {"seen": detail}, "cause": "the peer is down", "action": "check the tunnel"},
    ]


@pytest.fixture()
def artifacts(tmp_path: Path) -> list[str]:
    art = tmp_path / "build" / "swanctl.conf"
    art.parent.mkdir()
    art.write_text(f'secrets {{\n  ike-tun1 {{\n    secret = "{PSK}"\n  }}\n}}\n')
    return [str(art)]


def report_args(tmp_path: Path, **kw: Any) -> dict[str, Any]:
    return {"site": site(), "checks": checks(), "dest": str(tmp_path / "reports"), "template": TEMPLATE,
            "results": [{"checks": [{"id": "tls.handshake", "group": "tls", "title": "TLS", "status": "warn",
                                     "duration_s": 0.1, "detail": {}}]}, {"skipped": True}],
            "timings": {"render": 0.2}, **kw}


def test_report_is_the_same_in_process(tmp_path: Path, artifacts: list[str]) -> None:
    here, module = both_ways("site_report", report_args(tmp_path, secrets=[PASSWORD], secret_files=artifacts))
    assert here == module
    assert here["changed"] is True and here["written"] is True and here["status"] == "fail"
    assert here["summary"]["total"] == 3 and [f["id"] for f in here["failures"]] == ["network.bgp"]
    assert sorted(here["files"]) == ["report.html", "report.json", "report.xml"]
    for path in here["files"].values():
        assert Path(path).is_file()
    assert json.loads(Path(here["files"]["report.json"]).read_text())["site_name"] == "inproc-facility"
    assert here["invocation"]["module_args"]["secrets"] == ["VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"]


def test_check_mode_writes_nothing_in_process(tmp_path: Path) -> None:
    here, module = both_ways("site_report", report_args(tmp_path), check_mode=True)
    assert here == module
    assert here["written"] is False and here["files"]
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize("leak", [PSK, PASSWORD])
def test_no_secret_of_the_run_is_returned_in_process(tmp_path: Path, artifacts: list[str], leak: str) -> None:
    """A check that saw a secret: masked in the report and in the result, the same both ways."""
    args = report_args(tmp_path, checks=checks(f"the device answered {leak}"), secrets=[PASSWORD],
                       secret_files=artifacts)
    here, module = both_ways("site_report", args)
    assert here == module
    assert leak not in json.dumps(here)
    for path in here.get("files", {}).values():
        assert leak not in Path(path).read_text()


@pytest.mark.parametrize("kw,message", [
    ({"template": None}, "template is required for the html format"),
    ({"site": {"site_name": "../escape"}}, "cannot write the report: site_name"),
    ({"secret_files": ["/nonexistent/swanctl.conf"]}, "cannot write the report: "),
    ({"formats": ["pdf"]}, "value of formats must be one or more of: json, junit, html"),
    ({"site": "not a dict"}, "site"),
    ({"colour": "blue"}, "Unsupported parameters for (stowpath.core.site_report) module: colour"),
])
def test_failures_are_the_same_in_process(tmp_path: Path, kw: dict[str, Any], message: str) -> None:
    here, module = both_ways("site_report", {**report_args(tmp_path), **kw})
    assert here == module
    assert here["failed"] is True and message in here["msg"], here["msg"]


def test_the_module_runs_when_not_local_or_with_become(tmp_path: Path) -> None:
    args = report_args(tmp_path, formats=["json"])
    _, calls = run_action("site_report", args, become=True)
    assert [c["module_name"] for c in calls] == ["stowpath.core.site_report"]
    result, calls = run_action("site_report", args, transport="ssh")
    assert calls[0]["module_args"] == args and calls[0]["wrap_async"] is False
    assert result["written"] is True and Path(result["files"]["report.json"]).is_file()


def test_the_module_alone_still_writes(tmp_path: Path) -> None:
    result = run_module("site_report", report_args(tmp_path, formats=["json"]))
    assert result["written"] is True and Path(result["files"]["report.json"]).is_file()
