"""TLS material validation (pure functions) and the tls_material role/module through ansible-playbook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.tls import (
    describe_pem,
    validate_material,
)

from .conftest import KEY_PASSWORD, REPO, labpki


def read(path: str) -> bytes:
    return Path(path).read_bytes()


def statuses(checks: list[dict[str, Any]]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in checks}


def test_valid_material_passes(pki):
    checks, facts = validate_material(read(pki["ca"]), read(pki["client_cert"]), read(pki["client_key"]))
    assert statuses(checks) == {"tls.material.ca_bundle": "pass", "tls.material.client_cert": "pass",
                                "tls.material.client_key": "pass", "tls.material.chain": "pass"}
    assert facts["client_chain"][-1].startswith("CN=stowpath Lab CA")
    assert "PRIVATE" not in json.dumps(facts)


def test_encrypted_key_with_password(pki):
    checks, facts = validate_material(read(pki["ca"]), read(pki["client_cert"]),
                                      read(pki["client_key_encrypted"]), KEY_PASSWORD)
    assert statuses(checks)["tls.material.client_key"] == "pass"
    assert facts["client_key"]["encrypted"] is True


@pytest.mark.parametrize(("password", "problem"), [(None, "key_encrypted"), ("wrong", "key_bad_password")])
def test_encrypted_key_without_or_with_wrong_password(pki, password, problem):
    checks, _ = validate_material(None, read(pki["client_cert"]), read(pki["client_key_encrypted"]), password)
    c = {c["id"]: c for c in checks}["tls.material.client_key"]
    assert c["status"] == "fail" and c["detail"]["problem"] == problem


def test_key_that_belongs_to_another_certificate(pki):
    checks, _ = validate_material(read(pki["ca"]), read(pki["client_cert"]), read(pki["server_key"]))
    c = {c["id"]: c for c in checks}["tls.material.client_key"]
    assert c["status"] == "fail" and "different certificate" in c["cause"]


def test_expired_client_cert_fails(pki):
    checks, _ = validate_material(read(pki["ca"]), read(pki["client_expired_cert"]), read(pki["client_expired_key"]))
    c = {c["id"]: c for c in checks}["tls.material.client_cert"]
    assert c["status"] == "fail" and "expired on" in c["cause"]


def test_expiring_client_cert_warns_within_window(pki):
    checks, _ = validate_material(read(pki["ca"]), read(pki["client_expiring_cert"]),
                                  read(pki["client_expiring_key"]), warn_days=30)
    assert statuses(checks)["tls.material.client_cert"] == "warn"
    checks, _ = validate_material(read(pki["ca"]), read(pki["client_expiring_cert"]),
                                  read(pki["client_expiring_key"]), warn_days=5)
    assert statuses(checks)["tls.material.client_cert"] == "pass"


def test_client_cert_from_another_ca(pki):
    checks, _ = validate_material(read(pki["ca"]), read(pki["client_other_ca_cert"]), read(pki["client_other_ca_key"]))
    c = {c["id"]: c for c in checks}["tls.material.chain"]
    assert c["status"] == "fail" and "Other Vendor CA" in c["cause"]
    checks, _ = validate_material(read(pki["ca"]), read(pki["client_other_ca_cert"]),
                                  read(pki["client_other_ca_key"]), require_client_chain=False)
    assert statuses(checks)["tls.material.chain"] == "warn"


def test_chain_with_intermediate_in_the_cert_file(tmp_path):
    root = labpki.make_ca("Root CA", key_type="ec")
    inter_key = labpki.make_key("ec")
    # an intermediate CA signed by the root: issue_cert builds leaves, so sign a CA by hand
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    now = dt.datetime.now(dt.UTC)
    inter = (x509.CertificateBuilder().subject_name(labpki._name("Issuing CA")).issuer_name(root.cert.subject)
             .public_key(inter_key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=100))
             .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
             .sign(root.key, hashes.SHA256()))
    leaf = labpki.issue_cert(labpki.CertKey(inter, inter_key), "client", client=True, key_type="ec")
    cert_file = labpki.cert_pem(leaf.cert) + labpki.cert_pem(inter)
    checks, facts = validate_material(labpki.cert_pem(root.cert), cert_file, labpki.key_pem(leaf.key))
    assert statuses(checks)["tls.material.chain"] == "pass"
    assert facts["client_chain"] == ["CN=client,O=stowpath lab (NOT A REAL PKI)",
                                     "CN=Issuing CA,O=stowpath lab (NOT A REAL PKI)",
                                     "CN=Root CA,O=stowpath lab (NOT A REAL PKI)"]
    # without the intermediate the chain cannot be built
    checks, _ = validate_material(labpki.cert_pem(root.cert), labpki.cert_pem(leaf.cert), labpki.key_pem(leaf.key))
    assert statuses(checks)["tls.material.chain"] == "fail"


def test_swapped_files_are_named(pki):
    checks, _ = validate_material(b"garbage", read(pki["client_key"]), read(pki["client_cert"]))
    causes = {c["id"]: c["cause"] for c in checks}
    assert "not PEM" in causes["tls.material.ca_bundle"]
    assert "holds a private key" in causes["tls.material.client_cert"]
    assert "holds a certificate" in causes["tls.material.client_key"]


def test_describe_pem_never_shows_key_material(pki):
    key = read(pki["client_key"])
    text = describe_pem(key, "key")
    assert "content hidden" in text
    body = key.decode().splitlines()[1]
    assert body not in text
    assert "encrypted" in describe_pem(read(pki["client_key_encrypted"]), "key")
    assert "CN=lab-facility PACS" in describe_pem(read(pki["client_cert"]), "cert")


PLAYBOOK = """
- name: tls_material role and module on localhost
  hosts: localhost
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
    role_vars: &role_vars
      tls_material_ca_bundle_file: "{{ pki.ca }}"
      tls_material_client_cert_file: "{{ pki.client_cert }}"
      tls_material_client_key_file: "{{ pki.client_key_encrypted }}"
      tls_material_client_key_password: "{{ key_password }}"
      tls_material_dir: "{{ dest }}"
  tasks:
    - name: Check mode changes nothing
      ansible.builtin.include_role:
        name: tls_material
        apply:
          check_mode: true
      vars: *role_vars
    - name: Stat the key after check mode
      ansible.builtin.stat:
        path: "{{ dest }}/client.key"
      register: st
    - name: Assert check mode
      ansible.builtin.assert:
        that: [tls_material_result is changed, not st.stat.exists]
    - name: Install
      ansible.builtin.include_role:
        name: tls_material
      vars: *role_vars
    - name: Stat the key
      ansible.builtin.stat:
        path: "{{ dest }}/client.key"
      register: st
    - name: Assert installed with mode 0600
      ansible.builtin.assert:
        that: [tls_material_result is changed, st.stat.mode == '0600']
    - name: Install again
      ansible.builtin.include_role:
        name: tls_material
      vars: *role_vars
    - name: Assert idempotent
      ansible.builtin.assert:
        that: [tls_material_result is not changed]
    - name: Loosen the key mode
      ansible.builtin.file:
        path: "{{ dest }}/client.key"
        mode: "0644"
    - name: Install repairs the mode
      ansible.builtin.include_role:
        name: tls_material
      vars: *role_vars
    - name: Stat the key again
      ansible.builtin.stat:
        path: "{{ dest }}/client.key"
      register: st
    - name: Assert repaired
      ansible.builtin.assert:
        that: [tls_material_result is changed, st.stat.mode == '0600']
    - name: An expired certificate is refused and nothing is replaced
      stowpath.core.tls_material:
        ca_bundle_src: "{{ pki.ca }}"
        client_cert_src: "{{ pki.client_expired_cert }}"
        client_key_content: "{{ lookup('ansible.builtin.file', pki.client_expired_key) }}"
        client_cert_dest: "{{ dest }}/client.crt"
        client_key_dest: "{{ dest }}/client.key"
      register: bad
      ignore_errors: true
    - name: Assert refused
      ansible.builtin.assert:
        that:
          - bad is failed
          - bad.checks | selectattr('id', 'equalto', 'tls.material.client_cert') | map(attribute='status') | first == 'fail'
          - lookup('ansible.builtin.file', dest ~ '/client.crt') == lookup('ansible.builtin.file', pki.client_cert)
    - name: Validate only (no destinations), expiring certificate warns
      stowpath.core.tls_material:
        ca_bundle_src: "{{ pki.ca }}"
        client_cert_src: "{{ pki.client_expiring_cert }}"
        client_key_src: "{{ pki.client_expiring_key }}"
      register: warn
    - name: Assert warned
      ansible.builtin.assert:
        that:
          - warn is not changed
          - warn.checks | selectattr('status', 'equalto', 'warn') | list | length == 1
    - name: Replace with another key in check mode shows a diff without key material
      stowpath.core.tls_material:
        client_cert_src: "{{ pki.client_expiring_cert }}"
        client_key_src: "{{ pki.client_expiring_key }}"
        client_cert_dest: "{{ dest }}/client.crt"
        client_key_dest: "{{ dest }}/client.key"
      check_mode: true
      diff: true
      register: swap
    - name: Assert diff
      ansible.builtin.assert:
        that:
          - swap is changed
          - swap.diff | length == 2
          - "'content hidden' in swap.diff[1].after"
"""


def test_role_and_module_through_ansible(pki, tmp_path):
    book = tmp_path / "play.yml"
    book.write_text(PLAYBOOK)
    dest = tmp_path / "installed"
    extra = {"pki": pki, "dest": str(dest), "key_password": KEY_PASSWORD}
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local", "--diff", "-v",
         str(book), "-e", json.dumps(extra)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    for secret_file in ("client_key", "client_key_encrypted", "client_expired_key", "client_expiring_key"):
        body_line = Path(pki[secret_file]).read_text().splitlines()[1]
        assert body_line not in out
    assert KEY_PASSWORD not in out
    assert "PRIVATE KEY-----" not in out
    assert (dest / "client.key").read_bytes() == Path(pki["client_key_encrypted"]).read_bytes()
    assert oct((dest / "client.key").stat().st_mode & 0o777) == "0o600"
