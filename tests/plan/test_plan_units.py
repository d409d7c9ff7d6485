"""The change-plan library and the IOS-XE pre-flight rules (pure, no Ansible)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from ansible_collections.stowpath.core.plugins.module_utils import platforms
from ansible_collections.stowpath.core.plugins.module_utils.plan import build_plan
from ansible_collections.stowpath.core.plugins.module_utils.plan.render import write_plan
from ansible_collections.stowpath.core.plugins.module_utils.site import masked

from plan.conftest import REPO, RUNNING_IOSXE, render_harbor

IOSXE = platforms.get("cisco_iosxe")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("build")
    site = render_harbor(out)
    return site, (out / "config.cfg").read_text()


def plan_for(rendered, running: str, **kw) -> dict:
    site, intended = rendered
    secrets = IOSXE.extract_secrets(intended)
    return build_plan(masked(site), IOSXE, "netmiko", intended, running, source="saved running configuration",
                      secrets=secrets, **kw)


def test_offline_plan_names_the_existing_acl_bgp_and_ikev2_profile(rendered, tmp_path: Path) -> None:
    plan = plan_for(rendered, RUNNING_IOSXE)
    objects = " | ".join(f["object"] for f in plan["findings"])
    assert "EDGE-IN" in json.dumps(plan["findings"])  # the WAN interface's ACL
    assert "router bgp 65020" in objects  # the existing BGP process (same AS: depends, not blocking)
    assert "crypto ikev2 profile BRANCH-PEERS" in objects
    rid = next(f for f in plan["findings"] if f["id"] == "bgp.router_id")
    assert rid["severity"] == "shared" and "resets every BGP session" in rid["impact"] and "10.20.0.2" in rid["impact"]
    assert "bgp_router_id: 10.20.0.1" in rid["fix"]
    assert any("router bgp 65020" in i and "reset" in i for i in plan["impact"])
    assert plan["commands"] and plan["rollback"]["by_hand"]
    assert "bgp router-id 10.20.0.1" in "\n".join(plan["rollback"]["by_hand"])
    assert plan["duration"]["expected_s"] > 0 and plan["verification"]
    files = write_plan(plan, str(tmp_path), str(REPO / "templates" / "report"))
    md = Path(files["change-plan.md"]).read_text()
    for name in ("EDGE-IN", "router bgp 65020", "BRANCH-PEERS", "Rollback plan", "Verification plan"):
        assert name in md
    assert "EDGE-IN" in Path(files["change-plan.html"]).read_text()
    assert json.loads(Path(files["change-plan.json"]).read_text())["site_name"] == "harbor-radiology"


def test_plan_never_holds_a_secret(rendered, tmp_path: Path) -> None:
    site, intended = rendered
    plan = plan_for(rendered, RUNNING_IOSXE)
    files = write_plan(plan, str(tmp_path), str(REPO / "templates" / "report"))
    text = "".join(Path(f).read_text() for f in files.values())
    for t in site["tunnels"]:
        assert t["psk"] not in text
    assert "pre-shared-key ********" in text


def test_clean_router_plan_expects_no_session_reset(rendered) -> None:
    running = "hostname clean\ninterface GigabitEthernet1\n ip address 198.51.100.24 255.255.255.0\n" \
              "interface GigabitEthernet2\n ip address 10.20.0.1 255.255.255.0\narchive\n path flash:a\n"
    plan = plan_for(rendered, running)
    assert plan["status"] == "change" and not [f for f in plan["findings"] if f["severity"] == "blocking"]
    assert not any(f["id"] == "bgp.router_id" for f in plan["findings"])


def test_existing_bgp_with_another_as_blocks(rendered) -> None:
    plan = plan_for(rendered, RUNNING_IOSXE.replace("router bgp 65020", "router bgp 65100"))
    assert plan["status"] == "blocked"
    f = next(f for f in plan["findings"] if f["id"] == "bgp.process")
    assert f["severity"] == "blocking" and "65100" in f["object"] and "ASN" in f["fix"]


def test_ikev2_policy_matching_the_wan_address_is_called_out(rendered) -> None:
    running = RUNNING_IOSXE + "crypto ikev2 policy BRANCH-POL\n match address local 198.51.100.24\n proposal P1\n"
    plan = plan_for(rendered, running)
    assert any(f["id"] == "ike.policy" and f["severity"] == "shared" for f in plan["findings"])


def test_profile_capturing_the_cloud_address_blocks(rendered) -> None:
    site, _ = rendered
    cloud = site["tunnels"][0]["remote_outside"]
    running = RUNNING_IOSXE.replace("203.0.113.9 255.255.255.255", f"{cloud} 255.255.255.255")
    plan = plan_for(rendered, running)
    assert any(f["id"] == "ike.profile.overlap" and f["severity"] == "blocking" for f in plan["findings"])


def test_no_change_plan(rendered) -> None:
    site, intended = rendered
    plan = plan_for(rendered, "hostname done\narchive\n path flash:a\n" + intended)
    assert not re.search(r"^crypto ikev2 proposal", "\n".join(plan["commands"]), re.M)
    assert plan["status"] == "no_change", plan["commands"]
    assert plan["impact"] == ["none: the device already matches (no change)"]


def test_unread_device_plan_shows_the_whole_configuration(rendered) -> None:
    plan = plan_for(rendered, None, unread_reason="offline run")
    assert plan["commands"] and any("offline run" in n for n in plan["notes"])
