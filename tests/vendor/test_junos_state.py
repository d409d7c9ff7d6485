"""Junos runtime state (tunnels, BGP) from recorded device replies, over NAPALM (mock driver) and NETCONF.

Fixtures: tests/vendor/fixtures/junos_state/ (SOURCES.md names each origin; ``derived_*`` are edited copies)
and the NAPALM scenarios tests/vendor/fixtures/napalm/junos-state-*/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import napalm
import pytest
from ansible_collections.stowpath.core.plugins.module_utils.parsers import junos_state as J
from ansible_collections.stowpath.core.plugins.module_utils.verify.bgp import evaluate_bgp
from ansible_collections.stowpath.core.plugins.module_utils.verify.model import expected
from ansible_collections.stowpath.core.plugins.module_utils.verify.tunnels import evaluate_tunnels

from .conftest import FIXTURES, make_site

STATE = FIXTURES / "junos_state"


def fx(name: str) -> str:
    return (STATE / name).read_text()


def fxj(name: str) -> Any:
    return json.loads(fx(name))


@pytest.fixture(scope="module")
def exp() -> dict[str, Any]:
    return expected(make_site("junos"))


def statuses(checks: list[dict[str, Any]]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in checks}


def one_peer(peer: str) -> list[dict[str, Any]]:
    return [{"name": "t", "remote_outside": peer, "local_inside": "169.254.21.6", "remote_inside": "169.254.21.5"}]


# ---------------------------------------------------------------- published replies, verbatim
def test_ike_brief_and_detail_from_a_vsrx():
    brief = J.parse_ike_xml(fx("ike_brief_up_vsrx.xml"))
    detail = J.parse_ike_xml(fx("ike_detail_up_vsrx.xml"))
    assert [(s["remote_outside"], s["ike_state"], s["ike_version"]) for s in brief] == \
        [("192.168.1.161", "ESTABLISHED", 2)]
    assert detail[0]["name"] == "lab-ike-gw" and detail[0]["local_outside"] == "192.168.1.160"
    assert detail[0]["lifetime_remaining_s"] == 27590
    assert J.parse_ike_xml(fx("ike_detail_empty_vsrx.xml")) == []
    assert J.parse_ike_xml(fx("ike_not_configured.xml")) == []


def test_ipsec_replies():
    (up,) = J.parse_ipsec_xml(fx("ipsec_up_vsrx.xml"))
    assert up["state"] == "INSTALLED" and up["reqid"] == 131073 and up["remote_gateway"] == "192.168.1.161"
    assert up["spi_in"] == "9b27bae" and up["spi_out"] == "70973f3d" and up["local_ts"] == ["0.0.0.0/0"]
    two = J.parse_ipsec_xml(fx("ipsec_two_tunnels_srx_cluster.xml"))
    assert [(c["remote_gateway"], c["state"]) for c in two] == [("1.1.1.1", "INSTALLED"), ("2.2.2.2", "INSTALLED")]
    assert J.parse_ipsec_xml(fx("ipsec_empty_vsrx.xml")) == []
    assert [c["state"] for c in J.parse_ipsec_xml(fx("ipsec_block_down_handcrafted.xml"))] == ["DOWN"]


def test_selectors_from_a_detail_identity():
    assert J._identity("ipv4_subnet(any:0,[0..7]=0.0.0.0/0)") == ["0.0.0.0/0"]
    assert J._identity("ipv4(any:0,[0..3]=10.0.0.1)") == ["10.0.0.1/32"]


def test_published_vsrx_tunnel_evaluates_up():
    observed = J.combine_tunnels(J.parse_ike_xml(fx("ike_detail_up_vsrx.xml")), J.parse_ipsec_xml(fx("ipsec_up_vsrx.xml")))
    checks, facts = evaluate_tunnels(one_peer("192.168.1.161"), observed)
    assert facts["all_up"] and checks[0]["status"] == "pass"


def test_ike_up_without_ipsec_sa_is_reported_as_such():
    observed = J.combine_tunnels(J.parse_ike_xml(fx("ike_detail_up_vsrx.xml")), J.parse_ipsec_xml(fx("ipsec_empty_vsrx.xml")))
    checks, facts = evaluate_tunnels(one_peer("192.168.1.161"), observed)
    assert not facts["all_up"] and "no CHILD SA is installed" in checks[0]["cause"]
    down = J.combine_tunnels(J.parse_ike_xml(fx("ike_detail_up_vsrx.xml")),
                             J.parse_ipsec_xml(fx("ipsec_block_down_handcrafted.xml")))
    checks, _ = evaluate_tunnels(one_peer("192.168.1.161"), down)
    assert "child state: DOWN" in checks[0]["cause"]


def test_both_down_from_empty_replies(exp):
    observed = J.netconf_parse_tunnels({J.IKE_RPC: fx("ike_detail_empty_vsrx.xml"),
                                        J.IPSEC_RPC: fx("ipsec_empty_vsrx.xml")}, exp)
    checks, facts = evaluate_tunnels(exp["tunnels"], observed)
    assert facts["up_count"] == 0 and all("no IKE SA" in c["cause"] for c in checks)


def test_bgp_summary_established_and_active():
    summary = J.parse_bgp_summary_xml(fx("bgp_summary_established_active.xml"))["neighbors"]
    assert summary["10.3.1.254"]["state"] == "Established" and summary["10.3.1.254"]["uptime_s"] == 12688391
    assert summary["192.169.1.0"]["state"] == "Active" and summary["192.169.1.0"]["uptime_s"] is None
    neighbors = J.parse_bgp_neighbor_xml(fx("bgp_neighbor_information.xml"))
    assert neighbors["local_asn"] == 13335 and neighbors["router_id"] == "192.168.100.2"
    assert neighbors["neighbors"]["192.168.100.1"]["prefixes_sent"] == 111  # "+port" stripped from the key


def test_bgp_not_running(exp):
    answers = {J.BGP_SUMMARY_RPC: fx("bgp_not_running_vsrx.xml"), J.BGP_NEIGHBOR_RPC: fx("bgp_not_running_vsrx.xml"),
               J.ROUTE_RPC.format(prefix="10.100.0.0/24"): fx("derived_route_cloud_none.xml")}
    observed = J.netconf_parse_bgp(answers, exp)
    checks, _ = evaluate_bgp(exp, observed)
    assert statuses(checks)["network.bgp"] == "fail" and "BGP not configured" in checks[0]["cause"]


def test_routes_from_recorded_replies():
    xml_routes = J.parse_route_xml(fx("route_detail.xml"))
    active = [r for r in xml_routes if r["selected"]]
    assert active and all(r["prefix"] == "1.0.4.0/24" and r["protocol"] == "BGP" for r in xml_routes)
    napalm_routes = J.routes_from_napalm(fxj("napalm_get_route_to.json"))
    assert {r["prefix"] for r in napalm_routes} == {"1.0.4.0/24"} and any(r["selected"] for r in napalm_routes)
    summary = J.summary_from_napalm_detail(fxj("napalm_get_bgp_neighbors_detail.json"))
    assert summary["local_asn"] == 13335 and summary["neighbors"]["172.17.17.1"]["state"] == "Established"


# ---------------------------------------------------------------- queries
def test_queries(exp):
    assert J.tunnel_queries(exp) == [J.IKE_CLI, J.IPSEC_CLI]
    assert J.bgp_queries(exp) == [
        "getter:get_bgp_neighbors_detail", "getter:get_route_to:10.100.0.0/24",
        "show route advertising-protocol bgp 169.254.21.5 | display xml",
        "show route advertising-protocol bgp 169.254.173.41 | display xml"]
    assert J.split_getter("getter:get_route_to:2001:db8::/32") == ("get_route_to", ["2001:db8::/32"])
    assert J.split_getter("getter:get_bgp_neighbors_detail") == ("get_bgp_neighbors_detail", [])
    assert J.split_getter(J.IKE_CLI) is None
    rpcs = J.netconf_bgp_queries(exp)
    assert rpcs[:2] == [J.BGP_SUMMARY_RPC, J.BGP_NEIGHBOR_RPC]
    assert "<destination>10.100.0.0/24</destination>" in rpcs[2] and "<neighbor>169.254.173.41</neighbor>" in rpcs[-1]
    static = {**exp, "routing": "static"}
    assert J.bgp_queries(static) == ["getter:get_route_to:10.100.0.0/24"]
    with pytest.raises(ValueError):
        J.bgp_queries({**exp, "neighbors": [{"address": "1.2.3.4; request system reboot"}]})


def test_malformed_reply_is_a_parse_error():
    with pytest.raises(J.ParseError, match="not a Junos XML reply"):
        J.parse_ike_xml("error: unknown command")
    with pytest.raises(J.ParseError, match="answered an error"):
        J.parse_route_xml(fx("bgp_not_running_vsrx.xml").replace("<output>BGP is not running</output>",
                          "<rpc-error><error-message>syntax error</error-message></rpc-error>"))


# ---------------------------------------------------------------- NETCONF answers for the site
NETCONF = {
    "up": ("derived_ike_two_up.xml", "derived_ipsec_two_up.xml", "derived_bgp_summary_up.xml",
           "derived_bgp_neighbor_up.xml", "derived_route_cloud_up.xml", "derived_route_advertised.xml"),
    "degraded": ("derived_ike_one_up.xml", "derived_ipsec_one_up.xml", "derived_bgp_summary_one_active.xml",
                 "derived_bgp_neighbor_one_active.xml", "derived_route_cloud_up.xml", "derived_route_advertised.xml"),
    "down": ("ike_detail_empty_vsrx.xml", "ipsec_empty_vsrx.xml", "derived_bgp_summary_down.xml",
             "derived_bgp_neighbor_down.xml", "derived_route_cloud_none.xml", "derived_route_advertised_none.xml"),
}


def netconf_answers(exp: dict[str, Any], state: str) -> dict[str, Any]:
    ike, ipsec, summary, neighbors, route, adv = NETCONF[state]
    answers = {J.IKE_RPC: fx(ike), J.IPSEC_RPC: fx(ipsec), J.BGP_SUMMARY_RPC: fx(summary),
               J.BGP_NEIGHBOR_RPC: fx(neighbors), J.ROUTE_RPC.format(prefix="10.100.0.0/24"): fx(route)}
    answers.update({q: fx(adv) for q in J.netconf_bgp_queries(exp) if "advertising-protocol" in q})
    assert set(answers) == set(J.netconf_tunnel_queries(exp) + J.netconf_bgp_queries(exp))
    return answers


def verdict(exp: dict[str, Any], tunnels: list[dict[str, Any]], bgp: dict[str, Any]) -> str:
    tchecks, tfacts = evaluate_tunnels(exp["tunnels"], tunnels)
    bchecks, bfacts = evaluate_bgp(exp, bgp)
    route_ok = all(r["ok"] for r in bfacts["routes"])
    if tfacts["all_up"] and bfacts["all_established"] and route_ok and \
            all(c["status"] == "pass" for c in tchecks + bchecks):
        return "up"
    if tfacts["up_count"] and bfacts["established_count"] and route_ok:
        return "degraded"
    return "down"


@pytest.mark.parametrize("state", ["up", "degraded", "down"])
def test_netconf_states(exp, state):
    answers = netconf_answers(exp, state)
    tunnels = J.netconf_parse_tunnels(answers, exp)
    bgp = J.netconf_parse_bgp(answers, exp)
    assert verdict(exp, tunnels, bgp) == state


def test_netconf_degraded_details(exp):
    answers = netconf_answers(exp, "degraded")
    tchecks, _ = evaluate_tunnels(exp["tunnels"], J.netconf_parse_tunnels(answers, exp))
    bchecks, bfacts = evaluate_bgp(exp, J.netconf_parse_bgp(answers, exp))
    st = statuses(tchecks + bchecks)
    assert st["network.tunnel.tun1"] == "pass" and st["network.tunnel.tun2"] == "fail"
    assert st["network.bgp.tun1"] == "pass" and st["network.bgp.tun1.received"] == "pass"
    assert st["network.bgp.tun1.advertised"] == "pass" and st["network.bgp.tun2"] == "fail"
    tun2 = next(c for c in bchecks if c["id"] == "network.bgp.tun2")
    assert "TCP 179 to the neighbor does not complete" in tun2["cause"]
    assert bfacts["local_asn"] == 65020 and bfacts["routes"][0]["interfaces"] == ["st0.1"]


def test_prefix_not_received(exp):
    answers = netconf_answers(exp, "up")
    answers[J.ROUTE_RPC.format(prefix="10.100.0.0/24")] = fx("derived_route_cloud_none.xml")
    checks, _ = evaluate_bgp(exp, J.netconf_parse_bgp(answers, exp))
    st = statuses(checks)
    assert st["network.bgp.tun1"] == "pass" and st["network.bgp.tun1.received"] == "fail"
    assert st["network.route.10.100.0.0/24"] == "fail"


def test_idle_neighbor_cause(exp):
    checks, facts = evaluate_bgp(exp, J.netconf_parse_bgp(netconf_answers(exp, "down"), exp))
    tun2 = next(c for c in checks if c["id"] == "network.bgp.tun2")
    assert facts["established_count"] == 0 and "Idle" in tun2["cause"]


# ---------------------------------------------------------------- NAPALM mock driver, generic executor
def execute(dev: Any, queries: list[str]) -> dict[str, Any]:
    """What a transport executor does: getters by name, everything else through ``cli()``."""
    answers: dict[str, Any] = {}
    for q in queries:
        getter = J.split_getter(q)
        answers[q] = getattr(dev, getter[0])(*getter[1]) if getter else dev.cli([q])[q]
    return answers


def replay(exp: dict[str, Any], scenario: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    path: Path = FIXTURES / "napalm" / scenario
    driver = napalm.get_network_driver("mock")
    dev = driver(hostname="srx.lab.example", username="stowpath", password="not-used",
                 optional_args={"path": str(path)})
    dev.open()
    try:
        tunnel_answers = execute(dev, J.tunnel_queries(exp))
        bgp_answers = execute(dev, J.bgp_queries(exp))
    finally:
        dev.close()
    return J.parse_tunnels(tunnel_answers, exp), J.parse_bgp(bgp_answers, exp)


@pytest.mark.parametrize(("scenario", "state"), [("junos-state-up", "up"), ("junos-state-one-down", "degraded"),
                                                 ("junos-state-down", "down")])
def test_napalm_mock_scenarios(exp, scenario, state):
    tunnels, bgp = replay(exp, scenario)
    assert verdict(exp, tunnels, bgp) == state


def test_napalm_up_details(exp):
    tunnels, bgp = replay(exp, "junos-state-up")
    assert {t["name"] for t in tunnels} == {"stowpath-gw-tun1", "stowpath-gw-tun2"}
    checks, facts = evaluate_bgp(exp, bgp)
    assert facts["local_asn"] == 65020 and facts["all_established"]
    assert bgp["received"] == {"169.254.21.5": ["10.100.0.0/24"], "169.254.173.41": ["10.100.0.0/24"]}
    assert bgp["advertised"]["169.254.21.5"] == ["10.20.0.0/24"]
    assert {r["interfaces"][0] for r in bgp["routes"] if r["selected"]} == {"st0.1"}


def test_napalm_down_details(exp):
    tunnels, bgp = replay(exp, "junos-state-down")
    tchecks, _ = evaluate_tunnels(exp["tunnels"], tunnels)
    bchecks, _ = evaluate_bgp(exp, bgp)
    st = statuses(tchecks + bchecks)
    assert st["network.tunnel.tun1"] == st["network.tunnel.tun2"] == "fail"
    assert st["network.bgp.tun1"] == st["network.bgp.tun2"] == "fail"
    assert st["network.route.10.100.0.0/24"] == "fail"
