"""Secrets and untrusted input: full-match validators, no credentials over plain http, a report scan that knows
every secret of the run, and a client private key that never becomes a host fact."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.client import Client, Endpoint
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.oauth import TokenConfig
from ansible_collections.stowpath.core.plugins.module_utils.errors import SiteError, SiteErrors
from ansible_collections.stowpath.core.plugins.module_utils.pacs.base import DestinationSpec, SpecError, validate_spec
from ansible_collections.stowpath.core.plugins.module_utils.site import IFACE_RE, PSK_RE, load_site
from stowpath_testlib import EXAMPLE_PARAMS, base_vars

REPO = Path(__file__).resolve().parents[2]
MANUAL = EXAMPLE_PARAMS / "manual-vpn-static.yml"
PSK = "Example.static.tunnel1.key"


def _load(hv: dict[str, Any], text: str) -> dict[str, Any]:
    return load_site(hv, "gw1", "/inv", read=lambda path, host: text)


def _refused(hv: dict[str, Any], text: str) -> str:
    with pytest.raises((SiteError, SiteErrors)) as err:
        _load(hv, text)
    return str(err.value)


def _manual(psk: str) -> str:
    doc = yaml.safe_load(MANUAL.read_text())
    doc["tunnels"][0]["psk"] = psk
    return yaml.safe_dump(doc)


MANUAL_VARS = {"cloud_provider": "manual", "cloud_params_file": "params.yml", "wan_address": "203.0.113.200"}


# -- validators match the whole value


def test_psk_with_a_trailing_newline_is_refused() -> None:
    assert PSK_RE.match(PSK + "\n"), "a search with match() and '$' would let the newline through"
    assert _load(base_vars(**MANUAL_VARS), _manual(PSK))["tunnels"][0]["psk"] == PSK
    text = _refused(base_vars(**MANUAL_VARS), _manual(PSK + "\n"))
    assert "pre_shared_key" in text or "psk" in text
    assert PSK not in text  # the refusal does not print the key


@pytest.mark.parametrize("field", ["wan_interface", "lan_interface"])
def test_interface_name_with_a_trailing_newline_is_refused(field: str, vpn_xml: str) -> None:
    assert IFACE_RE.match("eth0\n")
    text = _refused(base_vars(**{field: "eth0\n"}), vpn_xml)
    assert field in text and "newlines" in text


def test_pacs_destination_name_and_header_names_match_whole() -> None:
    good = DestinationSpec(name="cloud", url="https://dicom.vendor.example/dicomweb/studies", timeout=300)
    validate_spec(good)
    with pytest.raises(SpecError, match="name"):
        validate_spec(DestinationSpec(name="cloud\n", url=good.url, timeout=300))
    with pytest.raises(SpecError, match="not a valid header name"):
        validate_spec(DestinationSpec(name="cloud", url=good.url, timeout=300, http_headers={"X-Api\n": "v"}))


# -- no credentials over plain http (loopback excepted)


@pytest.mark.parametrize("auth", [{"username": "u", "password": "p"}, {"authorization": "Bearer abc.def"}])
def test_dicomweb_client_refuses_credentials_over_plain_http(auth: dict[str, str]) -> None:
    remote = Endpoint.parse("http://dicom.vendor.example/dicomweb/studies")
    with pytest.raises(ValueError, match="over plain http") as err:
        Client(remote, None, **auth)
    assert "abc.def" not in str(err.value) and "p" not in str(err.value).split()
    Client(Endpoint.parse("http://127.0.0.1:8042/dicomweb/studies"), None, **auth).close()
    Client(Endpoint.parse("http://dicom.vendor.example/dicomweb/studies"), None).close()  # no credentials: fine


@pytest.mark.parametrize("creds", [
    {"username": "u", "password": "secret-pw"},
    {"bearer": TokenConfig(token="tok-123")},
    {"http_headers": {"Authorization": "Bearer tok-123"}},
])
def test_pacs_destination_refuses_credentials_over_plain_http(creds: dict[str, Any]) -> None:
    url = "http://dicom.vendor.example/dicomweb/studies"
    with pytest.raises(SpecError, match="https:// url") as err:
        validate_spec(DestinationSpec(name="cloud", url=url, timeout=300, **creds))
    assert "secret-pw" not in str(err.value) and "tok-123" not in str(err.value)
    validate_spec(DestinationSpec(name="cloud", url="http://127.0.0.1:8042/dicomweb/studies", timeout=300, **creds))


# -- the report's final scan knows every secret of the run

def _playbook(book: Path, extra: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           str(book), "-e", json.dumps(extra), *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=180, check=False)


REPORT_PLAY = """
- name: The report role on localhost
  hosts: localhost
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Write the report
      ansible.builtin.include_role:
        name: report
      vars:
        report_site: {site_name: secret-scan}
        report_dest: "{{ dest }}"
        report_template: "{{ template }}"
        report_fail_on_failure: false
        report_checks:
          - id: network.tunnel
            group: network
            title: "Tunnel 1"
            status: fail
            duration_s: 0
            detail: {seen: "{{ leak }}"}
            cause: "the device answered {{ leak }}"
            action: "look"
        report_secrets: "{{ secrets }}"
        report_secret_files: "{{ files }}"
"""


def _artifacts(tmp_path: Path) -> tuple[list[str], list[str]]:
    """A rendered swanctl.conf and frr.conf with a PSK and a BGP MD5 key, as site_render writes them."""
    arts = tmp_path / "build"
    arts.mkdir()
    (arts / "swanctl.conf").write_text('secrets {\n  ike-tun1 {\n    secret = "Psk.From.The.Vendor.1"\n  }\n}\n')
    (arts / "frr.conf").write_text("router bgp 65020\n neighbor 169.254.10.1 password Md5.Key.From.Dx\nexit\n")
    return [str(arts / "swanctl.conf"), str(arts / "frr.conf")], ["Psk.From.The.Vendor.1", "Md5.Key.From.Dx"]


@pytest.mark.parametrize("kind", ["psk", "md5", "gateway_password", "enable_secret", "key_password"])
def test_report_scan_masks_every_secret_of_the_run(kind: str, tmp_path: Path) -> None:
    files, (psk, md5) = _artifacts(tmp_path)
    passwords = {"gateway_password": "Gw.Pass.4711", "enable_secret": "Enable.Secret.42",
                 "key_password": "Client.Key.Pw.9"}
    leak = {"psk": psk, "md5": md5, **passwords}[kind]
    book = tmp_path / "report.yml"
    book.write_text(REPORT_PLAY)
    extra = {"dest": str(tmp_path / "reports"), "template": str(REPO / "templates" / "report" / "report.html.j2"),
             "leak": leak, "secrets": list(passwords.values()), "files": files}
    res = _playbook(book, extra)
    out = res.stdout + res.stderr
    assert leak not in out
    written = sorted((tmp_path / "reports").rglob("report.*"))
    if res.returncode == 0:
        assert written, out[-3000:]
        for path in written:
            assert leak not in path.read_text(), path
    else:
        assert "refused" in out, out[-3000:]
    # without the run's secrets the same check goes into the report in clear: the scan is what stops it
    extra.update(dest=str(tmp_path / "plain"), secrets=[], files=[])
    res = _playbook(book, extra)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert any(leak in p.read_text() for p in (tmp_path / "plain").rglob("report.json"))


def test_onboarding_hands_the_report_every_secret_of_the_run() -> None:
    play = yaml.safe_load((REPO / "playbooks" / "onboard-site.yml").read_text())
    text = json.dumps(play)
    report = re.search(r'"report_secrets": "(.*?)", "report_secret_files": "(.*?)"', text)
    assert report, "the onboarding's report task names report_secrets and report_secret_files"
    for var in ("gateway_password", "gateway_enable_secret", "dicomweb_password", "dicomweb_client_key_password",
                "pacs_api_password"):
        assert var in report.group(1), var
    assert "site_render_result.artifacts" in report.group(2)


# -- the client private key is read for the TLS task only

TLS_PLAY = """
- name: tls_material role on localhost
  hosts: localhost
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Validate the material
      ansible.builtin.include_role:
        name: tls_material
      vars:
        tls_material_ca_bundle_file: "{{ pki.ca }}"
        tls_material_client_cert_file: "{{ pki.client_cert }}"
        tls_material_client_key_file: "{{ pki.client_key }}"
        tls_material_install: false
    - name: Every host fact and variable after the role
      ansible.builtin.copy:
        content: "{{ hostvars[inventory_hostname] | to_nice_json }}"
        dest: "{{ dump }}"
        mode: "0600"
"""


def test_client_private_key_never_becomes_a_host_fact(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO))
    from lab.services.pki import generate_lab_pki

    pki = generate_lab_pki(tmp_path / "pki", server_ips=["127.0.0.1"])
    book = tmp_path / "tls.yml"
    book.write_text(TLS_PLAY)
    dump = tmp_path / "hostvars.json"
    res = _playbook(book, {"pki": pki, "dump": str(dump)}, "-v")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    facts = dump.read_text()
    key_body = Path(pki["client_key"]).read_text().splitlines()[1]
    assert "tls_material_result" in facts  # the dump holds the role's results
    assert "PRIVATE KEY" not in facts and key_body not in facts
    assert key_body not in out
