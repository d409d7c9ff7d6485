"""stowpath.core.gateway_push as Ansible runs it: --check --diff, push, verify-then-confirm."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.site import site_secrets

from .conftest import CLI_ENABLE, CLI_PASSWORD, CLI_USER, REPO, make_site, render

BIN = Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin"
PLAY = """
- name: Push to the simulated IOS-XE router
  hosts: localhost
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Push (commit-confirmed)
      stowpath.core.gateway_push:
        platform: cisco_iosxe
        transport: netmiko
        host: 127.0.0.1
        port: "{{ sim_port | int }}"
        username: "{{ user }}"
        password: "{{ password }}"
        enable_secret: "{{ enable }}"
        known_hosts: "{{ known_hosts }}"
        artifact_dir: "{{ artifacts }}"
        owner: harbor-radiology
        state_dir: "{{ state }}"
        command_timeout: 5
      register: push
    - name: Confirm
      stowpath.core.gateway_push:
        action: confirm
        token: "{{ push.token }}"
        platform: cisco_iosxe
        transport: netmiko
        host: 127.0.0.1
        port: "{{ sim_port | int }}"
        username: "{{ user }}"
        password: "{{ password }}"
        enable_secret: "{{ enable }}"
        known_hosts: "{{ known_hosts }}"
        owner: harbor-radiology
        state_dir: "{{ state }}"
      when: push.token is truthy
"""


def test_documentation_parses():
    out = subprocess.run([str(BIN / "ansible-doc"), "-j", "stowpath.core.gateway_push"], capture_output=True,
                         text=True, cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)["stowpath.core.gateway_push"]
    assert doc["doc"]["options"]["password"]["type"] == "str" and "token" in doc["return"]


@pytest.mark.lab
@pytest.mark.xdist_group("lab")
def test_check_diff_then_push_and_confirm(sim, tmp_path):
    render(make_site(), tmp_path / "art")
    play = tmp_path / "play.yml"
    play.write_text(PLAY)
    extra = json.dumps({"sim_port": sim.port, "user": CLI_USER, "password": CLI_PASSWORD, "enable": CLI_ENABLE,
                        "artifacts": str(tmp_path / "art"), "state": str(tmp_path / "state"),
                        "known_hosts": str(sim.known_hosts)})
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "PATH": f"{BIN}:{os.environ['PATH']}"}
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(play), "-e", extra]
    before = sim.running()
    dry = subprocess.run(cmd + ["--check", "--diff"], capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "+ crypto ikev2 keyring STOWPATH-KEYRING" in dry.stdout and sim.running() == before
    for secret in site_secrets(make_site()) + [CLI_PASSWORD, CLI_ENABLE]:
        assert secret not in dry.stdout + dry.stderr
    real = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert real.returncode == 0, real.stdout + real.stderr
    assert "STOWPATH-KEYRING" in sim.startup()
    again = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert "changed=0" in again.stdout
