"""The lab plays each cloud: switched to Azure, cgw onboarded; switched to GCP, cgw onboarded; back to AWS.

One pass (about 2 minutes). The lab is shared: whatever happens, it ends as the default AWS lab with the vendor
simulators running again (``make lab-up``), so the other lab tests find what they expect.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest
from labctl import REPO, lab, lab_exec, lab_status

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]
LAB_STATE = "/run/stowpath-lab"
REPORT = REPO / "reports" / "lab-facility" / "report.json"
APIPA = [ipaddress.ip_network(n) for n in ("169.254.21.0/24", "169.254.22.0/24")]


def back_to_aws() -> None:
    """The default lab, as ``make lab-up`` leaves it (lab + vendor simulators)."""
    lab("up", "--cloud", "aws", timeout=180)
    for script, port, state in (("netconf_iosxe.py", "8830", "netconf-iosxe"), ("iosxe_sim.py", "8022", "iosxe-sim")):
        subprocess.run([sys.executable, str(REPO / "lab" / "vendor" / script), "start", "--port", port,
                        "--state-dir", f"{LAB_STATE}/vendor/{state}", "--known-hosts", f"{LAB_STATE}/ssh/known_hosts"],
                       check=True, capture_output=True, text=True, timeout=120)


def cloud_side() -> dict[str, Any]:
    """What the cloud edge runs: its BGP (local AS, neighbors) and its IKE connections."""
    bgp = json.loads(lab_exec("aws", "vtysh", "-c", "show bgp ipv4 unicast summary json", check=True).stdout)
    conns = lab_exec("aws", "swanctl", "--list-conns", check=True).stdout
    return {"as": bgp.get("as"), "peers": {a: p.get("remoteAs") for a, p in bgp.get("peers", {}).items()},
            "conns": [line.strip() for line in conns.splitlines() if line.startswith("cgw-tun")]}


def onboard() -> dict[str, Any]:
    REPORT.unlink(missing_ok=True)
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    t0 = time.monotonic()
    proc = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), str(REPO / "playbooks" / "onboard-site.yml"),
                           "-i", str(REPO / "inventories" / "lab"), "-l", "cgw"],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    seconds = round(time.monotonic() - t0, 1)
    print(f"onboard-site.yml -l cgw: rc={proc.returncode} in {seconds} s")
    assert REPORT.exists(), proc.stdout[-3000:]
    checks = {c["id"]: c for c in json.loads(REPORT.read_text())["checks"]}
    return {"rc": proc.returncode, "checks": checks, "seconds": seconds, "out": proc.stdout}


def failed(checks: dict[str, Any], *prefixes: str) -> dict[str, str]:
    return {k: c["status"] for k, c in checks.items() if k.startswith(prefixes) and c["status"] != "pass"}


def test_the_lab_plays_azure_then_gcp_and_onboards_cgw(lab_up: dict[str, Any]) -> None:
    runs: dict[str, dict[str, Any]] = {}
    try:
        for cloud in ("azure", "gcp"):
            lab("up", "--cloud", cloud, timeout=180)
            status = lab_status()
            assert status["healthy"] and status["cloud_provider"] == cloud, status
            runs[cloud] = {**onboard(), "cloud": cloud_side()}
    finally:
        back_to_aws()
    assert lab_status()["cloud_provider"] == "aws"
    assert not (REPO / "inventories" / "lab" / "host_vars" / "cgw").exists()

    az = runs["azure"]
    assert az["cloud"]["as"] == 65515
    vpn_peers = {a: asn for a, asn in az["cloud"]["peers"].items() if asn == 65020 and
                 any(ipaddress.ip_address(a) in n for n in APIPA)}
    assert len(vpn_peers) == 2, az["cloud"]  # the facility's two APIPA peers (+ the DX peer outside APIPA)
    assert all("IKEv2" in c for c in az["cloud"]["conns"]) and len(az["cloud"]["conns"]) == 2
    assert not failed(az["checks"], "network."), az["out"][-3000:]
    assert az["checks"]["network.bgp.tun1"]["detail"]["remote_as"] == 65515
    # bearer-token DICOMweb: the client-credentials grant, the audience of the service, no client certificate
    for token in ("tls.token", "dicomweb.token"):
        assert az["checks"][token]["status"] == "pass"
        assert az["checks"][token]["detail"]["claim_aud"] == "https://dicom.lab.example/dicomweb"
    assert az["checks"]["tls.request"]["detail"]["mtls_proven"] is False
    assert not failed(az["checks"], "tls.", "dicomweb."), az["out"][-3000:]
    # the PACS-driven send: Orthanc's destination carries the token stowpath's refresher puts there
    assert az["rc"] == 0 and not failed(az["checks"], ""), az["out"][-3000:]
    assert az["checks"]["pacs.send.cloud-stow-rs.job"]["status"] == "pass"
    assert az["checks"]["dicomweb.token_renewal"]["status"] == "pass"
    assert "stowpath-token-refresh" in az["checks"]["dicomweb.token_renewal"]["detail"]["renewal"]

    gcp = runs["gcp"]
    assert gcp["cloud"]["as"] == 64514 and list(gcp["cloud"]["peers"].values()).count(65020) == 3
    assert all("IKEv2" in c for c in gcp["cloud"]["conns"]) and len(gcp["cloud"]["conns"]) == 2
    assert gcp["rc"] == 0 and not failed(gcp["checks"], ""), gcp["out"][-3000:]
    assert gcp["checks"]["network.bgp.tun2"]["detail"]["remote_as"] == 64514
    assert gcp["checks"]["pacs.send.cloud-stow-rs.qido"]["status"] == "pass"
