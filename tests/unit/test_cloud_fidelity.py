"""What the real cloud does: the routes it sends, a production Linux data plane, the vendor's timing,
sizes and symmetry, and a lab cloud that behaves like AWS (no lab needed: renderings and models)."""

from __future__ import annotations

import ipaddress
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.stowpath.core.plugins.module_utils import linux_gateway as lg
from ansible_collections.stowpath.core.plugins.module_utils import platforms
from ansible_collections.stowpath.core.plugins.module_utils.errors import SiteError, SiteErrors
from ansible_collections.stowpath.core.plugins.module_utils.render import render_site
from ansible_collections.stowpath.core.plugins.module_utils.site import load_site
from ansible_collections.stowpath.core.plugins.module_utils.verify.bgp import evaluate_bgp
from ansible_collections.stowpath.core.plugins.module_utils.verify.model import expected

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "lab" / "vendor"))
import cloud_state  # noqa: E402
import iosxe_sim  # noqa: E402

from lab.stowlab import configs  # noqa: E402
from lab.stowlab.params import make_params  # noqa: E402

XML = REPO / "inventories" / "example" / "params" / "aws-vpn-bgp.xml"
IFACES = {"linux_strongswan": ("eth0", "eth1"), "cisco_iosxe": ("GigabitEthernet1", "GigabitEthernet2"),
          "junos": ("ge-0/0/0.0", "ge-0/0/1.0")}
DICOMWEB = "10.100.0.0/24"
VPC = "10.100.0.0/16"  # what AWS advertises: the VPC CIDR, a supernet of the DICOMweb range


def site_for(platform: str, params: Path = XML, **extra: Any) -> dict[str, Any]:
    wan, lan = IFACES[platform]
    hv = {"site_name": "fidelity", "gateway_platform": platform, "cloud_provider": "aws_vpn",
          "cloud_params_file": str(params), "wan_interface": wan, "wan_address": "198.51.100.24",
          "lan_interface": lan, "lan_cidrs": ["10.20.0.0/24"], "dicomweb_url": "https://d.example/dicomweb/studies",
          "dicomweb_cidrs": [DICOMWEB], **extra}
    return load_site(hv, "gw", str(REPO))


def render(platform: str, **extra: Any) -> dict[str, str]:
    return render_site(site_for(platform, **extra), str(REPO / "templates"))


def prefix_list(text: str, name: str) -> list[dict[str, Any]]:
    """FRR / IOS prefix-list lines -> cloud_state entries."""
    out = []
    for m in re.finditer(rf"^ip prefix-list {name} seq \d+ (permit|deny) (\S+)(?: ge (\d+))?(?: le (\d+))?$", text, re.M):
        out.append({"action": m.group(1), "prefix": m.group(2), "ge": int(m.group(3)) if m.group(3) else None,
                    "le": int(m.group(4)) if m.group(4) else None})
    return out


def junos_accepts(config: str, prefix: str) -> bool:
    net = ipaddress.ip_network(prefix)
    for m in re.finditer(r"stowpath-import term cloud from route-filter (\S+) (exact|orlonger)$", config, re.M):
        base = ipaddress.ip_network(m.group(1))
        if (m.group(2) == "exact" and net == base) or (m.group(2) == "orlonger" and net.subnet_of(base)):
            return True
    return False


# ---------------------------------------------------------------- 1. routes the cloud really sends
ACCEPTED = [VPC, "10.100.0.0/23", DICOMWEB, "10.100.0.128/25"]
REJECTED = ["0.0.0.0/0", "10.0.0.0/8", "10.100.1.0/24", "10.101.0.0/16", "10.100.2.0/23"]


@pytest.mark.parametrize("prefix", ACCEPTED + REJECTED)
def test_every_platform_accepts_what_covers_or_lies_inside_the_dicomweb_range(prefix: str) -> None:
    want = prefix in ACCEPTED
    frr = render("linux_strongswan")["frr.conf"]
    assert cloud_state.prefix_list_permits(prefix_list(frr, "STOWPATH-FROM-CLOUD"), prefix) is want
    ios = render("cisco_iosxe")["config.cfg"]
    assert cloud_state.prefix_list_permits(prefix_list(ios, "STOWPATH-PL-FROM-CLOUD"), prefix) is want
    assert junos_accepts(render("junos")["config.set"], prefix) is want


def test_accept_prefixes_override_and_must_cover_the_dicomweb_range() -> None:
    ios = render("cisco_iosxe", accept_prefixes=["10.96.0.0/12"])["config.cfg"]
    entries = prefix_list(ios, "STOWPATH-PL-FROM-CLOUD")
    assert cloud_state.prefix_list_permits(entries, "10.96.0.0/12") and cloud_state.prefix_list_permits(entries, VPC)
    assert not cloud_state.prefix_list_permits(entries, "10.0.0.0/8")
    with pytest.raises((SiteError, SiteErrors), match="no accepted prefix covers dicomweb_cidrs"):
        site_for("junos", accept_prefixes=["10.100.1.0/24"])


def test_min_prefixlen_bounds_the_accepted_supernets() -> None:
    site = site_for("linux_strongswan", accept_min_prefixlen=20)
    exact = [a["prefix"] for a in site["accept_routes"] if a["exact"]]
    assert exact[0] == "10.100.0.0/20" and VPC not in exact


def test_verification_passes_when_a_supernet_carries_the_dicomweb_range() -> None:
    exp = expected(site_for("linux_strongswan", linux_ipsec_dataplane="libipsec"))
    n1, n2 = (n["address"] for n in exp["neighbors"])
    est = {"state": "Established", "remote_as": 64512}
    observed = {"summary": {"local_asn": 65020, "neighbors": {n1: est, n2: est}},
                "received": {n1: [VPC], n2: [VPC]},
                "advertised": {n1: ["10.20.0.0/24"], n2: ["10.20.0.0/24"]},
                "routes": [{"prefix": VPC, "protocol": "bgp", "selected": True, "installed": True,
                            "interfaces": ["ipsec0"]}]}
    checks, facts = evaluate_bgp(exp, observed)
    assert {c["status"] for c in checks} == {"pass"}, [c["cause"] for c in checks if c["status"] != "pass"]
    # a more specific route for the range elsewhere wins over the supernet: not reachable via the link
    observed["routes"].append({"prefix": DICOMWEB, "protocol": "static", "selected": True, "installed": True,
                               "interfaces": ["eth0"]})
    route = {c["id"]: c for c in evaluate_bgp(exp, observed)[0]}[f"network.route.{DICOMWEB}"]
    assert route["status"] == "fail" and "eth0" in route["cause"]


def test_a_filter_that_needs_the_exact_prefix_fails_clearly_naming_the_filter() -> None:
    exp = expected(site_for("linux_strongswan", accept_prefixes=[DICOMWEB]))
    n1 = exp["neighbors"][0]["address"]
    observed = {"summary": {"local_asn": 65020, "neighbors": {n1: {"state": "Established", "remote_as": 64512}}},
                "received": {n1: []}, "advertised": {n1: ["10.20.0.0/24"]}, "routes": []}
    checks = {c["id"]: c for c in evaluate_bgp(exp, observed)[0]}
    cause = checks["network.bgp.tun1.received"]["cause"]
    assert cause.startswith(f"route missing: {DICOMWEB}") and "FROM-CLOUD" in cause and "stowpath-import" in cause
    assert f"{DICOMWEB} or longer" in cause


# ---------------------------------------------------------------- 2. a production data plane on Linux
def test_linux_renders_the_kernel_xfrm_model_by_default() -> None:
    out = render("linux_strongswan")
    swan, frr, nft = out["swanctl.conf"], out["frr.conf"], out["nftables.conf"]
    assert swan.count("if_id_in = ") == 2 and "if_id_out = 1" in swan and "if_id_out = 2" in swan
    assert swan.count("local_ts = 0.0.0.0/0") == 2 and swan.count("remote_ts = 0.0.0.0/0") == 2
    assert "encap = yes" not in swan
    assert "interface xfrm-tun1" in frr and "interface xfrm-tun2" in frr and "ipsec0" not in frr + nft
    site = site_for("linux_strongswan")
    assert platforms.get("linux_strongswan").link_interfaces(site) == ["xfrm-tun1", "xfrm-tun2"]
    assert [i[:3] for i in lg.xfrm_interfaces(swan)] == [("xfrm-tun1", "eth0", 1), ("xfrm-tun2", "eth0", 2)]


def test_libipsec_stays_an_explicit_choice() -> None:
    out = render("linux_strongswan", linux_ipsec_dataplane="libipsec")
    assert "if_id_in" not in out["swanctl.conf"] and "encap = yes" in out["swanctl.conf"]
    assert "interface ipsec0" in out["frr.conf"] and lg.dataplane_files(out["swanctl.conf"], lg.DEFAULT_PATHS) == {}
    with pytest.raises((SiteError, SiteErrors), match="linux_ipsec_dataplane"):
        site_for("linux_strongswan", linux_ipsec_dataplane="vti")


def test_the_push_installs_and_verifies_the_kernel_data_plane(tmp_path: Path) -> None:
    swan = render("linux_strongswan")["swanctl.conf"]
    paths = {k: str(tmp_path / Path(v).name) for k, v in lg.DATAPLANE_PATHS.items()}
    files = lg.dataplane_files(swan, paths)
    sysctl = files[paths["sysctl"]].decode()
    assert "net.ipv4.ip_forward = 1" in sysctl and "net.ipv4.conf.xfrm-tun2.rp_filter = 2" in sysctl
    assert "retransmit_tries = 3" in files[paths["charon"]].decode()
    assert "type xfrm dev" in files[paths["updown"]].decode()
    state: dict[str, str] = {}
    calls: list[list[str]] = []

    def run(cmd: list[str]) -> tuple[int, str, str]:
        calls.append(cmd)
        if cmd[:2] == ["ip", "-d"]:
            name = cmd[-1]
            return (0, f"9: {name}@eth0: <UP> mtu 1436 xfrm if_id {state[name]}", "") if name in state else (1, "", "")
        if cmd[:2] == ["sysctl", "-n"]:
            return 0, ("1" if cmd[2].endswith("ip_forward") else "2") if state else "0", ""
        if cmd[0].endswith("stowpath-xfrm-updown"):
            state[cmd[1]] = hex(int(cmd[3]))
        return 0, "", ""

    assert lg.dataplane_missing(run, swan)
    lg.reload_dataplane(run, swan, paths)
    assert lg.dataplane_missing(run, swan) == []
    assert ["sysctl", "-p", paths["sysctl"]] in calls and ["swanctl", "--reload-settings"] in calls


# ---------------------------------------------------------------- 3. timing, sizes and symmetry
def test_dead_peer_detection_notices_a_dead_tunnel_in_about_30_s() -> None:
    ios = render("cisco_iosxe")["config.cfg"]
    interval, retry = map(int, re.search(r"^ dpd (\d+) (\d+) periodic$", ios, re.M).groups())
    assert 25 <= interval + 5 * retry <= 35  # IOS-XE: 5 retransmits at the retry interval
    junos = render("junos")["config.set"]
    assert "dead-peer-detection interval 10" in junos and "dead-peer-detection threshold 3" in junos
    charon = dict(re.findall(r"(retransmit_\w+) = ([\d.]+)", lg.CHARON_TIMING))
    timeout, base, tries = float(charon["retransmit_timeout"]), float(charon["retransmit_base"]), int(charon["retransmit_tries"])
    assert 25 <= 10 + sum(timeout * base ** i for i in range(tries + 1)) <= 35
    assert "dpd_delay = 10s" in render("linux_strongswan")["swanctl.conf"]


def test_replay_window_df_bit_fragmentation_and_mtu_follow_aws() -> None:
    ios, junos = render("cisco_iosxe")["config.cfg"], render("junos")["config.set"]
    swan = render("linux_strongswan")["swanctl.conf"]
    assert "set security-association replay window-size 1024" in ios and "replay_window = 1024" in swan
    assert "crypto ipsec df-bit clear" in ios and "crypto ipsec fragmentation before-encryption" in ios
    assert " ip virtual-reassembly" in ios and "copy_df = no" in swan
    assert "family inet mtu 1436" in junos and "df-bit clear" in junos


def test_the_files_clear_df_bit_is_honoured(tmp_path: Path) -> None:
    xml = XML.read_text().replace("<clear_df_bit>true</clear_df_bit>", "<clear_df_bit>false</clear_df_bit>")
    xml = xml.replace("<fragmentation_before_encryption>true<", "<fragmentation_before_encryption>false<")
    path = tmp_path / "vpn.xml"
    path.write_text(xml)
    ios = render_site(site_for("cisco_iosxe", params=path), str(REPO / "templates"))["config.cfg"]
    junos = render_site(site_for("junos", params=path), str(REPO / "templates"))["config.set"]
    assert "df-bit clear" not in ios and "fragmentation before-encryption" not in ios and "df-bit copy" in junos


def test_mss_clamp_only_lowers() -> None:
    nft = render("linux_strongswan")["nftables.conf"]
    clamps = [line for line in nft.splitlines() if "maxseg size set" in line]
    assert clamps and all("maxseg size > 1379 tcp option maxseg size set 1379" in line for line in clamps)


def test_return_traffic_prefers_one_tunnel_on_every_platform() -> None:
    frr, ios, junos = (render(p)[a] for p, a in (("linux_strongswan", "frr.conf"), ("cisco_iosxe", "config.cfg"),
                                                 ("junos", "config.set")))
    site = site_for("cisco_iosxe")
    backup = site["tunnels"][1]["remote_inside"]
    assert f"neighbor {backup} route-map STOWPATH-TO-CLOUD-BACKUP out" in frr
    assert "set as-path prepend 65020 65020" in frr and "set local-preference 200" in frr
    assert f"neighbor {backup} route-map STOWPATH-RM-TO-CLOUD-BACKUP out" in ios and "set as-path prepend 65020 65020" in ios
    assert f"neighbor {backup} export stowpath-backup" in junos and 'as-path-prepend "65020 65020"' in junos
    flat = render("linux_strongswan", preferred_tunnel=0)["frr.conf"]
    assert "prepend" not in flat and "local-preference" not in flat


# ---------------------------------------------------------------- 4. the lab cloud behaves like AWS
@pytest.fixture(scope="module")
def lab_params() -> dict[str, Any]:
    return make_params(0)


def test_lab_cloud_advertises_a_vpc_supernet_never_the_exact_range(lab_params: dict[str, Any]) -> None:
    frr = configs.cloud_frr(lab_params, profile=configs.CloudProfile())
    networks = re.findall(r"^  network (\S+)$", frr, re.M)
    assert networks == [configs.VPC_CIDR] and configs.CLOUD_CIDR not in networks
    assert ipaddress.ip_network(configs.CLOUD_CIDR).subnet_of(ipaddress.ip_network(networks[0]))
    exact = configs.cloud_frr(lab_params, profile=configs.CloudProfile(advertise="exact"))
    assert re.findall(r"^  network (\S+)$", exact, re.M) == [configs.CLOUD_CIDR]


def test_lab_cloud_tunnel_options_are_awss(lab_params: dict[str, Any]) -> None:
    swan = configs.cloud_swanctl(lab_params, profile=configs.CloudProfile())
    assert swan.count("local_ts = 0.0.0.0/0") == swan.count("remote_ts = 0.0.0.0/0") == 2
    assert "start_action = none" in swan and "start_action = start" not in swan and "dpd_delay = 10s" in swan
    assert "curve25519" not in swan and "modp8192" in swan and "modp2048s256" in swan
    assert "modp1536" not in configs.CLOUD_IKE and "modp1536" in configs.CLOUD_ESP
    knobs = configs.cloud_swanctl(lab_params, profile=configs.CloudProfile(selectors="narrow", initiate="yes"))
    assert "start_action = start" in knobs and "local_ts = 0.0.0.0/0" not in knobs
    assert configs.CloudProfile.from_env({"STOWPATH_LAB_CLOUD_ADVERTISE": "exact"}).advertised == configs.CLOUD_CIDR
    with pytest.raises(ValueError, match="STOWPATH_LAB_CLOUD_SELECTORS"):
        configs.CloudProfile.from_env({"STOWPATH_LAB_CLOUD_SELECTORS": "wide"})


def test_stowpaths_proposals_are_inside_awss_default_sets() -> None:
    swan = render("linux_strongswan")["swanctl.conf"]
    offered = {p: set(s.split("-")) for p, s in (("ike", configs.CLOUD_IKE.split(",")[0]),
                                                 ("esp", configs.CLOUD_ESP.split(",")[0]))}
    for kind, proposal in re.findall(r"^\s*(proposals|esp_proposals) = (\S+)$", swan, re.M):
        assert set(proposal.split("-")) <= offered["esp" if kind == "esp_proposals" else "ike"], proposal


def _lab_state(tmp_path: Path, params: dict[str, Any], profile: Any) -> str:
    aws = tmp_path / "dev" / "aws"
    (aws / "etc-swanctl").mkdir(parents=True)
    (aws / "etc-frr").mkdir(parents=True)
    (aws / "etc-swanctl" / "swanctl.conf").write_text(configs.cloud_swanctl(params, profile=profile))
    (aws / "etc-frr" / "frr.conf").write_text(configs.cloud_frr(params, profile=profile))
    (tmp_path / "params.json").write_text(json.dumps(params))
    return str(tmp_path)


def _ios_outcome(tmp_path: Path, params: dict[str, Any], profile: Any, **extra: Any) -> dict[str, Any]:
    xml = tmp_path / "aws-vpn.xml"
    from lab.stowlab.vendor_files import aws_vpn_xml

    xml.write_text(aws_vpn_xml(params["vpn"]))
    hv = {"site_name": "lab-iosxe", "gateway_platform": "cisco_iosxe", "cloud_provider": "aws_vpn",
          "cloud_params_file": str(xml), "wan_interface": "GigabitEthernet1", "wan_address": "198.51.100.24",
          "lan_interface": "GigabitEthernet2", "lan_cidrs": ["203.0.113.0/26"],
          "dicomweb_url": "https://dicom.lab.example/dicomweb/studies", "dicomweb_cidrs": [configs.CLOUD_CIDR], **extra}
    config = render_site(load_site(hv, "iosxe", str(tmp_path)), str(REPO / "templates"))["config.cfg"]
    device = iosxe_sim.Device("iosxe", config)
    cloud = cloud_state.load_cloud(_lab_state(tmp_path, params, profile))
    return cloud_state.evaluate(iosxe_sim.device_cfg(device), cloud)


def test_iosxe_simulator_against_the_aws_like_cloud(tmp_path: Path, lab_params: dict[str, Any]) -> None:
    outcome = _ios_outcome(tmp_path, lab_params, configs.CloudProfile())
    assert {t["child"] for t in outcome["tunnels"].values()} == {"up"}
    assert [n["prefixes_received"] for n in outcome["neighbors"].values()] == [[configs.VPC_CIDR]] * 2


def test_a_facility_that_needs_the_exact_prefix_gets_no_route(tmp_path: Path, lab_params: dict[str, Any]) -> None:
    outcome = _ios_outcome(tmp_path, lab_params, configs.CloudProfile(), accept_prefixes=[configs.CLOUD_CIDR])
    assert all(n["state"] == "Established" and n["prefixes_received"] == [] for n in outcome["neighbors"].values())
