"""The verification modules, run by ansible-playbook against the live lab.

The gateways carry the hand-written reference configuration (lab/stowlab/reference.py), so
these tests prove the modules independently of stowpath's own renderer and push. They leave both
gateways empty again, as the lab builds them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from labctl import REPO, lab, lab_exec

from lab.stowlab import reference as ref

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]

PLAYBOOK = Path(__file__).parent / "playbooks" / "verify_lab.yml"


def run_verify(limit: str = "lab_gateways", wait: float = 0) -> dict[str, dict[str, Any]]:
    """Run the verification playbook; return {host: {task name: result}} (json callback)."""
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(REPO / "inventories" / "lab"),
                           str(PLAYBOOK), "-l", limit, "-e", f"verify_wait={wait}"],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    out: dict[str, dict[str, Any]] = {}
    for task in json.loads(proc.stdout)["plays"][0]["tasks"]:
        for host, res in task["hosts"].items():
            out.setdefault(host, {})[task["task"]["name"].split(" (")[0]] = res
    return out


def statuses(result: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in result["checks"]}


@pytest.fixture(scope="module")
def onboarded(lab_up: dict[str, Any]) -> Iterator[None]:
    ref.onboard_vpn()
    ref.onboard_dx()
    ref.wait_cloud_route()
    yield
    lab("cloud-repair")
    ref.reset("cgw")
    ref.reset("cgwdx")


def test_all_checks_pass_on_a_working_lab(onboarded: None) -> None:
    res = run_verify(wait=30)
    site = json.loads(ref.STATE.joinpath("params.json").read_text())
    cgw, dx = res["cgw"], res["cgwdx"]
    assert set(statuses(cgw["Tunnels"]).values()) == {"pass"}, cgw["Tunnels"]["checks"]
    assert cgw["Tunnels"]["all_up"] and cgw["Tunnels"]["up_count"] == 2
    assert set(statuses(cgw["BGP"]).values()) == {"pass"}, cgw["BGP"]["checks"]
    assert statuses(cgw["Path"]) == {"network.path.ping": "pass", "network.path.traceroute": "pass",
                                     "network.path.mtu": "pass"}, cgw["Path"]["checks"]
    assert cgw["Path"]["path_mtu"] == 1400 and cgw["Path"]["max_mss"] == 1360
    assert cgw["Path"]["link_hops"][0] in {t["cloud_inside"] for t in site["vpn"]["tunnels"]}
    assert cgw["Firewall"]["allowed"] == {"443": "open"}
    assert set(cgw["Firewall"]["blocked"].values()) <= {"timeout", "unreachable"}
    assert set(statuses(dx["BGP"]).values()) == {"pass"} and dx["BGP"]["routes"][0]["interfaces"] == ["eth2.412"]
    assert statuses(dx["Tunnels"]) == {"network.tunnel": "skip"}
    assert dx["Path"]["link_hops"] == [site["dx"]["amazon_address"].split("/")[0]] and dx["Path"]["path_mtu"] == 1500
    assert set(statuses(dx["Firewall"]).values()) == {"pass"}
    for host in (cgw, dx):  # no secret anywhere in the results
        text = json.dumps(host)
        assert all(t["psk"] not in text for t in site["vpn"]["tunnels"]) and site["dx"]["auth_key"] not in text


def test_causes_when_the_cloud_refuses_the_facility(onboarded: None) -> None:
    lab("cloud-break", "vpn")
    lab("cloud-break", "dx")
    for t in ("tun1", "tun2"):
        lab_exec("cgw", "swanctl", "--terminate", "--ike", t, "--force")
    lab_exec("cgwdx", "vtysh", "-c", "clear bgp *")
    lab_exec("cgw", "vtysh", "-c", "clear bgp *")
    try:
        res = run_verify()
        cgw, dx = res["cgw"], res["cgwdx"]
        for c in cgw["Tunnels"]["checks"]:
            assert c["status"] == "fail" and c["cause"].startswith("tunnel down"), c
        bgp = {c["id"]: c for c in cgw["BGP"]["checks"]}
        assert bgp["network.bgp.tun1"]["status"] == "fail" and "tunnel down" in bgp["network.bgp.tun1"]["cause"]
        assert bgp["network.route.203.0.113.128/26"]["cause"].startswith("route missing")
        assert statuses(cgw["Path"])["network.path.ping"] == "fail"
        assert statuses(cgw["Path"])["network.path.traceroute"] == "fail"
        assert statuses(cgw["Firewall"])["network.firewall.allow.tcp443"] == "fail"
        dxb = {c["id"]: c for c in dx["BGP"]["checks"]}
        assert dxb["network.bgp.dx"]["status"] == "fail" and "MD5" in dxb["network.bgp.dx"]["cause"]
        assert "failed" not in cgw["Tunnels"] or not cgw["Tunnels"]["failed"]  # fail_on_error=false
    finally:
        lab("cloud-repair")
        for t in ("tun1", "tun2"):  # after AUTHENTICATION_FAILED charon does not retry by itself
            lab_exec("cgw", "swanctl", "--initiate", "--child", t, "--timeout", "10")
        ref.wait_cloud_route()


def test_firewall_check_sees_ports_the_firewalls_let_through(onboarded: None) -> None:
    # open both firewalls on the way (the gateway's and the cloud's): port 22 now gets a TCP reset
    ref.ssh("cgw", "nft flush ruleset")
    lab_exec("aws", "nft", "flush chain inet aws_edge forward; chain inet aws_edge forward { policy accept; }",
             check=True)
    try:
        res = run_verify(limit="cgw")["cgw"]["Firewall"]
        st = {c["id"]: c for c in res["checks"]}
        assert st["network.firewall.allow.tcp443"]["status"] == "pass"
        assert st["network.firewall.block.tcp22"]["status"] == "fail"
        assert "does not restrict" in st["network.firewall.block.tcp22"]["cause"]
    finally:
        lab_exec("aws", "nft", "-f", "/etc/nftables.conf", check=True)
        ref.ssh("cgw", "nft -f /etc/nftables.conf")


def test_empty_gateway_is_reported_as_not_configured(onboarded: None) -> None:
    ref.reset("cgw")
    try:
        cgw = run_verify(limit="cgw")["cgw"]
        assert all("not configured" in c["cause"] for c in cgw["Tunnels"]["checks"])
        bgp = {c["id"]: c for c in cgw["BGP"]["checks"]}
        assert bgp["network.bgp"]["cause"].startswith("BGP not configured")
        assert cgw["BGP"]["local_asn"] is None
    finally:
        ref.onboard_vpn()
        ref.wait_cloud_route(("cgw",))
