"""The lab itself: vendor files as the vendor writes them, the inventory that points at them, empty managed
devices reachable over SSH at standard paths, and a cloud side that works with a correct customer config."""

from __future__ import annotations

import ipaddress
import json
import re
import stat
import sys
import time
import xml.etree.ElementTree as ET  # noqa: N817 (parsing our own output)
from pathlib import Path
from typing import Any

import pytest
import yaml
from labctl import REPO, lab_exec, lab_module, lab_status

from lab.stowlab import reference as ref

labmod = lab_module()

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]

# the vendor samples (copies of ../shared/testdata/aws/, checked identical by tests/unit/test_params.py)
SAMPLES = REPO / "inventories" / "example" / "params"
FILES = REPO / "inventories" / "lab" / "files"
PSK_RE = re.compile(r"^[A-Za-z1-9._][A-Za-z0-9._]{31}$")
AWS_RESERVED = [ipaddress.ip_network(n) for n in ("169.254.0.0/30", "169.254.1.0/30", "169.254.2.0/30",
                                                  "169.254.3.0/30", "169.254.4.0/30", "169.254.5.0/30",
                                                  "169.254.169.252/30")]


def shape(e: ET.Element) -> list[Any]:
    return [e.tag, sorted(e.attrib), [shape(c) for c in e]]


def keys(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: keys(v) for k, v in x.items()}
    if isinstance(x, list):
        return [keys(v) for v in x]
    return type(x).__name__


def test_vpn_xml_is_shaped_like_the_vendors(lab_up: dict[str, Any]) -> None:
    path = FILES / "aws-vpn.xml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ours, sample = ET.parse(path).getroot(), ET.parse(SAMPLES / "aws-vpn-bgp.xml").getroot()
    assert shape(ours) == shape(sample)
    params = ref.params()["vpn"]
    tunnels = ours.findall("ipsec_tunnel")
    insides = []
    for t, p in zip(tunnels, params["tunnels"], strict=True):
        psk = t.findtext("ike/pre_shared_key")
        assert psk == p["psk"] and PSK_RE.match(psk or "")
        cgw_in = t.findtext("customer_gateway/tunnel_inside_address/ip_address")
        vgw_in = t.findtext("vpn_gateway/tunnel_inside_address/ip_address")
        net = ipaddress.ip_network(f"{cgw_in}/30", strict=False)
        assert net.subnet_of(ipaddress.ip_network("169.254.0.0/16"))
        assert ipaddress.ip_address(vgw_in) == net.network_address + 1 and ipaddress.ip_address(cgw_in) == net.network_address + 2
        assert not any(net.overlaps(r) for r in AWS_RESERVED)
        insides.append(net)
    assert insides[0] != insides[1]
    assert [t.findtext("vpn_gateway/tunnel_outside_address/ip_address") for t in tunnels] == ["192.0.2.61", "192.0.2.188"]


def test_dx_json_is_shaped_like_the_vendors(lab_up: dict[str, Any]) -> None:
    path = FILES / "aws-dx.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ours, sample = json.loads(path.read_text()), json.loads((SAMPLES / "aws-dx-vif.json").read_text())
    assert keys(ours) == keys(sample)
    vif = ours["virtualInterfaces"][0]
    assert vif["vlan"] == 412 and vif["amazonSideAsn"] == 64512 and vif["bgpPeers"][0]["authKey"] == vif["authKey"]
    assert re.fullmatch(r"[A-Za-z0-9._]{6,80}", vif["authKey"])
    amazon, customer = (ipaddress.ip_interface(vif[k]) for k in ("amazonAddress", "customerAddress"))
    assert amazon.network == customer.network and amazon.network.prefixlen == 30


def test_inventory_points_at_the_lab(lab_up: dict[str, Any]) -> None:
    inv = REPO / "inventories" / "lab"
    devs = {d.name: d for d in labmod.devices(0)}
    for host in ("cgw", "cgwdx", "pacs"):
        hv = yaml.safe_load((inv / "host_vars" / f"{host}.yml").read_text())
        assert hv["ansible_host"] == devs[host].mgmt
        if host == "pacs":
            continue
        assert (inv / hv["cloud_params_file"]).is_file()
        wan = devs[host].addrs[hv["wan_interface"]][0].split("/")[0]
        assert wan == hv["wan_address"]
        lan = ipaddress.ip_interface(devs[host].addrs[hv["lan_interface"]][0])
        assert [str(lan.network)] == hv["lan_cidrs"] == [labmod.FACILITY_LAN]
        assert hv["dicomweb_cidrs"] == [labmod.CLOUD_CIDR]
    gv = yaml.safe_load((inv / "group_vars" / "lab_devices.yml").read_text())
    assert gv["ansible_ssh_private_key_file"] == str(labmod.SSH_KEY)
    dx = yaml.safe_load((inv / "host_vars" / "cgwdx.yml").read_text())
    assert dx["dx_vlan_interface"] in devs["cgwdx"].addrs


def test_the_site_model_accepts_the_lab(lab_up: dict[str, Any]) -> None:
    sys.path.insert(0, str(REPO / "collections"))
    from ansible_collections.stowpath.core.plugins.module_utils.site import load_site

    inv = REPO / "inventories" / "lab"
    vpn = load_site(yaml.safe_load((inv / "host_vars" / "cgw.yml").read_text()), "cgw", str(inv))
    dx = load_site(yaml.safe_load((inv / "host_vars" / "cgwdx.yml").read_text()), "cgwdx", str(inv))
    params = ref.params()
    assert [t["psk"] for t in vpn["tunnels"]] == [t["psk"] for t in params["vpn"]["tunnels"]]
    assert vpn["tcp_mss"] == 1360 and vpn["connection_id"] == params["vpn"]["vpn_connection_id"]
    assert dx["dx"]["auth_key"] == params["dx"]["auth_key"] and dx["dx"]["vlan_interface"] == "eth2.412"


def test_managed_devices_start_empty_with_standard_paths(lab_up: dict[str, Any]) -> None:
    with ref.borrowed("cgw"):  # the lab is shared: cgw goes back to what it held
        ref.reset("cgw")
        out = ref.ssh("cgw", "hostname; swanctl --list-conns --raw; swanctl --list-sas --raw; "
                             "vtysh -c 'show running-config'; echo NFT; nft list ruleset; echo ROUTES; ip route; "
                             "ip rule; ip -o link show ipsec0; python3 -c 'import sys; print(sys.version_info[:2])'; "
                             "ls -l /etc/swanctl/swanctl.conf /etc/frr/frr.conf /etc/nftables.conf /run/charon.vici").stdout
        assert out.splitlines()[0] == "cgw"
        assert "list-conn event" not in out and "list-sa event" not in out
        assert "router bgp" not in out and "hostname cgw" in out
        assert out.split("NFT\n")[1].split("ROUTES\n")[0].strip() == ""
        assert "203.0.113.128" not in out.split("ROUTES\n")[1] and "lookup 220" not in out
        assert "mtu 1400" in out and "(3, 11)" in out
        for path in ("/etc/swanctl/swanctl.conf", "/etc/frr/frr.conf", "/etc/nftables.conf", "/run/charon.vici"):
            assert path in out
        # the device's files are its own: the host's /etc/frr is untouched
        assert "hostname cgw" not in Path("/etc/frr/frr.conf").read_text()


def test_every_device_has_its_own_ssh_host_key(lab_up: dict[str, Any]) -> None:
    keys = {h: ref.ssh(h, "cat /etc/ssh/ssh_host_ed25519_key.pub").stdout.split()[1] for h in ("cgw", "cgwdx", "pacs")}
    assert len(set(keys.values())) == 3
    assert keys["cgw"] not in Path("/etc/ssh/ssh_host_ed25519_key.pub").read_text()


def test_cloud_side_works_with_a_correct_customer_config(lab_up: dict[str, Any]) -> None:
    with ref.borrowed("cgw", "cgwdx"):  # back to what they held, whatever fails in between
        ref.onboard_vpn()
        ref.onboard_dx()
        ref.wait_cloud_route()  # the customer side has the cloud route; now the cloud must have the LAN
        deadline = time.monotonic() + 60
        while True:
            cloud = lab_status()["cloud"]
            up = [k for k, v in cloud["ike"].items() if v == "ESTABLISHED +child"]
            est = [b for b in cloud["bgp"].values() if b["state"] == "Established" and b["pfx_rcvd"] == 1]
            if (len(up), len(est)) == (2, 3) or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert sorted(up) == ["cgw-tun1", "cgw-tun2"] and len(est) == 3, cloud
        ping = lab_exec("pacs", "ping", "-n", "-c", "2", "-i", "0.2", "-W", "2", labmod.CLOUD_HOST).stdout
        assert " 0% packet loss" in ping
        trace = lab_exec("pacs", "traceroute", "-I", "-n", "-q", "1", "-w", "1", labmod.CLOUD_HOST).stdout
        insides = {t["cloud_inside"] for t in ref.params()["vpn"]["tunnels"]}
        assert any(i in trace for i in insides), trace
        assert lab_exec("pacs", "curl", "-sk", "--max-time", "5", "https://dicom.lab.example/").returncode == 0
        # the cloud firewall admits TCP 443 and ICMP only
        blocked = lab_exec("pacs", "curl", "-s", "--max-time", "2", f"http://{labmod.CLOUD_HOST}:8080/")
        assert blocked.returncode == 28


def test_status_reports_health(lab_up: dict[str, Any]) -> None:
    st = lab_status()
    assert st["healthy"] and st["up_seconds"] > 0
    assert {r["device"] for r in st["devices"]} >= {"pacs", "cgw", "cgwdx", "inet", "aws", "cloud", "sw"}
    cgw = next(r for r in st["devices"] if r["device"] == "cgw")
    assert set(cgw["pids"]) == {"holder", "sshd", "charon", "zebra", "staticd", "bgpd"}
