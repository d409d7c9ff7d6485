"""drift-check.yml without the lab: one task per gateway (the render, the read and the comparison), a Linux
gateway that cannot be reached over SSH is reported unreachable in the fleet report written once, hosts that
are not gateways stay out, and the role's variables are still checked (inside the one task)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import yaml
from plan.conftest import EXAMPLE, playbook
from plan.test_plan_playbooks import closed_port


def inventory(base: Path) -> Path:
    inv = base / "inventory"
    (inv / "params").mkdir(parents=True)
    shutil.copy(EXAMPLE / "params" / "aws-vpn-bgp.xml", inv / "params" / "aws-vpn.xml")
    (inv / "params" / "aws-vpn.xml").chmod(0o600)
    gw = {"site_name": "edge-linux", "gateway_platform": "linux_strongswan", "cloud_provider": "aws_vpn",
          "cloud_params_file": "params/aws-vpn.xml", "wan_interface": "eth0", "wan_address": "198.51.100.24",
          "lan_interface": "eth1", "lan_cidrs": ["10.20.0.0/24"],
          "dicomweb_url": "https://dicom.vendor.example/dicomweb/studies", "dicomweb_cidrs": ["10.100.0.0/24"],
          "ansible_host": "127.0.0.1", "ansible_port": closed_port(), "ansible_user": "root"}
    hosts = {"edge-gw": gw, "edge-gw2": dict(gw, site_name="edge-linux-2"), "pacs-1": {"ansible_connection": "local"}}
    (inv / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    return inv


def run(base: Path, *extra: str):
    return playbook("drift-check.yml", inventory(base), "-e", f"stowpath_build_dir={base / 'build'}",
                    "-e", f"drift_check_report_dir={base / 'fleet'}", "-e", f"drift_check_backup_root={base / 'b'}",
                    *extra)


def test_an_unreachable_linux_gateway_in_one_task(tmp_path: Path) -> None:
    res = run(tmp_path)
    out = res.stdout + res.stderr
    assert res.returncode != 0
    data = json.loads((tmp_path / "fleet" / "drift.json").read_text())
    assert sorted(s["host"] for s in data["sites"]) == ["edge-gw", "edge-gw2"], out[-3000:]
    assert data["summary"]["unreachable"] == 2
    assert "127.0.0.1" in json.dumps(data["sites"][0])  # the reason names the address
    assert (tmp_path / "build" / "edge-gw" / "swanctl.conf").exists()  # rendered by the same task
    # per gateway: the drift task and the verdict (the report and its summary run once, on the first host);
    # (the meta tasks run in the controller process, not per host); pacs-1 is left out
    per_host = re.findall(r"^(?:ok|changed|failed|fatal): \[edge-gw2\]", out, re.M)
    assert len(per_host) == 2, out[-3000:]
    assert not re.search(r"^(?:ok|changed|skipping|fatal): \[pacs-1\]", out, re.M)


def test_the_role_variables_are_checked_in_the_task(tmp_path: Path) -> None:
    res = run(tmp_path, "-e", "drift_keep_backups=many")
    out = res.stdout + res.stderr
    assert res.returncode != 0 and "drift_check_keep_backups" in out and "int" in out
