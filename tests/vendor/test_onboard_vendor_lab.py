"""Onboarding an IOS-XE router (the lab's CLI SIMULATOR, private instances on free ports) verifies its
tunnels and BGP like the Linux gateway's, and a cloud that refuses the facility rolls the router back.

The simulator answers the state queries from its pushed configuration evaluated against the lab cloud
(lab/vendor/cloud_state.py), so `lab.py cloud-break vpn` (the cloud's PSKs change) brings its tunnels down.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from vendor.conftest import CLI_ENABLE, CLI_PASSWORD, CLI_USER, REPO, Sim, _run, start_sim

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]
LAB_FILES = REPO / "inventories" / "lab" / "files"


def lab(*args: str) -> None:
    subprocess.run([str(REPO / ".venv" / "bin" / "python"), str(REPO / "lab" / "lab.py"), *args], check=True,
                   capture_output=True, text=True, timeout=120)


def onboard(base: Path, sim: Sim, name: str) -> tuple[subprocess.CompletedProcess, dict]:
    """Onboard the lab facility onto the simulator as host ``name``; returns the run and its report."""
    inv = base / "inventory"
    inv.mkdir(exist_ok=True)
    host = {
        "site_name": name, "gateway_platform": "cisco_iosxe", "cloud_provider": "aws_vpn",
        "cloud_params_file": str(LAB_FILES / "aws-vpn.xml"), "wan_interface": "GigabitEthernet1",
        "wan_address": "198.51.100.24", "lan_interface": "GigabitEthernet2", "lan_cidrs": ["203.0.113.0/26"],
        "dicomweb_url": "https://dicom.lab.example/dicomweb/studies", "dicomweb_cidrs": ["203.0.113.128/26"],
        "gateway_mgmt_host": "127.0.0.1", "gateway_mgmt_port": sim.port, "gateway_transport": "netmiko",
        "gateway_username": CLI_USER, "gateway_password": CLI_PASSWORD, "gateway_enable_secret": CLI_ENABLE,
        "gateway_known_hosts": str(sim.known_hosts),
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
    }
    (inv / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {name: host}}}))
    cmd = [str(REPO / ".venv" / "bin" / "ansible-playbook"), str(REPO / "playbooks" / "onboard-site.yml"),
           "-i", str(inv), "-e", f"stowpath_build_dir={base / 'build'}", "-e", f"gateway_push_state_dir={base / 'push'}",
           "-e", f"report_dest={base / 'reports'}", "-e", "verify_network_tunnel_timeout=8",
           "-e", "verify_network_bgp_timeout=8"]
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=600)
    path = base / "reports" / name / "report.json"
    report = json.loads(path.read_text()) if path.exists() else {}
    return res, report


@pytest.fixture()
def fresh_sim(tmp_path: Path) -> Iterator[Sim]:
    sim = start_sim(tmp_path / "sim")
    try:
        yield sim
    finally:
        _run("iosxe_sim.py", "stop", "--state-dir", str(sim.state_dir))


def statuses(report: dict) -> dict[str, str]:
    return {c["id"]: c["status"] for c in report.get("checks", [])}


def test_onboarding_verifies_tunnels_and_bgp_on_iosxe(tmp_path: Path, fresh_sim: Sim) -> None:
    res, report = onboard(tmp_path, fresh_sim, "lab-iosxe-verify")
    assert res.returncode == 0, res.stdout[-4000:]
    got = statuses(report)
    for check in ("network.tunnel.tun1", "network.tunnel.tun2", "network.bgp.tun1", "network.bgp.tun2"):
        assert got.get(check) == "pass", (check, got)
    assert got.get("network.path.lan_host") == "skip"  # no LAN host: said, not silently passed
    assert "STOWPATH-" in fresh_sim.startup(), "confirmed pushes are saved (write memory)"
    assert CLI_PASSWORD not in res.stdout and CLI_ENABLE not in res.stdout


def test_broken_cloud_fails_verification_and_rolls_the_router_back(tmp_path: Path, fresh_sim: Sim) -> None:
    before = fresh_sim.running()
    lab("cloud-break", "vpn")
    try:
        res, report = onboard(tmp_path, fresh_sim, "lab-iosxe-broken")
    finally:
        lab("cloud-repair")
    assert res.returncode != 0
    got = statuses(report)
    assert got.get("network.tunnel.tun1") == "fail" and got.get("network.tunnel.tun2") == "fail", got
    assert "rolled back to its previous configuration" in res.stdout
    assert "STOWPATH-" not in fresh_sim.running(), "the router holds none of the failed change"
    assert fresh_sim.running().count("crypto ") == before.count("crypto ")
    assert "STOWPATH-" not in fresh_sim.startup(), "nothing unverified was saved"
