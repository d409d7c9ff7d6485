"""The lab's IOS-XE NETCONF simulator answers operational <get>s (crypto-oper, bgp-oper, ietf-routing) from
its running configuration evaluated against the lab cloud: push the lab facility's configuration through
stowpath's netconf transport, read the state with ncclient and the iosxe_netconf queries, break the cloud."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.parsers import iosxe_netconf as X
from ansible_collections.stowpath.core.plugins.module_utils.site import load_site
from ansible_collections.stowpath.core.plugins.module_utils.transports import push as P
from ansible_collections.stowpath.core.plugins.module_utils.verify.bgp import evaluate_bgp
from ansible_collections.stowpath.core.plugins.module_utils.verify.model import expected
from ansible_collections.stowpath.core.plugins.module_utils.verify.tunnels import evaluate_tunnels
from stowpath_testlib import REPO

from .conftest import Netconf, render

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]
LAB = REPO / "lab" / "lab.py"
VENDOR_FILE = REPO / "inventories" / "lab" / "files" / "aws-vpn.xml"


# the lab cloud advertises its VPC CIDR (a supernet of the DICOMweb range), like AWS
VPC_CIDR = "203.0.113.128/25"


def lab_site() -> dict[str, Any]:
    """The lab facility as the vendor-router inventory renders it (the lab's live AWS VPN file)."""
    hv = {
        "site_name": "lab-iosxe-netconf", "gateway_platform": "cisco_iosxe", "cloud_provider": "aws_vpn",
        "cloud_params_file": "files/aws-vpn.xml", "wan_interface": "GigabitEthernet1",
        "wan_address": "198.51.100.24", "lan_interface": "GigabitEthernet2", "lan_cidrs": ["203.0.113.0/26"],
        "dicomweb_url": "https://dicom.lab.example/dicomweb/studies", "dicomweb_cidrs": ["203.0.113.128/26"],
    }
    return load_site(hv, "iosxe-netconf", str(REPO / "inventories" / "lab"))


def lab(*args: str) -> None:
    subprocess.run([sys.executable, str(LAB), *args], check=True, capture_output=True, timeout=60)


@pytest.fixture()
def pushed(netconf: Netconf, tmp_path: Path) -> Iterator[tuple[Netconf, dict[str, Any]]]:
    if not VENDOR_FILE.exists():
        pytest.skip("the lab is not up (make lab-up)")
    site = lab_site()
    xml = render(site, tmp_path / "art")["netconf.xml"]
    kw = {"state_dir": str(tmp_path / "state"), "owner": site["site_name"]}
    done = P.push("cisco_iosxe", "netconf", netconf.conn(), str(xml), confirm_timeout=120, **kw)
    P.finish("confirm", "cisco_iosxe", "netconf", netconf.conn(), done["token"], **kw)
    yield netconf, expected(site)


def read(netconf: Netconf, queries: list[str], parse: Callable[..., Any], exp: dict[str, Any]) -> Any:
    m = netconf.manager()
    try:
        return parse({q: m.get(filter=("subtree", q)).data_xml for q in queries}, exp)
    finally:
        m.close_session()


def status(checks: list[dict[str, Any]]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in checks}


def test_hello_advertises_the_operational_models(netconf: Netconf) -> None:
    m = netconf.manager()
    try:
        caps = " ".join(m.server_capabilities)
        assert "module=Cisco-IOS-XE-crypto-oper" in caps and "module=Cisco-IOS-XE-bgp-oper" in caps
        assert "urn:ietf:params:netconf:base:1.1" in caps  # chunked framing after the hello
        assert m.get_config("running").data_xml.lstrip().startswith("<")  # other RPCs still reach netconfd
    finally:
        m.close_session()


def test_state_follows_the_config_and_the_cloud(pushed: tuple[Netconf, dict[str, Any]]) -> None:
    netconf, exp = pushed
    observed = read(netconf, X.tunnel_queries(exp), X.parse_tunnels, exp)
    checks, facts = evaluate_tunnels(exp["tunnels"], observed)
    assert set(status(checks).values()) == {"pass"} and facts["up_count"] == 2, checks
    bgp = read(netconf, X.bgp_queries(exp), X.parse_bgp, exp)
    bchecks, bfacts = evaluate_bgp(exp, bgp)
    assert set(status(bchecks).values()) == {"pass"}, bchecks
    assert bfacts["all_established"] and bgp["received"][exp["neighbors"][0]["address"]] == [VPC_CIDR]
    try:
        lab("cloud-break", "vpn")
        observed = read(netconf, X.tunnel_queries(exp), X.parse_tunnels, exp)
        bgp = read(netconf, X.bgp_queries(exp), X.parse_bgp, exp)
    finally:
        lab("cloud-repair")
    checks, facts = evaluate_tunnels(exp["tunnels"], observed)
    assert status(checks) == {"network.tunnel.tun1": "fail", "network.tunnel.tun2": "fail"}
    assert facts["up_count"] == 0 and observed == []
    bchecks, bfacts = evaluate_bgp(exp, bgp)
    assert bfacts["established_count"] == 0 and status(bchecks)["network.route.203.0.113.128/26"] == "fail"
    for _ in range(10):  # repaired: the same configuration is up again
        observed = read(netconf, X.tunnel_queries(exp), X.parse_tunnels, exp)
        if len(observed) == 2:
            break
        time.sleep(0.5)
    assert evaluate_tunnels(exp["tunnels"], observed)[1]["all_up"]


def test_plain_rpcs_pass_through_unchanged(netconf: Netconf) -> None:
    if os.geteuid() != 0:
        pytest.skip("root only")
    m = netconf.manager()
    try:
        with m.locked("candidate"):
            m.discard_changes()
        reply = m.get(filter=("subtree", '<netconf-state xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring">'
                                         "<sessions/></netconf-state>")).data_xml
        assert "<session>" in reply or "sessions" in reply
    finally:
        m.close_session()
