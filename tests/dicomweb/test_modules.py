"""tls_probe / stow_probe modules and the verify_dicomweb role through ansible-playbook, real service."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .conftest import BASIC_PASSWORD, BASIC_USER, KEY_PASSWORD, REPO, cd

PLAYBOOK = """
- name: DICOMweb probes on localhost
  hosts: localhost
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Verify role, mTLS + Basic auth, encrypted key
      ansible.builtin.include_role:
        name: verify_dicomweb
      vars:
        verify_dicomweb_url: "{{ url }}"
        verify_dicomweb_connect_address: 127.0.0.1
        verify_dicomweb_ca_bundle: "{{ pki.ca }}"
        verify_dicomweb_client_cert: "{{ pki.client_cert }}"
        verify_dicomweb_client_key: "{{ pki.client_key_encrypted }}"
        verify_dicomweb_client_key_password: "{{ key_password }}"
        verify_dicomweb_username: "{{ user }}"
        verify_dicomweb_password: "{{ password }}"
        verify_dicomweb_request_form: auto
    - name: Assert every check passed
      ansible.builtin.assert:
        that:
          - verify_dicomweb_checks | length == 8
          - verify_dicomweb_checks | selectattr('status', 'equalto', 'pass') | list | length == 8
          - verify_dicomweb_tls.tls.protocol == 'TLSv1.3'
          - verify_dicomweb_stow_result.accepted_form == 'multipart'
          - verify_dicomweb_stow_result is not changed
          - verify_dicomweb_tls is not changed
          - verify_dicomweb_tls.checks | map(attribute='group') | unique | list == ['tls']
          - verify_dicomweb_stow_result.checks | map(attribute='id') | list == ['dicomweb.stow', 'dicomweb.qido']
          - verify_dicomweb_tls.checks + verify_dicomweb_stow_result.checks == verify_dicomweb_checks
          - verify_dicomweb_stow_result.tls_probe is not defined

    - name: Verify role with the wrong CA bundle, failures reported (not raised)
      ansible.builtin.include_role:
        name: verify_dicomweb
      vars:
        verify_dicomweb_url: "{{ url }}"
        verify_dicomweb_connect_address: 127.0.0.1
        verify_dicomweb_ca_bundle: "{{ pki.other_ca }}"
        verify_dicomweb_client_cert: "{{ pki.client_cert }}"
        verify_dicomweb_client_key: "{{ pki.client_key }}"
        verify_dicomweb_fail_on_error: false
    - name: Assert the TLS failure is classified and STOW-RS is skipped
      ansible.builtin.assert:
        that:
          - verify_dicomweb_tls.failure.code == 'unknown_ca'
          - (verify_dicomweb_checks | selectattr('id', 'equalto', 'dicomweb.stow') | first).status == 'skip'
          - >-
            (verify_dicomweb_checks | last).cause == 'not attempted: the TLS probe failed (unknown_ca)'
          - verify_dicomweb_checks[:-1] == verify_dicomweb_tls.checks
          - verify_dicomweb_stow_result is skipped
          # the report reads registered results: the skip check is there, naming the TLS failure
          - verify_dicomweb_stow_result.checks == verify_dicomweb_checks[-1:]
          - verify_dicomweb_tls.checks + verify_dicomweb_stow_result.checks == verify_dicomweb_checks

    - name: Verify role without the upload (verify_dicomweb_stow false) probes TLS only
      ansible.builtin.include_role:
        name: verify_dicomweb
      vars:
        verify_dicomweb_url: "{{ url }}"
        verify_dicomweb_connect_address: 127.0.0.1
        verify_dicomweb_ca_bundle: "{{ pki.ca }}"
        verify_dicomweb_client_cert: "{{ pki.client_cert }}"
        verify_dicomweb_client_key: "{{ pki.client_key }}"
        verify_dicomweb_username: "{{ user }}"
        verify_dicomweb_password: "{{ password }}"
        verify_dicomweb_stow: false
    - name: Assert only the TLS checks, all passed
      ansible.builtin.assert:
        that:
          - verify_dicomweb_checks | length == 6
          - verify_dicomweb_checks | selectattr('status', 'equalto', 'pass') | list | length == 6
          - verify_dicomweb_checks == verify_dicomweb_tls.checks
          - verify_dicomweb_tls.tls.protocol == 'TLSv1.3'
          - verify_dicomweb_stow_result is skipped

    - name: TLS then STOW-RS in one task, check mode - TLS proven, nothing uploaded
      stowpath.core.stow_probe:
        url: "{{ url }}"
        connect_address: 127.0.0.1
        ca_bundle: "{{ pki.ca }}"
        client_cert: "{{ pki.client_cert }}"
        client_key: "{{ pki.client_key_encrypted }}"
        client_key_password: "{{ key_password }}"
        username: "{{ user }}"
        password: "{{ password }}"
        tls_probe: true
      check_mode: true
      register: both_cm
    - name: Assert TLS checks passed and the upload skipped
      ansible.builtin.assert:
        that:
          - both_cm is not changed
          - both_cm.tls_probe.checks | selectattr('status', 'equalto', 'pass') | list | length == 6
          - both_cm.checks[:6] == both_cm.tls_probe.checks
          - both_cm.checks[6].id == 'dicomweb.stow'
          - both_cm.checks[6].status == 'skip'
          - both_cm.sop_instance_uid is not defined

    - name: TLS then STOW-RS in one task, wrong CA bundle - fails with the TLS cause, nothing uploaded
      stowpath.core.stow_probe:
        url: "{{ url }}"
        connect_address: 127.0.0.1
        ca_bundle: "{{ pki.other_ca }}"
        client_cert: "{{ pki.client_cert }}"
        client_key: "{{ pki.client_key }}"
        tls_probe: true
      register: both_bad
      ignore_errors: true
    - name: Assert failed with the TLS failure
      ansible.builtin.assert:
        that:
          - both_bad is failed
          - both_bad.failure.code == 'unknown_ca'
          - "'TLS probe failed' in both_bad.msg"
          - >-
            both_bad.checks | last == {'id': 'dicomweb.stow', 'group': 'dicomweb', 'status': 'skip',
            'title': 'STOW-RS upload of a synthetic instance', 'duration_s': 0.0, 'detail': {},
            'cause': 'not attempted: the TLS probe failed (unknown_ca)', 'action': 'fix the TLS failure first'}
          - both_bad.sop_instance_uid is not defined

    - name: The role fails at its end by default
      block:
        - name: Verify role against a refused port
          ansible.builtin.include_role:
            name: verify_dicomweb
          vars:
            verify_dicomweb_url: "https://dicom.lab.example:{{ free_port }}/dicomweb/studies"
            verify_dicomweb_connect_address: 127.0.0.1
            verify_dicomweb_ca_bundle: "{{ pki.ca }}"
            verify_dicomweb_client_cert: ""
            verify_dicomweb_client_key: ""
        - name: Not reached
          ansible.builtin.fail:
            msg: the role should have failed
      rescue:
        - name: Assert the role failed with the cause
          ansible.builtin.assert:
            that:
              - "'tls.connect' in ansible_failed_result.msg"
              - "'refused' in ansible_failed_result.msg"

    - name: Wrong Basic-auth password, reported not raised
      stowpath.core.tls_probe:
        url: "{{ url }}"
        connect_address: 127.0.0.1
        ca_bundle: "{{ pki.ca }}"
        client_cert: "{{ pki.client_cert }}"
        client_key: "{{ pki.client_key }}"
        username: "{{ user }}"
        password: wrong-password-for-test
        fail_on_error: false
      register: bad
    - name: Assert classified
      ansible.builtin.assert:
        that:
          - bad is not failed
          - bad.failure.code == 'auth_rejected'

    - name: Missing client certificate fails the task by default
      stowpath.core.stow_probe:
        url: "{{ url }}"
        connect_address: 127.0.0.1
        ca_bundle: "{{ pki.ca }}"
        username: "{{ user }}"
        password: "{{ password }}"
      register: nocert
      ignore_errors: true
    - name: Assert failed with the cause in msg
      ansible.builtin.assert:
        that:
          - nocert is failed
          - nocert.failure.code == 'client_cert_missing'
          - "'requires a client certificate' in nocert.msg"

    - name: Check mode uploads nothing
      stowpath.core.stow_probe:
        url: "{{ url }}"
        ca_bundle: "{{ pki.ca }}"
      check_mode: true
      register: cm
    - name: Assert skipped
      ansible.builtin.assert:
        that: "cm.checks[0].status == 'skip'"
"""


def test_modules_and_role_through_ansible(svc_basic, pki, tmp_path):
    book = tmp_path / "play.yml"
    book.write_text(PLAYBOOK)
    extra = {"pki": pki, "url": svc_basic.url, "key_password": KEY_PASSWORD, "user": BASIC_USER,
             "password": BASIC_PASSWORD, "free_port": cd.free_port()}
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local", "-v",
         str(book), "-e", json.dumps(extra)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    for secret in (BASIC_PASSWORD, KEY_PASSWORD, "wrong-password-for-test"):
        assert secret not in out
    assert "STOWPATH^TEST^SYNTHETIC" in out  # the results are shown (-v), only secrets are hidden
