"""The modules through Ansible itself: roles pacs_destination (main, send_test) and report, real Orthancs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from lab.services import pacs as lab_pacs

from .pacs_helpers import CLOUD_PASSWORD, REPO

PLAYBOOK = """
- name: PACS destination, send test and report through the roles
  hosts: localhost
  gather_facts: false
  vars:
    ansible_connection: local
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
    pacs_destination_api_url: "%(api)s"
    pacs_destination_url: "%(cloud)s"
    pacs_destination_username: stow
    pacs_destination_password: "%(secret)s"
    pacs_destination_orthanc_config: "%(config)s"
    pacs_destination_verify_restart: true
  tasks:
    - name: Configure
      ansible.builtin.include_role:
        name: pacs_destination
    - name: Created
      ansible.builtin.assert:
        that:
          - pacs_destination_result is changed
          - pacs_destination_result.checks | selectattr('status', 'equalto', 'fail') | list | length == 0
    - name: Keep the result for the report
      ansible.builtin.set_fact:
        created_result: "{{ pacs_destination_result }}"
    - name: Configure again
      ansible.builtin.include_role:
        name: pacs_destination
      vars:
        pacs_destination_verify_restart: false
    - name: Idempotent
      ansible.builtin.assert:
        that: pacs_destination_result is not changed
    - name: Timeout change in check mode
      ansible.builtin.include_role:
        name: pacs_destination
        apply:
          check_mode: true
      vars:
        pacs_destination_timeout: 900
    - name: Would change, diff masked
      ansible.builtin.assert:
        that:
          - pacs_destination_result is changed
          - pacs_destination_result.changes == ['Timeout']
    - name: A timeout below the vendor minimum
      ansible.builtin.include_role:
        name: pacs_destination
        apply:
          ignore_errors: true
      vars:
        pacs_destination_timeout: 60
    - name: Refused
      ansible.builtin.assert:
        that:
          - pacs_destination_result is failed
          - "'below the minimum 300' in pacs_destination_result.msg"
    - name: Send test
      ansible.builtin.include_role:
        name: pacs_destination
        tasks_from: send_test
    - name: Arrived
      ansible.builtin.assert:
        that: pacs_destination_send_result.ok
    - name: Manual PACS checklist
      ansible.builtin.include_role:
        name: pacs_destination
      vars:
        pacs_destination_product: manual
    - name: Report
      ansible.builtin.include_role:
        name: report
      vars:
        report_site: {site_name: role-test, hostname: localhost}
        report_results: ["{{ created_result }}", "{{ pacs_destination_result }}", "{{ pacs_destination_send_result }}"]
        report_dest: "%(reports)s"
        report_template: "%(template)s"
        report_timings: {pacs: 1.5}
        report_secrets: ["%(secret)s"]
"""


def test_roles_end_to_end(pacs: lab_pacs.OrthancHandle, plain_cloud: lab_pacs.OrthancHandle, tmp_path: Path) -> None:
    book = tmp_path / "play.yml"
    book.write_text(PLAYBOOK % {
        "api": pacs.url, "cloud": plain_cloud.url + "/dicomweb/studies", "secret": CLOUD_PASSWORD,
        "config": pacs.config, "reports": tmp_path / "reports",
        "template": REPO / "templates" / "report" / "report.html.j2"})
    yaml.safe_load(book.read_text())
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"))
    run = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "--diff",
                          str(book)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    assert CLOUD_PASSWORD not in out
    assert "Timeout: 300" in out and "Timeout: 900" in out  # the --diff of the check-mode run
    assert "[ ] Label: Cloud STOW-RS" in out  # the manual checklist is printed
    assert f"{tmp_path}/reports/role-test/report.html" in out  # the report path is printed
    report = json.loads((tmp_path / "reports" / "role-test" / "report.json").read_text())
    ids = {(c["id"], c["status"]) for c in report["checks"]}
    assert ("pacs.destination.cloud-stow-rs", "pass") in ids  # the Orthanc run
    assert ("pacs.destination.cloud-stow-rs", "warn") in ids  # the manual run: the checklist is in the report
    ids = {c["id"]: c["status"] for c in report["checks"]}
    assert ids["pacs.destination.cloud-stow-rs.ca"] == "skip"  # plain http: no certificate to verify
    assert ids["pacs.destination.cloud-stow-rs.restart"] == "pass"
    assert ids["pacs.send.cloud-stow-rs.job"] == "pass" and ids["pacs.send.cloud-stow-rs.qido"] == "pass"
    assert "Cloud STOW-RS" in (tmp_path / "reports" / "role-test" / "report.html").read_text()
    for name in ("report.json", "report.xml", "report.html"):
        assert CLOUD_PASSWORD not in (tmp_path / "reports" / "role-test" / name).read_text()
