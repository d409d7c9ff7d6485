"""IOS-XE CLI state parsers on outputs recorded from real devices (tests/vendor/fixtures/iosxe_cli/,
see SOURCES.md), fed through the unchanged tunnel and BGP evaluators."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.parsers import iosxe_cli as P
from ansible_collections.stowpath.core.plugins.module_utils.verify.bgp import evaluate_bgp
from ansible_collections.stowpath.core.plugins.module_utils.verify.tunnels import evaluate_tunnels

from .conftest import FIXTURES

FX = FIXTURES / "iosxe_cli"


def fx(name: str) -> str:
    return (FX / name).read_text()


def has(d: dict[str, Any], want: dict[str, Any]) -> bool:
    return {k: d.get(k) for k in want} == want


def tunnel(name: str, peer: str, inside: tuple[str, str] | None = ("169.254.21.6", "169.254.21.5")) -> dict[str, Any]:
    return {"name": name, "local_outside": None, "remote_outside": peer,
            "local_inside": inside[0] if inside else None, "remote_inside": inside[1] if inside else None}


def run_tunnels(fixture: str, tunnels: list[dict[str, Any]]) -> tuple[dict[str, dict], dict]:
    exp = {"tunnels": tunnels}
    answers = {q: fx(fixture) for q in P.tunnel_queries(exp)}
    checks, facts = evaluate_tunnels(tunnels, P.parse_tunnels(answers, exp))
    return {c["id"]: c for c in checks}, facts


def test_tunnel_queries_are_one_published_command():
    assert P.tunnel_queries({"tunnels": []}) == ["show crypto session detail"]


def test_both_ikev2_vtis_up():
    checks, facts = run_tunnels("composed_crypto_session_detail_two_ikev2_vti.txt",
                                [tunnel("tun1", "21.16.95.23"), tunnel("tun2", "70.70.70.70")])
    assert [c["status"] for c in checks.values()] == ["pass", "pass"]
    assert facts["all_up"] and facts["up_count"] == 2
    t1 = facts["tunnels"][0]
    assert has(t1, {"device_name": "Tunnel11", "ike_state": "ESTABLISHED", "ike_version": 2,
                       "established_s": 11 * 3600 + 12 * 60 + 24, "child_state": "INSTALLED",
                       "local_ts": ["0.0.0.0/0"], "remote_ts": ["0.0.0.0/0"],
                       "packets_in": 4033155813, "packets_out": 1326659675})


def test_route_based_selectors_cover_the_inside_addresses():
    sas = P.parse_tunnels({"show crypto session detail": fx("genie_crypto_session_interface_detail_ikev2_vti.txt")}, {})
    assert sas == [{
        "name": "Tunnel2", "ike_state": "ESTABLISHED", "session_status": "UP-ACTIVE", "ike_version": 2,
        "local_outside": "71.71.71.71", "remote_outside": "70.70.70.70", "established_s": 1825,
        "profile": "nil_ike_prof", "children": [{
            "name": "Tunnel2", "state": "INSTALLED", "reqid": None, "active_sas": 2,
            "local_ts": ["0.0.0.0/0"], "remote_ts": ["0.0.0.0/0"], "bytes_in": None, "bytes_out": None,
            "packets_in": 47, "packets_out": 12}]}]


def test_both_tunnels_down():
    checks, facts = run_tunnels("ntc_crypto_session_detail_ikev1_mixed.txt",
                                [tunnel("tun1", "10.161.255.14"), tunnel("tun2", "10.163.255.14")])
    assert set(checks) == {"network.tunnel.tun1", "network.tunnel.tun2"}
    for peer, c in zip(("10.161.255.14", "10.163.255.14"), checks.values(), strict=True):
        assert c["status"] == "fail"
        assert c["cause"].startswith(f"tunnel down: IKE with {peer} is DOWN-NEGOTIATING, not ESTABLISHED")
    assert not facts["all_up"] and facts["up_count"] == 0
    assert facts["unexpected_sas"] == ["Tunnel1101"]


def test_one_tunnel_of_two_down():
    checks, facts = run_tunnels("ntc_crypto_session_detail_ikev1_mixed.txt",
                                [tunnel("tun1", "192.168.0.1", None), tunnel("tun2", "10.161.255.14")])
    assert checks["network.tunnel.tun1"]["status"] == "pass"
    assert checks["network.tunnel.tun1"]["detail"]["ike_version"] == 1
    assert checks["network.tunnel.tun2"]["status"] == "fail"
    assert "DOWN-NEGOTIATING" in checks["network.tunnel.tun2"]["cause"]
    assert facts["up_count"] == 1 and not facts["all_up"]


def test_crypto_map_selectors_do_not_carry_the_inside_addresses():
    checks, _ = run_tunnels("ntc_crypto_session_detail_ikev1_mixed.txt", [tunnel("tun1", "192.168.0.1")])
    assert checks["network.tunnel.tun1"]["status"] == "fail"
    assert "does not carry the tunnel inside addresses" in checks["network.tunnel.tun1"]["cause"]


def test_ike_up_without_ipsec_sa():
    checks, facts = run_tunnels("derived_crypto_session_detail_ikev2_up_idle.txt", [tunnel("tun1", "21.16.95.23")])
    c = checks["network.tunnel.tun1"]
    assert c["status"] == "fail"
    assert c["cause"].startswith("IKE with 21.16.95.23 is up but no CHILD SA is installed (child state: NO_ACTIVE_SA)")
    assert c["detail"]["ike_state"] == "ESTABLISHED" and c["detail"]["packets_in"] == 0


def test_peer_without_session():
    checks, _ = run_tunnels("ntc_crypto_session_detail_ikev2_vti.txt", [tunnel("tun2", "192.0.2.188")])
    assert checks["network.tunnel.tun2"]["cause"].startswith("tunnel down: no IKE SA with 192.0.2.188")


# ---------------------------------------------------------------- BGP
def bgp_exp(neighbors: list[tuple[str, str, int]], **over: Any) -> dict[str, Any]:
    exp = {"routing": "bgp", "connection_type": "vpn",
           "neighbors": [{"name": n, "address": a, "remote_as": asn} for n, a, asn in neighbors],
           "receive": ["11.222.12.0/23"], "advertise": P.parse_bgp_table(fx("ntc_ip_bgp_neighbors_advertised_routes.txt")),
           "cloud_cidrs": ["1.1.1.1/32"], "link_interfaces": ["Ethernet1/0"]}
    return exp | over


def answers(exp: dict[str, Any], summary: str, route_table: str = "genie_ip_route_ce_ebgp.txt") -> dict[str, str]:
    out = {}
    for q in P.bgp_queries(exp):
        if q == "show ip bgp summary":
            out[q] = fx(summary)
        elif q.endswith(" advertised-routes"):
            out[q] = fx("ntc_ip_bgp_neighbors_advertised_routes.txt")
        elif q.endswith(" routes"):
            out[q] = fx("ntc_ip_bgp_neighbors_advertised_routes2.txt")
        else:
            out[q] = fx(route_table)
    return out


def run_bgp(exp: dict[str, Any], summary: str, route_table: str = "genie_ip_route_ce_ebgp.txt"
            ) -> tuple[dict[str, dict], dict, dict]:
    observed = P.parse_bgp(answers(exp, summary, route_table), exp)
    checks, facts = evaluate_bgp(exp, observed)
    return {c["id"]: c for c in checks}, facts, observed


def test_bgp_queries():
    exp = bgp_exp([("tun1", "169.254.21.5", 64512)])
    assert P.bgp_queries(exp) == ["show ip bgp summary", "show ip bgp neighbors 169.254.21.5 routes",
                                  "show ip bgp neighbors 169.254.21.5 advertised-routes", "show ip route"]
    assert P.bgp_queries({"routing": "static", "neighbors": []}) == ["show ip route"]
    with pytest.raises(ValueError):
        P.bgp_queries(bgp_exp([("tun1", "1.2.3.4; reload", 1)]))


def test_bgp_established_prefixes_received_and_routed():
    exp = bgp_exp([("tun1", "10.0.0.4", 65003), ("tun2", "10.0.0.7", 65006)])
    checks, facts, observed = run_bgp(exp, "ntc_ip_bgp_summary.txt")
    assert {k: c["status"] for k, c in checks.items()} == {
        "network.bgp.tun1": "pass", "network.bgp.tun1.received": "pass", "network.bgp.tun1.advertised": "pass",
        "network.bgp.tun2": "pass", "network.bgp.tun2.received": "pass", "network.bgp.tun2.advertised": "pass",
        "network.route.1.1.1.1/32": "pass"}
    assert facts["all_established"] and facts["local_asn"] == 65000
    assert observed["summary"]["router_id"] == "10.0.0.0"
    assert has(observed["summary"]["neighbors"]["10.0.0.7"], {
        "state": "Established", "remote_as": 65006, "prefixes_received": 82, "prefixes_sent": 7,
        "uptime_s": (365 + 70) * 86400})
    assert observed["received"]["10.0.0.4"] == ["11.222.12.0/23", "11.222.33.120/29", "123.233.111.0/24"]
    route = next(r for r in observed["routes"] if r["prefix"] == "1.1.1.1/32")
    assert route == {"prefix": "1.1.1.1/32", "protocol": "bgp", "selected": True, "installed": True,
                     "interfaces": ["Ethernet1/0"], "nexthops": ["99.1.2.1"], "distance": 20,
                     "uptime_s": 16 * 3600 + 49 * 60 + 22}


def test_bgp_idle_admin():
    checks, facts, _ = run_bgp(bgp_exp([("tun1", "10.0.0.10", 65009)]), "ntc_ip_bgp_summary.txt")
    c = checks["network.bgp.tun1"]
    assert c["status"] == "fail" and c["detail"]["state"] == "Idle"
    assert c["cause"].startswith("BGP not established with 10.0.0.10: the session is Idle")
    assert "network.bgp.tun1.received" not in checks and not facts["all_established"]


def test_bgp_active():
    exp = bgp_exp([("tun1", "10.0.0.4", 65003), ("tun2", "10.0.0.7", 65006)])
    checks, facts, observed = run_bgp(exp, "derived_ip_bgp_summary_active.txt")
    assert checks["network.bgp.tun1"]["status"] == "pass"
    c = checks["network.bgp.tun2"]
    assert c["status"] == "fail" and c["detail"]["state"] == "Active"
    assert c["cause"].startswith("BGP not established with 10.0.0.7: TCP 179 to the neighbor does not complete")
    assert "10.0.0.7" not in observed["received"] and facts["established_count"] == 1


def test_prefix_not_received():
    exp = bgp_exp([("tun1", "10.0.0.4", 65003)], receive=["10.100.0.0/24"])
    checks, _, _ = run_bgp(exp, "ntc_ip_bgp_summary.txt")
    c = checks["network.bgp.tun1.received"]
    assert c["status"] == "fail" and c["detail"]["missing"] == ["10.100.0.0/24"]
    assert c["cause"].startswith("route missing: 10.100.0.0/24 not received from 10.0.0.4")


def test_wrong_remote_as_and_unknown_neighbor():
    checks, _, _ = run_bgp(bgp_exp([("tun1", "10.0.0.4", 64512), ("tun2", "169.254.21.5", 64512)]),
                           "ntc_ip_bgp_summary.txt")
    assert checks["network.bgp.tun1"]["cause"] == ("neighbor 10.0.0.4 is configured with remote AS 65003, "
                                                   "the cloud's ASN is 64512")
    assert checks["network.bgp.tun2"]["cause"].startswith("BGP not established: neighbor 169.254.21.5 is not configured")


def test_all_families_summary_reads_ipv4_unicast_only():
    checks, _, observed = run_bgp(bgp_exp([("tun1", "10.0.14.4", 65001), ("tun2", "10.10.14.4", 65001)]),
                                  "ntc_ip_bgp_summary_all.txt")
    assert list(observed["summary"]["neighbors"]) == ["10.0.14.4"]
    assert checks["network.bgp.tun1"]["status"] == "pass"
    assert checks["network.bgp.tun2"]["status"] == "fail"


def test_no_bgp_instance():
    exp = bgp_exp([("tun1", "169.254.21.5", 64512)])
    observed = P.parse_bgp({"show ip bgp summary": "% BGP not active\n", "show ip route": ""}, exp)
    checks, _ = evaluate_bgp(exp, observed)
    assert observed["summary"]["local_asn"] is None
    assert checks[0]["id"] == "network.bgp" and checks[0]["cause"].startswith("BGP not configured")


def test_route_to_cloud_not_over_the_link():
    exp = bgp_exp([("tun1", "10.0.0.4", 65003)], cloud_cidrs=["6.6.0.0/16", "10.100.0.0/24"],
                  link_interfaces=["Tunnel1"])
    checks, _, observed = run_bgp(exp, "ntc_ip_bgp_summary.txt", "ntc_ip_route.txt")
    route = next(r for r in observed["routes"] if r["prefix"] == "6.6.0.0/16")
    assert route["interfaces"] == ["FastEthernet0/0.100"] and route["nexthops"] == ["195.0.0.1"]
    assert checks["network.route.6.6.0.0/16"]["cause"].startswith("route to 6.6.0.0/16 goes via FastEthernet0/0.100")
    assert checks["network.route.10.100.0.0/24"]["cause"].startswith("route missing: no route to 10.100.0.0/24")


@pytest.mark.parametrize(("text", "seconds"), [("11:12:24", 40344), ("3d18h", 324000), ("7w0d", 4233600),
                                               ("1y10w", 37584000), ("never", None), ("", None)])
def test_ios_durations(text, seconds):
    assert P.duration_s(text) == seconds


def test_multipath_static_route_and_classful_prefix():
    routes = {r["prefix"]: r for r in P.parse_ip_route(fx("ntc_ip_route.txt"))}
    assert routes["1.1.1.1/32"]["nexthops"] == ["212.0.0.1", "192.168.0.1"]
    assert routes["2.2.2.0/24"]["interfaces"] == ["FastEthernet0/0.100"]
    assert P.prefix("192.168.1.0") == "192.168.1.0/24" and P.prefix("10.0.0.0") == "10.0.0.0/8"
