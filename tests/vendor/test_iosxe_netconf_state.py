"""IOS-XE operational state over NETCONF (Cisco-IOS-XE-crypto-oper, -bgp-oper, ietf-routing) parsed into the
neutral shapes and judged by the unchanged evaluators. Fixtures: tests/vendor/fixtures/iosxe_netconf/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.parsers import iosxe_netconf as X
from ansible_collections.stowpath.core.plugins.module_utils.verify.bgp import evaluate_bgp
from ansible_collections.stowpath.core.plugins.module_utils.verify.model import expected
from ansible_collections.stowpath.core.plugins.module_utils.verify.tunnels import evaluate_tunnels

from .conftest import make_site

FIX = Path(__file__).parent / "fixtures" / "iosxe_netconf"


@pytest.fixture(scope="module")
def exp() -> dict[str, Any]:
    return expected(make_site())


def fixture(name: str) -> str:
    return (FIX / f"{name}.xml").read_text()


def tunnels(exp: dict[str, Any], name: str) -> tuple[list[dict[str, Any]], dict[str, Any], list[dict[str, Any]]]:
    queries = X.tunnel_queries(exp)
    observed = X.parse_tunnels({q: fixture(name) for q in queries}, exp)
    checks, facts = evaluate_tunnels(exp["tunnels"], observed)
    return checks, facts, observed


def bgp(exp: dict[str, Any], scenario: str) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    answers = {q: fixture(("bgp_" if "bgp-state-data" in q else "rib_") + scenario) for q in X.bgp_queries(exp)}
    observed = X.parse_bgp(answers, exp)
    checks, facts = evaluate_bgp(exp, observed)
    return checks, facts, observed


def status(checks: list[dict[str, Any]]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in checks}


def cause(checks: list[dict[str, Any]], cid: str) -> str:
    return next(str(c.get("cause")) for c in checks if c["id"] == cid)


def test_queries_are_subtree_filters_of_the_published_models(exp):
    assert X.tunnel_queries(exp) == [X.CRYPTO_QUERY]
    for q in X.tunnel_queries(exp) + X.bgp_queries(exp):
        root = X.parse_xml(q)
        assert q.startswith("<") and root.tag.startswith("{")
    assert {X.parse_xml(q).tag for q in X.bgp_queries(exp)} == {
        f"{{{X.BGP_NS}}}bgp-state-data", f"{{{X.RT_NS}}}routing-state"}


def test_both_tunnels_up(exp):
    checks, facts, observed = tunnels(exp, "crypto_both_up")
    assert status(checks) == {"network.tunnel.tun1": "pass", "network.tunnel.tun2": "pass"}
    assert facts["all_up"] and facts["up_count"] == 2
    t1 = next(t for t in observed if t["remote_outside"] == "192.0.2.61")
    assert t1["name"] == "Tunnel1" and t1["ike_state"] == "ESTABLISHED" and t1["ike_version"] == 2
    assert t1["local_outside"] == "198.51.100.24"
    child = t1["children"][0]
    assert child["state"] == "INSTALLED" and child["local_ts"] == ["0.0.0.0/0"] == child["remote_ts"]
    assert facts["tunnels"][0]["ike_algorithms"] == "aes-cbc/hmac-sha256/group14"


def test_both_tunnels_down(exp):
    checks, facts, observed = tunnels(exp, "crypto_both_down")
    assert observed == []  # the VTIs' IPsec identities are there, but no IKE SA
    assert status(checks) == {"network.tunnel.tun1": "fail", "network.tunnel.tun2": "fail"}
    assert cause(checks, "network.tunnel.tun1").startswith("tunnel down: no IKE SA with 192.0.2.61")
    assert not facts["all_up"] and facts["up_count"] == 0


def test_ike_up_but_no_ipsec_sa(exp):
    checks, facts, observed = tunnels(exp, "crypto_ike_up_no_ipsec")
    assert status(checks) == {"network.tunnel.tun1": "fail", "network.tunnel.tun2": "pass"}
    assert cause(checks, "network.tunnel.tun1").startswith(
        "IKE with 192.0.2.61 is up but no CHILD SA is installed (child state: NO_SA)")
    assert facts["up_count"] == 1


def test_one_of_two_down_is_degraded(exp):
    checks, facts, _ = tunnels(exp, "crypto_one_down")
    assert status(checks) == {"network.tunnel.tun1": "pass", "network.tunnel.tun2": "fail"}
    assert "no IKE SA with 192.0.2.188" in cause(checks, "network.tunnel.tun2")
    assert facts["up_count"] == 1 and facts["expected_count"] == 2 and not facts["all_up"]


def test_pending_ike_sa_is_not_established(exp):
    text = fixture("crypto_one_down").replace("crypto-sa-status-active</sa-status>\n        <local-ip-addr>",
                                              "crypto-sa-status-pending</sa-status>\n        <local-ip-addr>")
    observed = X.parse_tunnels({X.CRYPTO_QUERY: text}, exp)
    checks, _ = evaluate_tunnels(exp["tunnels"], observed)
    assert "IKE with 192.0.2.61 is CONNECTING, not ESTABLISHED" in cause(checks, "network.tunnel.tun1")


def test_bgp_established_routes_via_the_tunnel(exp):
    checks, facts, observed = bgp(exp, "established")
    assert set(status(checks).values()) == {"pass"}
    assert {"network.bgp.tun1.received", "network.bgp.tun2.advertised", "network.route.10.100.0.0/24"} <= set(
        status(checks))
    summary = observed["summary"]
    assert summary["local_asn"] == 65020 and summary["router_id"] == "198.51.100.24"
    nb = summary["neighbors"]["169.254.21.5"]
    assert nb == {**nb, "state": "Established", "remote_as": 64512, "uptime_s": 10, "prefixes_received": 1,
                  "prefixes_sent": 1}
    assert observed["received"]["169.254.21.5"] == ["10.100.0.0/24"]
    assert observed["advertised"]["169.254.173.41"] == ["10.20.0.0/24"]
    route = next(r for r in observed["routes"] if r["prefix"] == "10.100.0.0/24")
    assert route["protocol"] == "bgp" and route["interfaces"] == ["Tunnel1"]  # resolved via the connected /30
    assert facts["all_established"] and facts["established_count"] == 2


def test_bgp_idle(exp):
    checks, facts, _ = bgp(exp, "idle")
    st = status(checks)
    assert st["network.bgp.tun1"] == st["network.bgp.tun2"] == "fail"
    assert cause(checks, "network.bgp.tun1").startswith("BGP not established with 169.254.21.5: the session is Idle")
    assert st["network.route.10.100.0.0/24"] == "fail"
    assert cause(checks, "network.route.10.100.0.0/24").startswith("route missing: no route to 10.100.0.0/24")
    assert facts["established_count"] == 0


def test_bgp_one_active(exp):
    checks, facts, _ = bgp(exp, "active")
    st = status(checks)
    assert st["network.bgp.tun1"] == "pass" and st["network.bgp.tun2"] == "fail"
    assert "TCP 179 to the neighbor does not complete" in cause(checks, "network.bgp.tun2")
    assert st["network.route.10.100.0.0/24"] == "pass"
    assert facts["established_count"] == 1 and not facts["all_established"]


def test_bgp_prefix_not_received(exp):
    checks, _, observed = bgp(exp, "prefix_not_received")
    st = status(checks)
    assert st["network.bgp.tun1"] == "pass" and st["network.bgp.tun1.received"] == "fail"
    assert cause(checks, "network.bgp.tun1.received").startswith(
        "route missing: 10.100.0.0/24 not received from 169.254.21.5")
    assert st["network.bgp.tun1.advertised"] == "pass"
    assert st["network.route.10.100.0.0/24"] == "fail"
    assert observed["summary"]["neighbors"]["169.254.21.5"]["prefixes_received"] == 0


def test_no_bgp_configured(exp):
    answers = {q: '<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"/>' for q in X.bgp_queries(exp)}
    checks, _ = evaluate_bgp(exp, X.parse_bgp(answers, exp))
    assert status(checks)["network.bgp"] == "fail"
    assert cause(checks, "network.bgp") == "BGP not configured: the gateway has no BGP instance"


def test_rpc_reply_accepted_and_entities_not_expanded(exp):
    reply = f'<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="1">{fixture("crypto_both_up")}</rpc-reply>'
    assert len(X.parse_tunnels({X.CRYPTO_QUERY: reply}, exp)) == 2
    evil = ('<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            f'<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><crypto-oper-data xmlns="{X.CRYPTO_NS}">'
            "<crypto-ikev2-sa><sa-id>1</sa-id><sa-data><sa-status>&x;</sa-status></sa-data></crypto-ikev2-sa>"
            "</crypto-oper-data></data>")
    observed = X.parse_tunnels({X.CRYPTO_QUERY: evil}, exp)
    assert "root:" not in str(observed)


@pytest.mark.parametrize(("text", "seconds"), [
    ("00:05:12", 312), ("1d02h", 93600), ("2w3d", 1468800), ("never", None), ("", None), ("5x", None)])
def test_uptime(text, seconds):
    assert X.uptime_seconds(text) == seconds
