"""Parsers of linux_strongswan gateway output and of Linux probe tools, on outputs recorded from the lab
(tests/verify/record_fixtures.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.platforms import linux_strongswan as ls
from ansible_collections.stowpath.core.plugins.module_utils.verify import probes

FIX = Path(__file__).parent / "fixtures"


def text(name: str) -> str:
    return (FIX / name).read_text()


def bundle(name: str) -> dict:
    return json.loads(text(name))


@pytest.fixture(scope="module")
def site_vpn() -> dict:
    return bundle("site_vpn.json")


def test_vici_raw_nested_sections_lists_and_values_with_spaces() -> None:
    raw = ("list-sa event {t1 {state=ESTABLISHED remote-id=C=CH, O=Example child-sas {c-1 {state=INSTALLED "
           "local-ts=[10.0.0.1/32 10.1.0.0/16] remote-ts=[]}}}}\nlist-sas reply {}\n")
    msgs = ls.parse_vici_raw(raw)
    assert [m[0] for m in msgs] == ["list-sa event", "list-sas reply"]
    sa = msgs[0][1]["t1"]
    assert sa["remote-id"] == "C=CH, O=Example"
    assert sa["child-sas"]["c-1"]["local-ts"] == ["10.0.0.1/32", "10.1.0.0/16"]
    assert sa["child-sas"]["c-1"]["remote-ts"] == []


def test_vici_raw_rejects_unbalanced() -> None:
    with pytest.raises(ls.ParseError):
        ls.parse_vici_raw("list-sa event {t1 {state=ESTABLISHED")


def test_list_sas_up(site_vpn: dict) -> None:
    sas = {s["remote_outside"]: s for s in ls.parse_list_sas(text("vpn_up_list_sas.txt"))}
    assert set(sas) == {"192.0.2.61", "192.0.2.188"}
    for t in site_vpn["tunnels"]:
        sa = sas[t["remote_outside"]]
        assert sa["ike_state"] == "ESTABLISHED" and sa["ike_version"] == 2
        assert sa["local_outside"] == "198.51.100.24"
        (child,) = sa["children"]
        assert child["state"] == "INSTALLED" and child["reqid"] == t["reqid"] and child["encap"] is True
        assert f"{t['local_inside']}/32" in child["local_ts"] and f"{t['remote_inside']}/32" in child["remote_ts"]
        assert child["packets_out"] > 0


def test_list_sas_and_conns_empty() -> None:
    assert ls.parse_list_sas(text("vpn_empty_list_sas.txt")) == []
    assert ls.parse_list_conns(text("vpn_empty_list_conns.txt")) == []
    assert ls.parse_list_sas(text("vpn_badpsk_list_sas.txt")) == []


def test_list_conns_up() -> None:
    conns = {c["name"]: c for c in ls.parse_list_conns(text("vpn_up_list_conns.txt"))}
    assert set(conns) == {"tun1", "tun2"}
    assert conns["tun1"]["remote_outside"] == ["192.0.2.61"]
    assert conns["tun2"]["children"][0]["remote_ts"][1] == "203.0.113.128/26"


def test_bgp_summary_states() -> None:
    up = ls.parse_bgp_summary(bundle("vpn_up_bgp.json")["summary"])
    assert up["local_asn"] == 65020
    assert {n["state"] for n in up["neighbors"].values()} == {"Established"}
    assert all(n["remote_as"] == 64512 and n["prefixes_received"] == 1 for n in up["neighbors"].values())
    empty = ls.parse_bgp_summary(bundle("vpn_empty_bgp.json")["summary"])
    assert empty == {"local_asn": None, "router_id": None, "neighbors": {}}
    bad = ls.parse_bgp_summary(bundle("dx_badkey_bgp.json")["summary"])
    assert [n["state"] for n in bad["neighbors"].values()] in (["Connect"], ["Active"], ["Idle"])


def test_bgp_routes_advertised_and_rib() -> None:
    b = bundle("vpn_up_bgp.json")
    for n in b["routes"]:
        assert ls.parse_bgp_neighbor_routes(b["routes"][n]) == ["203.0.113.128/26"]
        assert ls.parse_bgp_advertised(b["advertised"][n]) == ["203.0.113.0/26"]
    routes = {r["prefix"]: r for r in ls.parse_ip_route(b["ip_route"])}
    cloud = routes["203.0.113.128/26"]
    assert cloud["protocol"] == "bgp" and cloud["selected"] and cloud["installed"]
    assert cloud["interfaces"] == ["ipsec0"] and len(cloud["nexthops"]) == 2
    assert routes["0.0.0.0/0"]["interfaces"] == ["eth0"]


def test_frr_non_json_is_a_parse_error() -> None:
    with pytest.raises(ls.ParseError, match="not JSON"):
        ls.parse_bgp_summary("% BGP instance not found")


def test_nft_counters() -> None:
    ruleset = {"nftables": [{"metainfo": {}}, {"rule": {"table": "t", "chain": "forward", "handle": 4, "expr": [
        {"match": {}}, {"counter": {"packets": 3, "bytes": 180}}, {"drop": None}]}}]}
    assert ls.parse_nft_counters(json.dumps(ruleset)) == [
        {"table": "t", "chain": "forward", "handle": 4, "verdict": "drop", "packets": 3, "bytes": 180}]


def test_ping_outputs() -> None:
    up = probes.parse_ping(text("ping_up.txt"))
    assert up["transmitted"] == 3 and up["received"] == 3 and up["loss_pct"] == 0.0 and up["rtt_avg_ms"] > 0
    down = probes.parse_ping(text("ping_tunnel_down.txt"))
    assert down["received"] == 0 and down["loss_pct"] == 100.0 and down["errors"] == []
    frag = probes.parse_ping(text("ping_frag_needed.txt"))
    assert frag["mtu"] == 1400 and frag["errors"][0]["from"] == "203.0.113.1"
    local = probes.parse_ping(text("ping_message_too_long.txt"))
    assert local["mtu"] == 1400 and local["errors"][0]["from"] == "local"


def test_ping_unreachable_and_filtered_lines() -> None:
    out = probes.parse_ping("From 198.51.100.1 icmp_seq=1 Destination Net Unreachable\n"
                            "2 packets transmitted, 0 received, +1 errors, 100% packet loss, time 1ms\n")
    assert out["errors"] == [{"from": "198.51.100.1", "error": "Destination Net Unreachable"}]


def test_traceroute_outputs(site_vpn: dict) -> None:
    hops = probes.parse_traceroute(text("traceroute_up.txt"))
    assert [h["ttl"] for h in hops] == [1, 2, 3]
    assert hops[0]["address"] == "203.0.113.1" and hops[-1]["address"] == "203.0.113.140"
    assert hops[1]["address"] in {t["remote_inside"] for t in site_vpn["tunnels"]}
    stuck = probes.parse_traceroute(text("traceroute_no_route.txt"))
    assert stuck[0]["address"] == "203.0.113.1" and all(h["address"] is None for h in stuck[1:])
    marked = probes.parse_traceroute(" 1  192.0.2.1  0.2 ms !X\n")
    assert marked == [{"ttl": 1, "address": "192.0.2.1", "rtt_ms": 0.2, "annotation": "!X"}]


def test_probe_commands_put_the_target_last() -> None:
    assert probes.ping_cmd("203.0.113.140", "203.0.113.2", count=1, size=1372, dont_fragment=True) == [
        "ping", "-n", "-c", "1", "-i", "0.2", "-W", "1", "-I", "203.0.113.2", "-s", "1372", "-M", "do",
        "203.0.113.140"]
    assert probes.traceroute_cmd("203.0.113.140", max_hops=5)[-3:] == ["-m", "5", "203.0.113.140"]
