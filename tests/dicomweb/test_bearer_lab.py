"""The shared lab's cloud DICOMweb switched to bearer mode with ``lab/lab.py cloud-auth`` and back.

Other lab tests expect mTLS: the switch lasts only for the probes here, and teardown always
switches back (also after a failure). The probes run inside the cloud VPC host's namespace
(``ip netns exec sp-cloud``), against 203.0.113.140 as dicom.lab.example.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

STATE = Path("/run/stowpath-lab")
PROBE = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.oauth import TokenConfig
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.probes import Target, run_stow_probe, run_tls_probe
info = json.loads(sys.argv[2]); ca = info["ca"]
def target(**tok):
    cfg = dict(token_url=info["token_url"], client_id="lab-facility", ca_bundle=ca,
               client_secret=open(info["client_secret_file"]).read())
    cfg.update(tok)
    return Target(url="https://dicom.lab.example/dicomweb/studies", ca_bundle=ca, connect_address="203.0.113.140",
                  bearer=TokenConfig(**cfg))
out = {}
r = run_stow_probe(target())
out["secret"] = [(c["id"], c["status"], c["detail"].get("code")) for c in r["checks"]]
r = run_tls_probe(target(client_id="lab-facility-jwt", client_secret=None, assertion_key_file=info["jwt_client_key_file"]))
out["jwt"] = r["failure"]
out["bad_secret"] = run_tls_probe(target(client_secret="wrong"))["failure"]["code"]
out["audience"] = run_tls_probe(target(audience=info["other_audience"]))["failure"]["code"]
out["none"] = run_tls_probe(Target(url="https://dicom.lab.example/dicomweb/studies", ca_bundle=ca,
                                   connect_address="203.0.113.140"))["failure"]["code"]
print(json.dumps(out))
"""


def _lab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "lab" / "lab.py"), *args], capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.mark.lab
@pytest.mark.xdist_group("lab")
def test_lab_cloud_bearer_mode_and_back() -> None:
    if os.geteuid() != 0 or not (STATE / "dev" / "cloud" / "dicomweb" / "cloud_dicomweb.json").exists():
        pytest.skip("the lab (with its cloud DICOMweb service) is not up")
    before = json.loads(_lab("cloud-auth").stdout)
    assert before["mode"] == "mtls", "the shared lab must be in mTLS mode when the test starts"
    try:
        switched = _lab("cloud-auth", "bearer")
        assert switched.returncode == 0, switched.stderr
        info = {**json.loads(switched.stdout), "ca": str(STATE / "pki" / "ca.crt")}
        proc = subprocess.run(["ip", "netns", "exec", "sp-cloud", sys.executable, "-c", PROBE,
                               str(REPO / "collections"), json.dumps(info)],
                              capture_output=True, text=True, timeout=120, check=False)
    finally:
        back = _lab("cloud-auth", "mtls")
    assert back.returncode == 0 and json.loads(back.stdout)["mode"] == "mtls", back.stderr
    assert "overlay" not in (STATE / "dev" / "cloud" / "dicomweb" / "nginx.conf").read_text()
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [s for _, s, _ in out["secret"]] == ["pass"] * 3, out["secret"]
    assert out["jwt"] is None
    assert out["bad_secret"] == "token_client_rejected"
    assert out["audience"] == "token_wrong_audience"
    assert out["none"] == "token_required"
