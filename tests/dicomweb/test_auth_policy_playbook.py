"""A bad dicomweb_auth stops render-site.yml (fleet_render) and the site_render role (onboard-site.yml,
plan-site.yml) before anything is written or pushed; vault-style secrets never reach the output."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
XML = (REPO / "inventories" / "example" / "params" / "aws-vpn-bgp.xml").read_text()
PASSWORD = "Fake.basic.password.42"
TOKEN = "fake-static-token-value-0001"
ROLE_PLAY = """- name: The site_render role as onboard-site.yml and plan-site.yml run it
  hosts: all
  gather_facts: false
  connection: local
  tasks:
    - name: Validate and render
      ansible.builtin.include_role:
        name: stowpath.core.site_render
"""


def inventory(tmp: Path, **auth: object) -> Path:
    inv = tmp / "inv"
    (inv / "files").mkdir(parents=True)
    (inv / "files" / "vpn.xml").write_text(XML)
    hv = {"site_name": "t-facility", "gateway_platform": "linux_strongswan", "cloud_provider": "aws_vpn",
          "cloud_params_file": "files/vpn.xml", "wan_interface": "eth0", "wan_address": "198.51.100.24",
          "lan_interface": "eth1", "lan_cidrs": ["10.20.0.0/24"], "ansible_python_interpreter": str(REPO / ".venv/bin/python"),
          "dicomweb_url": "https://dicom.vendor.example/dicomweb/studies", "dicomweb_cidrs": ["10.100.0.0/24"], **auth}
    (inv / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"gw": hv}}}))
    return inv


def run(playbook: Path, inv: Path, build: Path) -> subprocess.CompletedProcess:
    cmd = [str(REPO / ".venv" / "bin" / "ansible-playbook"), str(playbook), "-i", str(inv), "-vvv",
           "-e", f"stowpath_build_dir={build}"]
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=300)


def test_bad_auth_stops_render_site_and_the_role(tmp_path):
    inv = inventory(tmp_path, dicomweb_auth=["basic", "bearer"], dicomweb_username="u", dicomweb_password=PASSWORD,
                    dicomweb_token=TOKEN)
    play = tmp_path / "role.yml"
    play.write_text(ROLE_PLAY)
    for playbook in (REPO / "playbooks" / "render-site.yml", play):
        res = run(playbook, inv, tmp_path / "build")
        out = res.stdout + res.stderr
        assert res.returncode != 0, out[-3000:]
        assert "dicomweb_auth: basic and bearer cannot be combined" in out, out[-3000:]
        assert PASSWORD not in out and TOKEN not in out
        assert not (tmp_path / "build" / "gw").exists()


def test_good_auth_renders(tmp_path):
    inv = inventory(tmp_path, dicomweb_auth="bearer", dicomweb_token=TOKEN)
    res = run(REPO / "playbooks" / "render-site.yml", inv, tmp_path / "build")
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert TOKEN not in res.stdout + res.stderr
    assert (tmp_path / "build" / "gw" / "swanctl.conf").exists()
