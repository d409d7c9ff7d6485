"""The playbooks around a change: plan-site.yml offline, vaulted vendor files, the onboarding pre-flight,
connection variables, and a drift check of an unreachable router (no lab: a closed local port)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from plan.conftest import EXAMPLE, REPO, RUNNING_IOSXE, ansible_env, playbook

VAULT_PASSWORD = "stowpath-test-vault"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def router_inventory(base: Path, **overrides: object) -> Path:
    inv = base / "inventory"
    (inv / "params").mkdir(parents=True, exist_ok=True)
    params = inv / "params" / "aws-vpn.xml"
    shutil.copy(EXAMPLE / "params" / "aws-vpn-bgp.xml", params)
    params.chmod(0o600)
    host = {"site_name": "edge-test", "gateway_platform": "cisco_iosxe", "cloud_provider": "aws_vpn",
            "cloud_params_file": "params/aws-vpn.xml", "wan_interface": "GigabitEthernet1",
            "wan_address": "198.51.100.24", "lan_interface": "GigabitEthernet2", "lan_cidrs": ["10.20.0.0/24"],
            "dicomweb_url": "https://dicom.vendor.example/dicomweb/studies", "dicomweb_cidrs": ["10.100.0.0/24"],
            "gateway_mgmt_host": "127.0.0.1", "gateway_mgmt_port": closed_port(), "gateway_username": "admin",
            "gateway_password": "not-used-pw", "ansible_connection": "local",
            "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    host.update(overrides)
    host = {k: v for k, v in host.items() if v is not None}
    (inv / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"edge-rtr": host}}}))
    return inv


def common(base: Path) -> list[str]:
    return ["-e", f"stowpath_build_dir={base / 'build'}", "-e", f"report_dest={base / 'reports'}",
            "-e", f"gateway_push_state_dir={base / 'push'}"]


def vault(*args: str, cwd: Path) -> None:
    subprocess.run([str(REPO / ".venv" / "bin" / "ansible-vault"), *args], check=True, cwd=cwd, env=ansible_env(),
                   capture_output=True, text=True)


def test_offline_plan_from_a_saved_running_config(tmp_path: Path) -> None:
    saved = tmp_path / "harbor-isr-running.txt"
    saved.write_text(RUNNING_IOSXE)
    res = playbook("plan-site.yml", EXAMPLE, "-l", "harbor-isr", "-e", f"running_config_file={saved}",
                   *common(tmp_path))
    out = res.stdout + res.stderr
    plan_dir = tmp_path / "reports" / "harbor-radiology"
    assert (plan_dir / "change-plan.md").exists(), out[-4000:]
    md = (plan_dir / "change-plan.md").read_text()
    plan = json.loads((plan_dir / "change-plan.json").read_text())
    assert plan["source"].endswith(str(saved)) and plan["transport"] == "netmiko"
    for name in ("EDGE-IN", "router bgp 65020", "crypto ikev2 profile BRANCH-PEERS", "bgp router-id 10.20.0.1"):
        assert name in md, name
    assert "(plan_site_result" not in out and "UNREACHABLE" not in out  # nothing was contacted
    assert (res.returncode == 0) == (plan["status"] != "blocked"), out[-3000:]
    for text in (out, md, (plan_dir / "change-plan.html").read_text()):
        assert "Tq4m_Lz7.Wd2xVb9Kp3RsNc8YhJe5Fa1" not in text  # the example file's PSK


def test_vaulted_vendor_file_renders_and_without_the_password_says_so(tmp_path: Path) -> None:
    inv = router_inventory(tmp_path)
    pw = tmp_path / "vault-pass"
    pw.write_text(VAULT_PASSWORD + "\n")
    vault("encrypt", "--vault-password-file", str(pw), "params/aws-vpn.xml", cwd=inv)
    encrypted = (inv / "params" / "aws-vpn.xml").read_text()
    assert encrypted.startswith("$ANSIBLE_VAULT;")
    res = playbook("render-site.yml", inv, "--vault-password-file", str(pw), *common(tmp_path))
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert "crypto ikev2 keyring STOWPATH-KEYRING" in (tmp_path / "build" / "edge-rtr" / "config.cfg").read_text()
    assert (inv / "params" / "aws-vpn.xml").read_text() == encrypted
    assert not list(inv.glob("params/*.xml.*")) and len(list((inv / "params").iterdir())) == 1
    bare = playbook("render-site.yml", inv, "-e", f"stowpath_build_dir={tmp_path / 'build2'}")
    out = bare.stdout + bare.stderr
    assert bare.returncode != 0
    assert "encrypted with Ansible Vault" in out and "--vault-password-file" in out
    assert "malformed" not in out


def test_world_readable_vendor_file_warns(tmp_path: Path) -> None:
    inv = router_inventory(tmp_path)
    (inv / "params" / "aws-vpn.xml").chmod(0o644)
    res = playbook("render-site.yml", inv, *common(tmp_path))
    assert res.returncode == 0
    assert "readable by its group and every user" in res.stdout + res.stderr


def test_missing_connection_variables_fail_validation_in_one_pass(tmp_path: Path) -> None:
    inv = router_inventory(tmp_path, gateway_username=None, gateway_password=None, lan_cidrs=["10.100.0.0/25"])
    res = playbook("onboard-site.yml", inv, *common(tmp_path))
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "gateway_username: is required" in out and "gateway_password or gateway_key_file" in out
    assert "overlaps dicomweb_cidrs" in out  # every problem of the host at once
    assert "undefined" not in out.lower()
    # rendering (no device) does not need them
    ok = router_inventory(tmp_path / "r", gateway_username=None, gateway_password=None)
    assert playbook("render-site.yml", ok, *common(tmp_path / "r")).returncode == 0


def test_preflight_stops_onboarding_before_any_change(tmp_path: Path) -> None:
    inv = router_inventory(tmp_path)
    res = playbook("onboard-site.yml", inv, *common(tmp_path))
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "pre-flight" in out and "could not be read" in out
    assert "TASK [gateway_push" not in out  # stopped before the change flow
    report = json.loads((tmp_path / "reports" / "edge-test" / "report.json").read_text())
    assert "Pre-flight" in json.dumps(report)


def test_drift_check_of_an_unreachable_router_reports_it(tmp_path: Path) -> None:
    inv = router_inventory(tmp_path)
    fleet = tmp_path / "fleet"
    res = playbook("drift-check.yml", inv, *common(tmp_path), "-e", f"drift_check_report_dir={fleet}",
                   "-e", f"drift_check_backup_root={tmp_path / 'backups'}")
    out = res.stdout + res.stderr
    assert res.returncode != 0
    data = json.loads((fleet / "drift.json").read_text())
    assert data["summary"]["unreachable"] == 1, out[-3000:]
    text = json.dumps(data)
    assert "unreachable" in text and "127.0.0.1" in text  # the reason names the device
    assert (fleet / "index.html").exists()


@pytest.mark.parametrize("missing", ["gateway_username"])
def test_plan_against_the_device_needs_connection_variables(tmp_path: Path, missing: str) -> None:
    inv = router_inventory(tmp_path, **{missing: None})
    res = playbook("plan-site.yml", inv, *common(tmp_path))
    assert res.returncode != 0 and f"{missing}: is required" in res.stdout + res.stderr
    offline = playbook("plan-site.yml", inv, "-e", "plan_offline=true", *common(tmp_path))
    assert offline.returncode == 0, (offline.stdout + offline.stderr)[-3000:]
    assert (tmp_path / "reports" / "edge-test" / "change-plan.md").exists()
