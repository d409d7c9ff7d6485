"""change_plan delegated to localhost runs in the controller's process (action plugin): on the same inputs it
returns what the module returns in a new Python process - plan, blocking findings, warnings, failure
messages, written files, and no secret."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from action_paths import both_ways, run_action, run_module
from ansible_collections.stowpath.core.plugins.module_utils.site import masked

from plan.conftest import REPO, RUNNING_IOSXE, render_harbor

TEMPLATES = str(REPO / "templates" / "report")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> tuple[dict[str, Any], str]:
    out = tmp_path_factory.mktemp("build")
    site = render_harbor(out)
    return json.loads(json.dumps(masked(site))), str(out)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def same(here: dict[str, Any], module: dict[str, Any]) -> dict[str, Any]:
    """Assert both results are equal but for the plan's generation time; returns the in-process one."""
    for result in (here, module):
        if "plan" in result:
            assert result["plan"].pop("generated")
    assert here == module
    return here


def plan_args(rendered: tuple[dict[str, Any], str], **kw: Any) -> dict[str, Any]:
    site, artifact_dir = rendered
    return {"platform": "cisco_iosxe", "site": site, "artifact_dir": artifact_dir, "owner": "harbor-radiology",
            "device_key": "harbor-isr", **kw}


def test_offline_plan_is_the_same_in_process(rendered, tmp_path: Path) -> None:
    saved = tmp_path / "running.txt"
    saved.write_text(RUNNING_IOSXE)
    args = plan_args(rendered, running_config_file=str(saved), dest=str(tmp_path / "reports"),
                     templates_dir=TEMPLATES, imaging=True)
    result = same(*both_ways("change_plan", args))
    assert result["changed"] is False and result["plan"]["source"].endswith(str(saved))
    assert "router bgp 65020" in json.dumps(result["plan"]["findings"])
    assert any("bgp router-id" in w for w in result["warnings"])  # a shared line: module.warn, both ways
    assert sorted(result["files"]) == ["change-plan.html", "change-plan.json", "change-plan.md"]
    assert all(Path(p).is_file() for p in result["files"].values())
    assert result["invocation"]["module_args"]["running_config_file"] == str(saved)


def test_preflight_failure_is_the_same_in_process(rendered, tmp_path: Path) -> None:
    saved = tmp_path / "running.txt"
    saved.write_text(RUNNING_IOSXE.replace("router bgp 65020", "router bgp 65100"))
    result = same(*both_ways("change_plan", plan_args(rendered, running_config_file=str(saved),
                                                        fail_on_blocking=True)))
    assert result["failed"] is True and result["msg"].startswith("pre-flight: ")
    assert "65100" in result["msg"] and result["plan"]["status"] == "blocked"
    assert "bgp.process" in [f["id"] for f in result["blocking"]]


@pytest.mark.parametrize("kw,message", [
    ({"platform": "cisco_iosxe", "host": "127.0.0.1"}, "give username"),
    ({"artifact_dir": "/nonexistent/build"}, "the rendered configuration is missing"),
    ({"running_config_file": "/nonexistent/running.txt"}, "cannot read running_config_file"),
    ({"mode": "overwrite"}, "value of mode must be one of: merge, replace"),
    ({"no_such_option": 1}, "Unsupported parameters for (stowpath.core.change_plan) module: no_such_option"),
    ({"dest": "/tmp", "read_device": False}, "templates_dir is required with dest"),
])
def test_failures_are_the_same_in_process(rendered, kw: dict[str, Any], message: str) -> None:
    result = same(*both_ways("change_plan", {**plan_args(rendered), **kw}))
    assert result["failed"] is True and message in result["msg"], result["msg"]


def test_device_read_opens_the_transport_in_process(rendered) -> None:
    """read_device on a platform read from the controller: the transport is opened from the controller's process
    (here a closed port: the plan blocks with device.unreachable and the password is in no result)."""
    port = closed_port()
    args = plan_args(rendered, host="127.0.0.1", port=port, username="admin", password="Not.Returned.Pw1",
                     timeout=5)
    here, module = both_ways("change_plan", args)
    assert "Not.Returned.Pw1" not in json.dumps(here) + json.dumps(module)
    result = same(here, module)
    unreachable = result["blocking"][0]
    assert unreachable["id"] == "device.unreachable" and unreachable["object"] == f"127.0.0.1:{port}"
    assert result["invocation"]["module_args"]["password"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_no_log_values_are_masked_in_process(rendered, tmp_path: Path) -> None:
    """A value given as a secret is masked in every returned string, as AnsibleModule masks it."""
    saved = tmp_path / "running.txt"
    saved.write_text(RUNNING_IOSXE)
    args = plan_args(rendered, running_config_file=str(saved), secrets=["BRANCH-PEERS"])
    here, module = both_ways("change_plan", args)
    assert "BRANCH-PEERS" not in json.dumps(here)
    assert "********" in json.dumps(same(here, module)["plan"])


def test_the_module_runs_when_not_local_or_with_become(rendered) -> None:
    args = plan_args(rendered, read_device=False)
    _, calls = run_action("change_plan", args, become=True)
    assert [c["module_name"] for c in calls] == ["stowpath.core.change_plan"]
    _, calls = run_action("change_plan", args, transport="ssh")
    assert calls[0]["module_args"] == args and calls[0]["wrap_async"] is False


def test_the_module_alone_still_plans(rendered) -> None:
    result = run_module("change_plan", plan_args(rendered, read_device=False))
    assert result["plan"]["status"] == "change" and "offline run" in json.dumps(result["plan"]["notes"])
