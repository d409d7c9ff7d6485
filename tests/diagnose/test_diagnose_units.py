"""The diagnose library (plugins/module_utils/diagnose): evidence in, findings out, no lab needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.diagnose import causes, firewall, gateway, path, routing
from ansible_collections.stowpath.core.plugins.module_utils.diagnose.dicomweb import evaluate_http, evaluate_tls
from ansible_collections.stowpath.core.plugins.module_utils.diagnose.pacs import evaluate_pacs
from ansible_collections.stowpath.core.plugins.module_utils.diagnose.report import build, write
from ansible_collections.stowpath.core.plugins.module_utils.diagnose.verdict import verdict

REPO = Path(__file__).resolve().parents[2]
TUNNELS = [{"name": "tun1", "remote_outside": "192.0.2.61", "remote_inside": "169.254.10.1", "index": 1},
           {"name": "tun2", "remote_outside": "192.0.2.188", "remote_inside": "169.254.11.1", "index": 2}]
UP = {"ike_state": "ESTABLISHED", "children": [{"state": "INSTALLED"}]}


def sa(remote: str, state: str = "ESTABLISHED", child: str = "INSTALLED") -> dict:
    return {"remote_outside": remote, "ike_state": state, "children": [{"state": child}] if child else []}


CHARON_AUTH = """\
Nov 28 10:00:01 09[IKE] initiating IKE_SA stowpath-tun1[5] to 192.0.2.61
Nov 28 10:00:01 09[NET] sending packet: from 198.51.100.24[500] to 192.0.2.61[500] (464 bytes)
Nov 28 10:00:01 11[NET] received packet: from 192.0.2.61[4500] to 198.51.100.24[4500] (80 bytes)
Nov 28 10:00:01 11[ENC] parsed IKE_AUTH response 1 [ N(AUTH_FAILED) ]
Nov 28 10:00:01 11[IKE] received AUTHENTICATION_FAILED notify error
""".splitlines()

CHARON_UNREACHABLE = """\
Nov 28 10:00:00 12[IKE] IKE_SA stowpath-tun2[2] established between 198.51.100.24[198.51.100.24]...192.0.2.188[192.0.2.188]
Nov 28 10:01:00 12[IKE] received DELETE for IKE_SA stowpath-tun2[2]
Nov 28 10:01:00 14[IKE] initiating IKE_SA stowpath-tun2[7] to 192.0.2.188
Nov 28 10:01:00 14[NET] sending packet: from 198.51.100.24[500] to 192.0.2.188[500] (464 bytes)
Nov 28 10:01:02 15[IKE] retransmit 1 of request with message ID 0
Nov 28 10:01:02 15[NET] sending packet: from 198.51.100.24[500] to 192.0.2.188[500] (464 bytes)
""".splitlines()

CHARON_DPD = """\
Nov 28 10:00:00 12[IKE] IKE_SA stowpath-tun1[2] established between 198.51.100.24[198.51.100.24]...192.0.2.61[192.0.2.61]
Nov 28 10:05:00 13[IKE] sending DPD request
Nov 28 10:05:00 13[NET] sending packet: from 198.51.100.24[4500] to 192.0.2.61[4500] (80 bytes)
Nov 28 10:05:02 16[IKE] retransmit 1 of request with message ID 9
Nov 28 10:05:02 16[NET] sending packet: from 198.51.100.24[4500] to 192.0.2.61[4500] (80 bytes)
Nov 28 10:05:30 16[IKE] giving up after 3 retransmits
""".splitlines()


@pytest.mark.parametrize(("lines", "dialect", "event"), [
    (CHARON_AUTH, "charon", "auth_failed"),
    (CHARON_UNREACHABLE, "charon", "retransmit_init"),
    (CHARON_DPD, "charon", "dpd_timeout"),
    (["Nov 28 10:00:00 09[IKE] received NO_PROPOSAL_CHOSEN notify error"], "charon", "no_proposal"),
    (["*Nov 28 10:00:00.1: %IKEV2-5-SA_UP: SA UP", "*Nov 28 10:01:00.1: %IKEV2-3-NEG_ABORT: Negotiation aborted "
      "due to ERROR: Auth exchange failed"], "ios", "auth_failed"),
    (["Nov 28 10:00:00 kmd[123]: IKE negotiation failed with error: No proposal chosen"], "kmd", "no_proposal"),
])
def test_last_failure_names_the_reason(lines: list[str], dialect: str, event: str) -> None:
    assert gateway.last_failure(lines, dialect)[0] == event


def test_charon_lines_without_a_name_follow_their_thread() -> None:
    per = gateway.attribute_lines(CHARON_UNREACHABLE, TUNNELS)
    assert any("retransmit 1" in line for line in per["tun2"]) and not per["tun1"]


def test_one_tunnel_down_is_degraded_both_down_is_broken() -> None:
    f, facts = gateway.evaluate_gateway(TUNNELS, [sa("192.0.2.61"), sa("192.0.2.188", "CONNECTING", "")], None,
                                        CHARON_UNREACHABLE, "charon")
    assert [(x["cause"], x["severity"]) for x in f] == [("ike.peer_unreachable", "degraded")]
    assert facts["up"] == 1
    f, _ = gateway.evaluate_gateway(TUNNELS, [], None, CHARON_AUTH, "charon")
    assert {(x["cause"], x["severity"]) for x in f} == {("ike.auth_failed", "broken"), ("ike.tunnel_down", "broken")}
    f, _ = gateway.evaluate_gateway(TUNNELS, [], [], [], "charon")
    assert {x["cause"] for x in f} == {"ike.tunnel_not_configured"}


EXP = {"routing": "bgp", "neighbors": [{"name": "tun1", "address": "169.254.10.1"}],
       "receive": ["203.0.113.128/26"], "advertise": ["203.0.113.0/26"], "cloud_cidrs": ["203.0.113.128/26"],
       "link_interfaces": ["ipsec0"], "target_port": 443}


def bgp(state: str = "Established", received: list[str] | None = None) -> dict:
    return {"summary": {"neighbors": {"169.254.10.1": {"state": state}}},
            "received": {"169.254.10.1": ["203.0.113.128/25"] if received is None else received},
            "advertised": {"169.254.10.1": ["203.0.113.0/26"]}}


@pytest.mark.parametrize(("detail", "logs", "cause"), [
    ({"last_reset": "BGP Notification received", "last_notification": "OPEN Message Error/Bad Peer AS"}, [],
     "bgp.peer_as_mismatch"),
    ({"password": True}, [], "bgp.auth_failed"),
    ({}, ["TCP: MD5 Hash mismatch for (169.254.10.1, 179)->(169.254.10.2, 40000)"], "bgp.auth_failed"),
    ({"last_reset": "Hold Timer Expired"}, [], "bgp.hold_timer_expired"),
    ({}, ["%BGP-3-NOTIFICATION: received from neighbor 169.254.10.1 2/2 (peer in wrong AS) 2 bytes FDEA"],
     "bgp.peer_as_mismatch"),
    ({}, [], "bgp.neighbor_down"),
])
def test_bgp_neighbor_causes(detail: dict, logs: list[str], cause: str) -> None:
    f, _ = routing.evaluate_routing(EXP, bgp("Active"), {"169.254.10.1": detail}, logs, None)
    assert [x["cause"] for x in f] == [cause]


def test_routes_prefixes_and_the_way_out() -> None:
    route = {"target": "203.0.113.140", "dev": "ipsec0", "gateway": "169.254.10.1"}
    assert routing.evaluate_routing(EXP, bgp(), {}, [], route)[0] == []
    f, _ = routing.evaluate_routing(EXP, bgp(received=[]), {}, [], {**route, "dev": "eth0", "gateway": "198.51.100.1"})
    assert [x["cause"] for x in f] == ["bgp.prefix_not_received", "route.via_internet"]
    f, _ = routing.evaluate_routing(EXP, bgp(), {}, [], {"target": "203.0.113.140", "error": "unreachable"})
    assert [x["cause"] for x in f] == ["route.missing"]
    f, facts = routing.evaluate_routing(EXP, bgp("Active"), {}, [], route, {"169.254.10.1": "tun1"})
    assert f == [] and facts["neighbors"]["169.254.10.1"]["consequence_of"] == "tunnel tun1 down"
    r = routing.route_from_table([{"prefix": "0.0.0.0/0", "interfaces": ["eth0"], "nexthops": ["198.51.100.1"]},
                                  {"prefix": "203.0.113.128/25", "interfaces": ["Tunnel1"], "nexthops": ["x"]}],
                                 "203.0.113.140")
    assert r["dev"] == "Tunnel1"


def nft(*items: dict) -> str:
    return json.dumps({"nftables": list(items)})


def chain(table: str, name: str, hook: str, policy: str = "accept") -> dict:
    return {"chain": {"family": "inet", "table": table, "name": name, "hook": hook, "policy": policy}}


def rule(table: str, chain_name: str, *exprs: dict, handle: int = 4) -> dict:
    return {"rule": {"family": "inet", "table": table, "chain": chain_name, "handle": handle, "expr": list(exprs)}}


DPORT443 = {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 443}}
DPORT22 = {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}
TO_OTHER = {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}},
                      "right": {"prefix": {"addr": "10.0.0.0", "len": 8}}}}


def test_foreign_nft_rules_that_drop_443_are_named() -> None:
    text = nft(chain("facility_policy", "forward", "forward"),
               rule("facility_policy", "forward", DPORT443, {"counter": {"packets": 3, "bytes": 180}}, {"drop": None}),
               chain("stowpath", "forward", "forward"),
               rule("stowpath", "forward", {"counter": {"packets": 7, "bytes": 1}}, {"drop": None}))
    f, facts = firewall.evaluate_nft(text, ["203.0.113.0/26"], ["203.0.113.128/26"])
    assert [x["cause"] for x in f] == ["firewall.foreign_rule_drops_443", "firewall.stowpath_drops"]
    assert "inet facility_policy" in f[0]["summary"]
    harmless = nft(chain("other", "forward", "forward"), rule("other", "forward", DPORT22, {"drop": None}),
                   rule("other", "forward", DPORT443, TO_OTHER, {"drop": None}, handle=5),
                   chain("other", "input", "input"), rule("other", "input", DPORT443, {"drop": None}, handle=6))
    assert firewall.evaluate_nft(harmless, ["203.0.113.0/26"], ["203.0.113.128/26"])[0] == []
    shadowed = nft(chain("reference_gw", "forward", "forward"),
                   rule("reference_gw", "forward", DPORT443, {"accept": None}, handle=2),
                   rule("reference_gw", "forward", {"counter": {"packets": 0, "bytes": 0}}, {"drop": None}, handle=3))
    assert firewall.evaluate_nft(shadowed, ["203.0.113.0/26"], ["203.0.113.128/26"])[0] == []
    policy = nft(chain("edge", "fwd", "forward", "drop"))
    assert firewall.evaluate_nft(policy, ["203.0.113.0/26"], ["203.0.113.128/26"])[0][0]["cause"] == \
        "firewall.foreign_rule_drops_443"


def test_router_acl_hits() -> None:
    text = ("Extended IP access list FACILITY-OUT\n    10 deny tcp any any eq 443 (12 matches)\n"
            "    20 permit ip any any (900 matches)\nExtended IP access list STOWPATH-ACL-WAN-1\n"
            "    10 deny ip any any (4 matches)\n")
    f, _ = firewall.evaluate_acls(firewall.parse_acl_hits(text))
    assert [x["cause"] for x in f] == ["firewall.foreign_rule_drops_443", "firewall.stowpath_drops"]


def test_path_loss_blackhole_and_blocked_443() -> None:
    ping = {"transmitted": 20, "received": 20, "loss_pct": 0.0, "rtt_avg_ms": 1.0, "errors": []}
    pmtu_ok = {"pmtu": 1400, "probes": [{"mtu": 1500, "ok": False, "reported_mtu": 1400},
                                         {"mtu": 1400, "ok": True, "reported_mtu": None}]}
    tcp_ok = {"host": "h", "port": 443, "result": "open", "elapsed_s": 0.01}
    assert path.evaluate_path("h", ping, [], pmtu_ok, tcp_ok, 1360, [])[0] == []
    pmtu_bh = {"pmtu": 1330, "probes": [{"mtu": 1500, "ok": False, "reported_mtu": 1400},
                                         {"mtu": 1400, "ok": False, "reported_mtu": None},
                                         {"mtu": 1330, "ok": True, "reported_mtu": None}]}
    f, _ = path.evaluate_path("h", ping, [], pmtu_bh, tcp_ok, 1360, [])
    assert [(x["cause"], x["severity"]) for x in f] == [("path.mtu_blackhole", "broken")]
    assert path.evaluate_path("h", ping, [], pmtu_bh, tcp_ok, 1200, [])[0][0]["severity"] == "info"
    lossy = {**ping, "received": 12, "loss_pct": 40.0}
    f, _ = path.evaluate_path("h", lossy, [], pmtu_bh, tcp_ok, 1360, [])
    assert [x["cause"] for x in f] == ["path.packet_loss"]  # no MTU verdict on a lossy path
    f, _ = path.evaluate_path("h", ping, [], pmtu_ok, {**tcp_ok, "result": "timeout"}, 1360, [])
    assert [x["cause"] for x in f] == ["path.tcp443_blocked"]
    assert path.evaluate_throughput(1.5, 500000, 2.6, 5)[0]["cause"] == "path.low_throughput"
    assert path.evaluate_throughput(80.0, 500000, 0.05, 5) == []


@pytest.mark.parametrize(("code", "cause"), [("expired_certificate", "tls.server_cert_expired"),
                                             ("unknown_ca", "tls.unknown_ca"),
                                             ("hostname_mismatch", "tls.hostname_mismatch"),
                                             ("client_cert_rejected", "tls.client_cert_rejected")])
def test_tls_classes(code: str, cause: str) -> None:
    f, _ = evaluate_tls({"checks": [], "tls": {}, "failure": {"code": code, "cause": "x"}})
    assert [x["cause"] for x in f] == [cause]


def test_tls_expiry_soon_is_degraded() -> None:
    f, facts = evaluate_tls({"checks": [], "failure": None,
                             "tls": {"server_cert": {"subject": "CN=s", "days_left": 5}}})
    assert [(x["cause"], x["severity"]) for x in f] == [("tls.cert_expiring", "degraded")]
    assert facts["days_to_expiry"]["server"] == 5


@pytest.mark.parametrize(("status", "code", "cause"), [
    (400, "bad_request", "http.bad_request"), (401, "auth_rejected", "http.auth_rejected"),
    (404, "wrong_path", "http.path_not_found"), (409, "conflict", "http.conflict"),
    (413, "payload_too_large", "http.payload_too_large"), (415, "unsupported_media_type", "http.media_type"),
    (500, "service_error", "http.service_error"), (503, "service_error", "http.service_unavailable")])
def test_http_status_classes(status: int, code: str, cause: str) -> None:
    f, _ = evaluate_http({"http_status": status, "failure": {"code": code, "cause": "x"}, "timings": {}})
    assert [x["cause"] for x in f] == [cause]


def test_http_partial_and_timeout() -> None:
    f, _ = evaluate_http({"http_status": 202, "failed": {"1.2.3": "272 (0x0110) processing failure"},
                          "failure": None, "timings": {}})
    assert f[0]["cause"] == "http.partial" and "0x0110" in " ".join(f[0]["evidence"])
    f, _ = evaluate_http(None, {"code": "timeout", "phase": "response", "timeout_s": 10,
                                "timings": {"connect_s": 0.01, "tls_s": 0.02, "send_s": 0.0}})
    assert f[0]["cause"] == "http.timeout" and "the time went to the service" in " ".join(f[0]["evidence"])
    assert evaluate_http({"http_status": 200, "failure": None, "timings": {}})[0] == []


def test_pacs_settings() -> None:
    url = "https://dicom.vendor.example/dicomweb/studies"
    dest = {"Url": "https://dicom.vendor.example/dicomweb/", "Timeout": 5, "CertificateFile": "/etc/x.crt"}
    f, facts = evaluate_pacs(url, "cloud", dest, {"/etc/x.crt": False}, [], [])
    assert [x["cause"] for x in f] == ["pacs.timeout_low", "pacs.tls_file_missing"]
    f, _ = evaluate_pacs(url, "cloud", {**dest, "Url": "https://other/x/", "Timeout": 300}, {}, [], [])
    assert [x["cause"] for x in f] == ["pacs.url_mismatch"]
    assert evaluate_pacs(url, "cloud", None, {}, [], [])[0][0]["cause"] == "pacs.destination_missing"
    f, _ = evaluate_pacs(url, "cloud", {**dest, "Timeout": 300, "CertificateFile": None}, {},
                         [{"id": "j", "function_error_code": 17}], ["E ... received HTTP status 404"])
    assert f[0]["cause"] == "pacs.failed_transfers" and f[0]["severity"] == "info"


def test_verdict_primary_is_the_lowest_broken_layer() -> None:
    fs = [causes.finding("http.timeout", "x"), causes.finding("firewall.foreign_rule_drops_443", "y"),
          causes.finding("tls.cert_expiring", "z")]
    v = verdict(fs)
    assert v["status"] == "broken" and v["primary"]["cause"] == "firewall.foreign_rule_drops_443"
    assert next(f for f in v["findings"] if f["cause"] == "http.timeout")["consequence"]
    loss = [causes.finding("path.packet_loss", "l"), causes.finding("tls.handshake_timeout", "t")]
    assert verdict(loss)["primary"]["cause"] == "path.packet_loss"
    assert verdict([causes.finding("firewall.stowpath_drops", "i")])["status"] == "healthy"
    assert verdict([causes.finding("ike.peer_unreachable", "d", severity="degraded")])["status"] == "degraded"


def test_every_cause_is_in_the_readme_table() -> None:
    readme = (REPO / "README.md").read_text()
    missing = [c for c in causes.CAUSES if f"`{c}`" not in readme]
    assert not missing, f"README cause table lacks {missing}"
    with pytest.raises(KeyError):
        causes.finding("no.such.cause", "x")


def test_report_files_refuse_secrets(tmp_path: Path) -> None:
    site = {"site_name": "t-site", "hostname": "gw"}
    doc = build(site, [{"findings": [causes.finding("ike.auth_failed", "psk mismatch", ["line"])], "elapsed_s": 1.5}],
                None)
    files = write(doc, str(tmp_path), str(REPO / "templates" / "report" / "diagnosis.html.j2"))
    data = json.loads(Path(files["diagnosis.json"]).read_text())
    assert data["status"] == "broken" and data["primary"]["cause"] == "ike.auth_failed"
    assert "ike.auth_failed" in Path(files["diagnosis.html"]).read_text()
    from ansible_collections.stowpath.core.plugins.module_utils.report.redaction import SecretLeak

    with pytest.raises(SecretLeak):
        write(doc, str(tmp_path), str(REPO / "templates" / "report" / "diagnosis.html.j2"), ["psk mismatch"])
