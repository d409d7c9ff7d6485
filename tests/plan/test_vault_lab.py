"""The lab facility onboarded from a vault-encrypted vendor file, with the TLS client key from Ansible Vault
(tls_material_client_key_content), then verified without any change (changed=0)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from plan.conftest import REPO, ansible_env, playbook

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]
LAB_INV = REPO / "inventories" / "lab"
PASSWORD = "stowpath-lab-vault"


def lab_vendor_file() -> Path:
    local = LAB_INV / "files" / "aws-vpn.xml"
    if local.exists():
        return local
    state = Path("/run/stowpath-lab/state.json")
    if state.exists():
        for f in json.loads(state.read_text()).get("files", []):
            if f.endswith("aws-vpn.xml") and Path(f).exists():
                return Path(f)
    pytest.skip("the lab is not up (make lab-up)")


def recap(out: str) -> dict[str, dict[str, int]]:
    import re

    rows = re.findall(r"^(\S+)\s+:\s+(ok=.*)$", out.split("PLAY RECAP")[-1], re.M)
    return {h: {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", s)} for h, s in rows}


@pytest.fixture()
def vaulted_inventory(tmp_path: Path) -> tuple[Path, Path]:
    inv = tmp_path / "inventory"
    (inv / "files").mkdir(parents=True)
    shutil.copy(LAB_INV / "hosts.yml", inv / "hosts.yml")
    shutil.copytree(LAB_INV / "group_vars", inv / "group_vars")
    (inv / "host_vars" / "cgw").mkdir(parents=True)
    cgw = yaml.safe_load((LAB_INV / "host_vars" / "cgw.yml").read_text())
    key_file = Path(cgw.pop("dicomweb_client_key_file"))
    cgw["tls_material_client_key_content"] = "{{ vault_dicomweb_client_key }}"
    (inv / "host_vars" / "cgw" / "main.yml").write_text(yaml.safe_dump(cgw))
    (inv / "host_vars" / "cgw" / "vault.yml").write_text(
        yaml.safe_dump({"vault_dicomweb_client_key": key_file.read_text()}))
    pacs = yaml.safe_load((LAB_INV / "host_vars" / "pacs.yml").read_text())
    pacs["ansible_python_interpreter"] = str(REPO / ".venv" / "bin" / "python")
    (inv / "host_vars" / "pacs.yml").write_text(yaml.safe_dump(pacs))
    vendor = inv / "files" / "aws-vpn.xml"
    shutil.copy(lab_vendor_file(), vendor)
    vendor.chmod(0o600)
    pw = tmp_path / "vault-pass"
    pw.write_text(PASSWORD + "\n")
    for f in (vendor, inv / "host_vars" / "cgw" / "vault.yml"):
        subprocess.run([str(REPO / ".venv" / "bin" / "ansible-vault"), "encrypt", "--vault-password-file", str(pw),
                        str(f)], check=True, capture_output=True, env=ansible_env())
    assert vendor.read_text().startswith("$ANSIBLE_VAULT;")
    return inv, pw


def test_vaulted_vendor_file_onboards_the_lab_facility_and_verify_changes_nothing(vaulted_inventory, tmp_path):
    inv, pw = vaulted_inventory
    args = ["-l", "cgw", "--vault-password-file", str(pw), "-e", f"stowpath_build_dir={tmp_path / 'build'}",
            "-e", f"report_dest={tmp_path / 'reports'}"]
    res = playbook("onboard-site.yml", inv, *args, timeout=600)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-6000:]
    assert "Pre-flight" in out
    report = json.loads((tmp_path / "reports" / "lab-facility" / "report.json").read_text())
    checks = {c["id"]: c for c in report["checks"]}
    failed = [c["id"] for c in report["checks"] if c["status"] == "fail"]
    assert not failed, failed
    # the client key came from the vault: the PACS destination uses it and the mTLS probes pass
    dest = next(c for i, c in checks.items() if i.startswith("pacs.destination.") and i.count(".") == 2)
    assert dest["status"] == "pass" and dest["detail"]["auth"] != "none"
    key = (tmp_path / "inventory" / "host_vars" / "cgw" / "vault.yml").read_text()
    assert key.startswith("$ANSIBLE_VAULT;")
    assert "PRIVATE KEY" not in out
    assert not list((tmp_path / "inventory" / "files").glob("*.xml.*"))  # no clear copy beside the vendor file
    verify = playbook("verify-site.yml", inv, *args, timeout=600)
    vout = verify.stdout + verify.stderr
    assert verify.returncode == 0, vout[-6000:]
    assert recap(vout)["cgw"]["changed"] == 0, vout[-4000:]
