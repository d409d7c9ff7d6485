"""Drift check of a cisco_iosxe target (the lab's IOS-XE CLI simulator, a private instance on a free port):
onboard it, change lines by hand over its CLI, find exactly the owned drift, remediate, check again."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
import yaml
from onboard.conftest import REPO, recap
from stowpath_testlib import EXAMPLE_PARAMS
from vendor.conftest import CLI_ENABLE, CLI_PASSWORD, CLI_USER, Sim, _run, start_sim

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]

HOST = "harbor-isr"
PEER = "169.254.21.5"  # tun1's cloud inside address in inventories/example/params/aws-vpn-bgp.xml


def playbook(name: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [str(REPO / ".venv" / "bin" / "ansible-playbook"), str(REPO / "playbooks" / name), *args]
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=600)


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    base = tmp_path_factory.mktemp("drift-iosxe")
    sim = start_sim(base / "sim")
    inv = base / "inventory"
    inv.mkdir()
    host = {
        "site_name": "harbor-radiology", "gateway_platform": "cisco_iosxe", "cloud_provider": "aws_vpn",
        "cloud_params_file": str(EXAMPLE_PARAMS / "aws-vpn-bgp.xml"), "wan_interface": "GigabitEthernet1",
        "wan_address": "198.51.100.24", "lan_interface": "GigabitEthernet2", "lan_cidrs": ["10.20.0.0/24"],
        "dicomweb_url": "https://dicom.vendor.example/dicomweb/studies", "dicomweb_cidrs": ["10.100.0.0/24"],
        "gateway_mgmt_host": "127.0.0.1", "gateway_mgmt_port": sim.port, "gateway_transport": "netmiko",
        "gateway_username": CLI_USER, "gateway_password": CLI_PASSWORD, "gateway_enable_secret": CLI_ENABLE,
        "gateway_known_hosts": str(sim.known_hosts),
        "verify_network_enabled": False, "ansible_connection": "local",
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
    }
    (inv / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {HOST: host}}}))
    extra = ["-i", str(inv), "-e", f"stowpath_build_dir={base / 'build'}", "-e", f"gateway_push_state_dir={base / 'push'}",
             "-e", f"drift_check_backup_root={base / 'backups'}", "-e", f"drift_check_report_dir={base / 'reports'}"]
    try:
        res = playbook("onboard-site.yml", *extra, "-l", HOST)
        assert res.returncode == 0, res.stdout[-4000:]
        yield {"dir": base, "sim": sim, "extra": extra}
    finally:
        _run("iosxe_sim.py", "stop", "--state-dir", str(sim.state_dir))


def cli(sim: Sim, lines: list[str]) -> None:
    from netmiko import ConnectHandler

    c = ConnectHandler(device_type="cisco_ios", host="127.0.0.1", port=sim.port, username=CLI_USER,
                       password=CLI_PASSWORD, secret=CLI_ENABLE, fast_cli=True)
    try:
        c.enable()
        out = c.send_config_set(lines)
        assert "% " not in out, out
    finally:
        c.disconnect()


def check(router: dict, *args: str):
    res = playbook("drift-check.yml", *router["extra"], "-l", HOST, *args)
    report = json.loads((router["dir"] / "reports" / "drift.json").read_text())
    return res, res.stdout + res.stderr, next(s for s in report["sites"] if s["host"] == HOST)


def test_onboarded_router_is_in_sync(router):
    res, text, site = check(router)
    assert res.returncode == 0, text[-3000:]
    assert site["status"] == "in_sync"
    backup = Path(site["backup_dir"])
    running = (backup / "running-config.txt").read_text()
    assert "crypto ikev2 keyring STOWPATH-KEYRING" in running and "pre-shared-key ********" in running
    assert CLI_PASSWORD not in text and CLI_ENABLE not in text


def test_hand_made_drift_is_found_exactly_and_remediated(router):
    sim: Sim = router["sim"]
    cli(sim, ["interface Tunnel1", "ip tcp adjust-mss 1300", "exit",
              "router bgp 65020", f"no neighbor {PEER} remote-as 64512", "exit",
              "ip access-list extended STOWPATH-ACL-TO-CLOUD", "permit ip any any", "exit",
              "ip route 10.99.0.0 255.255.255.0 GigabitEthernet2",
              "interface GigabitEthernet3", "description spare port (facility)", "exit"])
    res, text, site = check(router)
    assert res.returncode != 0 and recap(res.stdout)[HOST]["failed"] == 1, text[-3000:]
    items = {i["object"]: i for i in site["items"]}
    assert set(items) == {"interface Tunnel1", "router bgp 65020", "ip access-list extended STOWPATH-ACL-TO-CLOUD"}
    assert items["interface Tunnel1"]["area"] == "mss"
    assert items["interface Tunnel1"]["commands"] == ["interface Tunnel1", "  ip tcp adjust-mss 1379", "  exit"]
    assert any(c.strip().startswith("no ") and "permit ip any any" in c
               for c in items["ip access-list extended STOWPATH-ACL-TO-CLOUD"]["commands"])
    assert f"  neighbor {PEER} remote-as 64512" in items["router bgp 65020"]["commands"]
    assert "10.99.0.0" not in json.dumps(site["items"]) and "spare port" not in json.dumps(site["items"])

    res, text, site = check(router, "-e", "remediate=true")
    assert res.returncode == 0, text[-5000:]
    assert site["status"] == "in_sync" and site["remediation"]["ok"]
    running = sim.running()
    assert "ip tcp adjust-mss 1300" not in running and f"neighbor {PEER} remote-as 64512" in running
    assert "ip route 10.99.0.0 255.255.255.0 GigabitEthernet2" in running and "spare port (facility)" in running
    assert "ip tcp adjust-mss 1379" in sim.startup()  # confirmed: write memory

    res, text, site = check(router)
    assert res.returncode == 0 and site["status"] == "in_sync", text[-3000:]
    assert os.path.isdir(site["backup_dir"])
