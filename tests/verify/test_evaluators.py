"""Evaluators: recorded lab states against the site model they belong to -> checks with causes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.platforms import linux_strongswan as ls
from ansible_collections.stowpath.core.plugins.module_utils.verify import model, poll, probes
from ansible_collections.stowpath.core.plugins.module_utils.verify.bgp import evaluate_bgp
from ansible_collections.stowpath.core.plugins.module_utils.verify.firewall import evaluate_firewall
from ansible_collections.stowpath.core.plugins.module_utils.verify.path import (
    evaluate_mtu,
    evaluate_ping,
    evaluate_traceroute,
)
from ansible_collections.stowpath.core.plugins.module_utils.verify.tunnels import evaluate_tunnels

FIX = Path(__file__).parent / "fixtures"


def load(name: str) -> Any:
    return json.loads((FIX / name).read_text())


def raw(name: str) -> str:
    return (FIX / name).read_text()


def bgp_observed(name: str) -> dict[str, Any]:
    b = load(name)
    return {"summary": ls.parse_bgp_summary(b["summary"]),
            "received": {n: ls.parse_bgp_neighbor_routes(t) for n, t in b["routes"].items()},
            "advertised": {n: ls.parse_bgp_advertised(t) for n, t in b["advertised"].items()},
            "routes": ls.parse_ip_route(b["ip_route"])}


def by_id(checks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in checks}


@pytest.fixture(scope="module")
def vpn() -> dict[str, Any]:
    return model.expected(load("site_vpn.json"))


@pytest.fixture(scope="module")
def dx() -> dict[str, Any]:
    return model.expected(load("site_dx.json"))


# ---------------------------------------------------------------- the expected model
def test_expected_from_vpn_site(vpn: dict[str, Any]) -> None:
    assert [t["name"] for t in vpn["tunnels"]] == ["tun1", "tun2"]
    assert [n["name"] for n in vpn["neighbors"]] == ["tun1", "tun2"]
    assert all(n["remote_as"] == 64512 for n in vpn["neighbors"])
    assert vpn["receive"] == vpn["cloud_cidrs"] == ["203.0.113.128/26"]
    assert vpn["advertise"] == ["203.0.113.0/26"]
    assert vpn["link_interfaces"] == ["ipsec0"] and len(vpn["link_cidrs"]) == 2
    assert vpn["tcp_mss"] == 1360 and vpn["target_host"] == "dicom.lab.example"


def test_expected_from_dx_site(dx: dict[str, Any]) -> None:
    assert dx["tunnels"] == [] and [n["name"] for n in dx["neighbors"]] == ["dx"]
    assert dx["link_interfaces"] == ["eth2.412"]
    assert model.in_any(load("site_dx.json")["dx"]["remote_address"], dx["link_cidrs"])


def test_expected_static_vpn_has_no_neighbors() -> None:
    site = load("site_vpn.json")
    site["routing"] = "static"
    exp = model.expected(site)
    assert exp["neighbors"] == [] and len(exp["tunnels"]) == 2


# ---------------------------------------------------------------- tunnels
def test_tunnels_up_pass(vpn: dict[str, Any]) -> None:
    checks, facts = evaluate_tunnels(vpn["tunnels"], ls.parse_list_sas(raw("vpn_up_list_sas.txt")),
                                     ls.parse_list_conns(raw("vpn_up_list_conns.txt")))
    assert [c["status"] for c in checks] == ["pass", "pass"]
    assert facts["all_up"] and facts["up_count"] == 2 and facts["unexpected_sas"] == []
    t1 = facts["tunnels"][0]
    assert t1["ike_state"] == "ESTABLISHED" and t1["child_state"] == "INSTALLED" and t1["reqid"] == 1
    assert checks[0]["id"] == "network.tunnel.tun1" and "192.0.2.61" in checks[0]["title"]


def test_tunnels_not_configured(vpn: dict[str, Any]) -> None:
    checks, facts = evaluate_tunnels(vpn["tunnels"], [], ls.parse_list_conns(raw("vpn_empty_list_conns.txt")))
    assert {c["status"] for c in checks} == {"fail"}
    assert "not configured" in checks[0]["cause"] and not facts["all_up"]


def test_tunnels_down_when_cloud_refuses(vpn: dict[str, Any]) -> None:
    checks, _ = evaluate_tunnels(vpn["tunnels"], ls.parse_list_sas(raw("vpn_badpsk_list_sas.txt")),
                                 ls.parse_list_conns(raw("vpn_up_list_conns.txt")))
    assert all(c["status"] == "fail" and c["cause"].startswith("tunnel down") for c in checks)
    assert "UDP 500/4500" in checks[1]["action"] and "192.0.2.188" in checks[1]["action"]


def _up_sas() -> list[dict[str, Any]]:
    return ls.parse_list_sas(raw("vpn_up_list_sas.txt"))


def test_tunnel_connecting(vpn: dict[str, Any]) -> None:
    sas = _up_sas()
    for s in sas:
        s["ike_state"], s["children"] = "CONNECTING", []
    checks, _ = evaluate_tunnels(vpn["tunnels"], sas)
    assert "CONNECTING" in checks[0]["cause"]


def test_tunnel_without_child(vpn: dict[str, Any]) -> None:
    sas = _up_sas()
    for s in sas:
        s["children"] = []
    checks, facts = evaluate_tunnels(vpn["tunnels"], sas)
    assert all("no CHILD SA" in c["cause"] for c in checks) and facts["up_count"] == 0


def test_tunnel_selectors_without_inside_addresses(vpn: dict[str, Any]) -> None:
    sas = _up_sas()
    for s in sas:
        s["children"][0]["local_ts"] = ["203.0.113.0/26"]
    checks, _ = evaluate_tunnels(vpn["tunnels"], sas)
    assert all(c["status"] == "fail" and "inside addresses" in c["cause"] for c in checks)


def test_tunnel_duplicate_sa_warns(vpn: dict[str, Any]) -> None:
    sas = _up_sas()
    sas.append(copy.deepcopy(sas[0]))
    checks, facts = evaluate_tunnels(vpn["tunnels"], sas)
    assert sorted(c["status"] for c in checks) == ["pass", "warn"] and facts["all_up"]


def test_unexpected_sa_is_reported(vpn: dict[str, Any]) -> None:
    sas = _up_sas()
    sas[0]["remote_outside"] = "192.0.2.99"
    checks, facts = evaluate_tunnels(vpn["tunnels"], sas)
    assert facts["unexpected_sas"] == [sas[0]["name"]] and sorted(c["status"] for c in checks) == ["fail", "pass"]


def test_no_tunnels_expected_is_a_skip() -> None:
    checks, facts = evaluate_tunnels([], [])
    assert checks[0]["status"] == "skip" and facts["all_up"]


# ---------------------------------------------------------------- BGP and routes
def test_bgp_up_pass(vpn: dict[str, Any]) -> None:
    checks, facts = evaluate_bgp(vpn, bgp_observed("vpn_up_bgp.json"))
    assert {c["status"] for c in checks} == {"pass"}
    assert set(by_id(checks)) == {"network.bgp.tun1", "network.bgp.tun1.received", "network.bgp.tun1.advertised",
                                  "network.bgp.tun2", "network.bgp.tun2.received", "network.bgp.tun2.advertised",
                                  "network.route.203.0.113.128/26"}
    assert facts["all_established"] and facts["routes"][0]["interfaces"] == ["ipsec0"]


def test_dx_up_pass(dx: dict[str, Any]) -> None:
    checks, facts = evaluate_bgp(dx, bgp_observed("dx_up_bgp.json"))
    assert {c["status"] for c in checks} == {"pass"} and facts["routes"][0]["interfaces"] == ["eth2.412"]


def test_bgp_not_configured(vpn: dict[str, Any]) -> None:
    checks = by_id(evaluate_bgp(vpn, bgp_observed("vpn_empty_bgp.json"))[0])
    assert checks["network.bgp"]["cause"].startswith("BGP not configured")
    assert "not configured" in checks["network.bgp.tun1"]["cause"]
    assert checks["network.route.203.0.113.128/26"]["cause"].startswith("route missing")


def test_bgp_down_when_tunnels_down(vpn: dict[str, Any]) -> None:
    checks = by_id(evaluate_bgp(vpn, bgp_observed("vpn_badpsk_bgp.json"))[0])
    for name in ("tun1", "tun2"):
        c = checks[f"network.bgp.{name}"]
        assert c["status"] == "fail" and c["cause"].startswith("BGP not established") and "tunnel down" in c["cause"]
        assert f"network.bgp.{name}.received" not in checks
    assert checks["network.route.203.0.113.128/26"]["status"] == "fail"


def test_dx_wrong_md5_key(dx: dict[str, Any]) -> None:
    checks = by_id(evaluate_bgp(dx, bgp_observed("dx_badkey_bgp.json"))[0])
    assert "MD5" in checks["network.bgp.dx"]["cause"]


def test_bgp_wrong_remote_asn(vpn: dict[str, Any]) -> None:
    exp = copy.deepcopy(vpn)
    exp["neighbors"][0]["remote_as"] = 7224
    checks = by_id(evaluate_bgp(exp, bgp_observed("vpn_up_bgp.json"))[0])
    assert "remote AS 64512" in checks["network.bgp.tun1"]["cause"]


def test_bgp_missing_and_extra_prefixes(vpn: dict[str, Any]) -> None:
    obs = bgp_observed("vpn_up_bgp.json")
    n1, n2 = (n["address"] for n in vpn["neighbors"])
    obs["received"][n1] = []
    obs["advertised"][n1] = []
    obs["advertised"][n2] = ["203.0.113.0/26", "203.0.113.128/26"]
    checks = by_id(evaluate_bgp(vpn, obs)[0])
    assert checks["network.bgp.tun1.received"]["cause"].startswith("route missing: 203.0.113.128/26")
    assert "not advertised" in checks["network.bgp.tun1.advertised"]["cause"]
    assert checks["network.bgp.tun2.advertised"]["status"] == "warn"
    assert checks["network.bgp.tun2.received"]["status"] == "pass"


def test_more_specific_cloud_route_counts(vpn: dict[str, Any]) -> None:
    obs = bgp_observed("vpn_up_bgp.json")
    n1 = vpn["neighbors"][0]["address"]
    obs["received"][n1] = ["203.0.113.128/27", "203.0.113.160/27"]
    assert by_id(evaluate_bgp(vpn, obs)[0])["network.bgp.tun1.received"]["status"] == "pass"


def test_cloud_route_via_internet_is_a_leak(vpn: dict[str, Any]) -> None:
    obs = bgp_observed("vpn_up_bgp.json")
    for r in obs["routes"]:
        if r["prefix"] == "203.0.113.128/26":
            r["interfaces"] = ["eth0"]
    c = by_id(evaluate_bgp(vpn, obs)[0])["network.route.203.0.113.128/26"]
    assert c["status"] == "fail" and "via eth0, not the link" in c["cause"]


def test_static_routing_checks_routes_only(vpn: dict[str, Any]) -> None:
    exp = dict(vpn, routing="static", neighbors=[])
    checks, _ = evaluate_bgp(exp, bgp_observed("vpn_up_bgp.json"))
    assert [c["id"] for c in checks] == ["network.route.203.0.113.128/26"] and checks[0]["status"] == "pass"


# ---------------------------------------------------------------- path
def test_ping_checks() -> None:
    assert evaluate_ping("203.0.113.140", probes.parse_ping(raw("ping_up.txt")))["status"] == "pass"
    down = evaluate_ping("203.0.113.140", probes.parse_ping(raw("ping_tunnel_down.txt")))
    assert down["status"] == "fail" and "tunnel down" in down["cause"]
    net = evaluate_ping("203.0.113.140", probes.parse_ping(
        "From 198.51.100.1 icmp_seq=1 Destination Net Unreachable\n1 packets transmitted, 0 received\n"))
    assert net["cause"] == "route missing: 198.51.100.1 has no route to 203.0.113.140"
    filt = evaluate_ping("203.0.113.140", probes.parse_ping(
        "From 203.0.113.1 icmp_seq=1 Packet filtered\n1 packets transmitted, 0 received\n"))
    assert filt["cause"] == "firewall blocking ICMP at 203.0.113.1"


def test_traceroute_through_tunnel(vpn: dict[str, Any]) -> None:
    c, facts = evaluate_traceroute("203.0.113.140", probes.parse_traceroute(raw("traceroute_up.txt")), vpn["link_cidrs"])
    assert c["status"] == "pass" and len(facts["link_hops"]) == 1


def test_traceroute_through_dx(dx: dict[str, Any]) -> None:
    c, _ = evaluate_traceroute("203.0.113.140", probes.parse_traceroute(raw("traceroute_dx_up.txt")), dx["link_cidrs"])
    assert c["status"] == "pass"


def test_traceroute_stops_at_gateway(vpn: dict[str, Any]) -> None:
    c, facts = evaluate_traceroute("203.0.113.140", probes.parse_traceroute(raw("traceroute_no_route.txt")),
                                   vpn["link_cidrs"])
    assert c["status"] == "fail" and c["cause"].startswith("the path stops after 203.0.113.1") and not facts["reached"]


def test_traceroute_leaking_path(vpn: dict[str, Any]) -> None:
    hops = probes.parse_traceroute(" 1  203.0.113.1  0.1 ms\n 2  198.51.100.1  0.2 ms\n 3  203.0.113.140  0.3 ms\n")
    c, _ = evaluate_traceroute("203.0.113.140", hops, vpn["link_cidrs"])
    assert c["status"] == "fail" and "does not go through" in c["cause"]


def test_traceroute_unprovable_is_a_warning(vpn: dict[str, Any]) -> None:
    hops = probes.parse_traceroute(" 1  203.0.113.1  0.1 ms\n 2  *\n 3  203.0.113.140  0.3 ms\n")
    assert evaluate_traceroute("203.0.113.140", hops, vpn["link_cidrs"])[0]["status"] == "warn"


@pytest.mark.parametrize(("mss", "blackhole", "status"), [
    (1360, False, "pass"), (1300, False, "pass"), (1379, False, "warn"), (1379, True, "fail"), (None, False, "warn")])
def test_mtu_against_mss(mss: int | None, blackhole: bool, status: str) -> None:
    c = evaluate_mtu("203.0.113.140", {"pmtu": 1400, "blackhole": blackhole}, mss)
    assert c["status"] == status and c["detail"]["max_mss"] == 1360
    if status != "pass":
        assert "1360" in c["action"]


def test_mtu_unknown_and_full_size() -> None:
    assert evaluate_mtu("x", {"pmtu": None}, 1360)["status"] == "fail"
    assert evaluate_mtu("x", {"pmtu": 1500}, None)["status"] == "pass"


class SimulatedPath:  # a simulated path for the search algorithm: packets above ``mtu`` are dropped
    def __init__(self, mtu: int, reports: bool) -> None:
        self.mtu, self.reports, self.sizes = mtu, reports, []

    def run(self, argv: list[str]) -> tuple[int, str, str]:
        size = int(argv[argv.index("-s") + 1]) + 28
        self.sizes.append(size)
        if size <= self.mtu:
            return 0, "1 packets transmitted, 1 received, 0% packet loss\n", ""
        err = f"From 203.0.113.1 icmp_seq=1 Frag needed and DF set (mtu = {self.mtu})\n" if self.reports else ""
        return 1, err + "1 packets transmitted, 0 received, 100% packet loss\n", ""


def test_pmtu_uses_the_reported_mtu() -> None:
    p = SimulatedPath(1400, reports=True)
    res = probes.discover_pmtu(p.run, "203.0.113.140")
    assert res["pmtu"] == 1400 and res["reported_by_icmp"] and not res["blackhole"] and p.sizes == [1500, 1400]


@pytest.mark.parametrize("mtu", [577, 1280, 1399, 1400, 1499])
def test_pmtu_bisects_a_blackhole(mtu: int) -> None:
    res = probes.discover_pmtu(SimulatedPath(mtu, reports=False).run, "203.0.113.140")
    assert res["pmtu"] == mtu and res["blackhole"] and len(res["probes"]) <= 13


def test_pmtu_full_and_dead_paths() -> None:
    assert probes.discover_pmtu(SimulatedPath(1500, reports=False).run, "t")["pmtu"] == 1500
    assert probes.discover_pmtu(SimulatedPath(100, reports=False).run, "t")["pmtu"] is None


# ---------------------------------------------------------------- firewall
def r(port: int, result: str) -> dict[str, Any]:
    return {"host": "203.0.113.140", "port": port, "source": None, "result": result, "errno": None, "elapsed_s": 0.1}


def test_firewall_as_intended() -> None:
    checks, facts = evaluate_firewall("203.0.113.140", [r(443, "open")], [r(22, "timeout"), r(80, "unreachable")])
    assert [c["status"] for c in checks] == ["pass", "pass", "pass"]
    assert facts["allowed"] == {"443": "open"} and facts["blocked"]["22"] == "timeout"


@pytest.mark.parametrize(("result", "words"), [
    ("timeout", "firewall blocking TCP 443"), ("refused", "nothing listens"), ("unreachable", "route missing")])
def test_firewall_443_failures(result: str, words: str) -> None:
    checks, _ = evaluate_firewall("203.0.113.140", [r(443, result)], [])
    assert checks[0]["status"] == "fail" and words in checks[0]["cause"]


@pytest.mark.parametrize("result", ["open", "refused"])
def test_firewall_other_port_not_blocked(result: str) -> None:
    checks, _ = evaluate_firewall("203.0.113.140", [r(443, "open")], [r(8443, result)])
    assert checks[1]["status"] == "fail" and "does not restrict" in checks[1]["cause"]


def test_tcp_probe_against_loopback() -> None:
    import socket

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    try:
        assert probes.tcp_probe("127.0.0.1", port, timeout_s=1)["result"] == "open"
    finally:
        srv.close()
    assert probes.tcp_probe("127.0.0.1", port, timeout_s=1)["result"] == "refused"


# ---------------------------------------------------------------- polling
def test_until_passing_stops_when_green() -> None:
    states = iter(["fail", "fail", "pass"])
    sleeps: list[float] = []

    def evaluate() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        return [{"status": next(states)}], {}

    checks, _, _, rounds = poll.until_passing(evaluate, 10, 0.5, sleep=sleeps.append)
    assert checks[0]["status"] == "pass" and rounds == 3 and sleeps == [0.5, 0.5]


def test_until_passing_gives_up() -> None:
    checks, _, elapsed, rounds = poll.until_passing(lambda: ([{"status": "fail"}], {}), 0)
    assert checks[0]["status"] == "fail" and rounds == 1 and elapsed >= 0
