"""Pure parts of the drift engine: FRR ownership and diffs, secret masking, nft normalisation,
backups with rotation, the fleet report writers, the vendor section split."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.drift import backup, fleet, frr, linux, model, vendor
from ansible_collections.stowpath.core.plugins.module_utils.drift.secrets import DIFFERS, artifact_secrets, mask_marked
from ansible_collections.stowpath.core.plugins.module_utils.report.redaction import SecretLeak, sanitize
from stowpath_testlib import REPO

# Real `frr-reload.py --test --stdout` output (FRR 8.4, lab gateway): a deleted neighbor, a removed
# prefix-list, interface addresses and a static route that is not stowpath's.
RELOAD = """
Lines To Delete
===============
interface ipsec0
 no ip address 169.254.195.246/30
no route-map STOWPATH-FROM-CLOUD permit 10
router bgp 65020
 no neighbor 169.254.195.245 remote-as 64512
router bgp 65020
 address-family ipv4 unicast
  no neighbor 169.254.29.213 route-map STOWPATH-TO-CLOUD out
no ip route 203.0.113.192/27 blackhole

Lines To Add
============
router bgp 65020
 neighbor 169.254.1.1 remote-as 64512
no ip prefix-list STOWPATH-TO-CLOUD seq 5 permit 203.0.113.0/26
"""


def test_parse_reload_keeps_contexts_and_direction():
    changes = frr.parse_reload(RELOAD)
    got = [(c.op, c.top, c.line) for c in changes]
    assert got == [
        ("-", "interface ipsec0", " ip address 169.254.195.246/30"),
        ("-", "route-map STOWPATH-FROM-CLOUD permit 10", "route-map STOWPATH-FROM-CLOUD permit 10"),
        ("-", "router bgp 65020", " neighbor 169.254.195.245 remote-as 64512"),
        ("-", "router bgp 65020", "  neighbor 169.254.29.213 route-map STOWPATH-TO-CLOUD out"),
        ("-", "ip route 203.0.113.192/27 blackhole", "ip route 203.0.113.192/27 blackhole"),
        ("+", "router bgp 65020", " neighbor 169.254.1.1 remote-as 64512"),
        ("-", "ip prefix-list STOWPATH-TO-CLOUD seq 5 permit 203.0.113.0/26",
         "ip prefix-list STOWPATH-TO-CLOUD seq 5 permit 203.0.113.0/26"),
    ]
    assert changes[3].context == ["router bgp 65020", " address-family ipv4 unicast"]
    assert frr.parse_reload("\nLines To Delete\n===============\n\nLines To Add\n============\n") == []


def test_owned_sections_follow_the_rendered_config(artifacts):
    owned = frr.owned_predicate(artifacts["frr.conf"])
    for key in ("router bgp 65020", "interface xfrm-tun1", "no route-map STOWPATH-FROM-CLOUD permit 10",
                "ip prefix-list STOWPATH-TO-CLOUD seq 5 permit 10.20.0.0/24"):
        assert owned(key), key
    for key in ("ip route 203.0.113.192/27 blackhole", "interface eth1", "log syslog informational",
                "router bgp 65020 vrf facility", "route-map FACILITY permit 10"):
        assert not owned(key), key
    static = frr.owned_predicate("ip route 10.100.0.0/24 ipsec0\n")
    assert static("ip route 10.100.0.0/24 ipsec0 250") and not static("ip route 10.99.0.0/24 ipsec0")


def test_frr_diff_and_remediation_commands_are_exact():
    changes = [c for c in frr.parse_reload(RELOAD) if c.top == "router bgp 65020"]
    diff = frr.render_changes(changes, "running", "intended")
    assert diff.splitlines() == [
        "--- running", "+++ intended", " router bgp 65020",
        "- neighbor 169.254.195.245 remote-as 64512", "  address-family ipv4 unicast",
        "-  neighbor 169.254.29.213 route-map STOWPATH-TO-CLOUD out", " router bgp 65020",
        "+ neighbor 169.254.1.1 remote-as 64512"]
    assert frr.vtysh_commands(changes)[0] == (
        "vtysh -c 'configure terminal' -c 'router bgp 65020' -c 'no neighbor 169.254.195.245 remote-as 64512'")


def test_the_facility_sections_are_kept_by_a_remediation(artifacts):
    intended = artifacts["frr.conf"]
    running = ("frr version 8.4.4\nfrr defaults traditional\nhostname cgw\n!\nip route 203.0.113.192/27 blackhole\n"
               "interface eth1\n description facility LAN\nexit\n" + intended)
    own = frr.Ownership(intended, [running])
    merged = frr.merge_facility(intended, [running, ""], own)
    kept = [b.key for b in frr.blocks(merged) if not own(b.key) and not frr.GLOBAL_LINES.match(b.key)]
    assert kept == ["ip route 203.0.113.192/27 blackhole", "interface eth1"]
    assert "hostname cgw" in merged.splitlines()


def test_masking_marks_a_changed_secret_without_revealing_it(artifacts, secrets):
    known = artifact_secrets(artifacts.values())
    assert set(secrets) <= set(known)
    device = artifacts["swanctl.conf"].replace(secrets[0], "Changed.By.Hand.0123456789abcdef")
    masked = mask_marked(device, known)
    assert "Changed.By.Hand" not in masked and not any(s in masked for s in secrets)
    assert masked.count(DIFFERS) == 1
    assert mask_marked(masked, known) == masked  # idempotent
    assert sanitize({"diff": masked})["diff"] == masked  # the report's redaction keeps the marker
    assert mask_marked("neighbor 169.254.1.1 password Other.Key.42\n", []).endswith(f"********{DIFFERS}\n")


def test_nft_normalise_drops_counters_and_handles():
    listing = ('\t\tip daddr @x counter packets 12 bytes 3400 drop comment "c" # handle 7\n'
               "\t\toifname \"ipsec0\" tcp flags syn tcp option maxseg size set 1360 # handle 9\n")
    assert linux.nft_normalise(listing) == ['\t\tip daddr @x counter drop comment "c"',
                                            '\t\toifname "ipsec0" tcp flags syn tcp option maxseg size set 1360']


def test_intended_conns(artifacts):
    assert linux.intended_conns(artifacts["swanctl.conf"]) == ["stowpath-tun1", "stowpath-tun2"]


@pytest.mark.root
def test_intended_nft_table_lists_like_nft(artifacts):
    """The real nft loads the rendered table into a scratch namespace and lists it canonically."""
    if os.geteuid() != 0:
        pytest.skip("unshare --net needs root")
    import subprocess

    def run(cmd: list[str]) -> tuple[int, str, str]:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout, p.stderr

    listing = linux.nft_intended_listing(run, artifacts["nftables.conf"])
    assert listing is not None and listing.startswith("table inet stowpath {")
    norm = linux.nft_normalise(listing)
    assert any("maxseg size set 1379" in line for line in norm)
    assert not any("packets" in line for line in norm)
    assert linux.nft_intended_listing(run, "table inet stowpath { chain c { bogus } }\n") is None


def test_backups_rotate_and_refuse_odd_names(tmp_path: Path):
    for i in range(5):
        backup.write_backup(str(tmp_path), "harbor", "gw1", {"a.txt": f"v{i}\n"}, {"platform": "x"}, keep=3,
                            now=1_800_000_000 + (i // 2))  # two per second: suffixed, still ordered
    base = tmp_path / "harbor" / "gw1"
    names = backup.backups(str(base))
    assert len(names) == 3
    assert [(base / n / "a.txt").read_text() for n in names] == ["v2\n", "v3\n", "v4\n"]
    manifest = json.loads((base / names[-1] / "manifest.json").read_text())
    assert manifest["files"]["a.txt"]["bytes"] == 3 and manifest["host"] == "gw1"
    assert oct((base / names[-1]).stat().st_mode & 0o777) == "0o700"
    assert oct((base / names[-1] / "a.txt").stat().st_mode & 0o777) == "0o600"
    with pytest.raises(ValueError):
        backup.write_backup(str(tmp_path), "../etc", "gw1", {}, {})
    with pytest.raises(ValueError):
        backup.write_backup(str(tmp_path), "harbor", "gw1", {"../x": ""}, {})


def _hosts() -> list[dict]:
    drifted = {"items": [linux.item("drift.running.firewall.nft_table", "firewall", "running", "nft table",
                                    "nft table differs", "-ip saddr 0.0.0.0/0 accept\n", ["nft -f /x"],
                                    ["on the device, not intended: ip saddr 0.0.0.0/0 accept"])],
               "checks": [{"id": "network.bgp.tun2", "group": "network", "title": "BGP tun2", "status": "fail",
                           "duration_s": 0, "detail": {}, "cause": "Idle", "action": "x"}]}
    return [{"host": "gw-a", "site_name": "harbor", "platform": "linux_strongswan", "result": {"items": []}},
            {"host": "gw-b", "site_name": "bay", "platform": "linux_strongswan", "result": drifted},
            {"host": "gw-c", "site_name": "cove", "platform": "cisco_iosxe",
             "result": {"unreachable": True, "msg": "ssh: connect to host x port 22: Connection refused"}},
            {"host": "gw-d", "site_name": "dune", "platform": "linux_strongswan",
             "result": {"failed": True, "msg": "python3 not found"}}]


def test_verdicts_and_fleet_report(tmp_path: Path):
    f = fleet.build_fleet(_hosts())
    assert [(s["host"], s["status"]) for s in f["sites"]] == [
        ("gw-c", "unreachable"), ("gw-d", "unreachable"), ("gw-b", "drifted"), ("gw-a", "in_sync")]
    assert f["summary"] == {"total": 4, "in_sync": 1, "drifted": 1, "unreachable": 2}
    b = next(s for s in f["sites"] if s["host"] == "gw-b")
    assert b["runtime_problems"] == ["network.bgp.tun2"] and b["commands"] == ["nft -f /x"]
    assert "1 owned section(s) drifted (firewall)" in b["summary"]
    files = fleet.write_fleet(f, str(tmp_path), str(REPO / "templates" / "report" / "fleet.html.j2"))
    assert sorted(files) == ["drift.json", "drift.xml", "index.html"]
    root = ET.parse(files["drift.xml"]).getroot()
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert suites["harbor.gw-a"].get("failures") == "0"
    assert suites["bay.gw-b"].get("failures") == "2"  # the nft section and the BGP session
    assert suites["cove.gw-c"].get("failures") == "1"
    html = Path(files["index.html"]).read_text()
    assert "ip saddr 0.0.0.0/0 accept" in html and "<script" not in html and "Connection refused" in html


def test_fleet_report_refuses_a_secret(tmp_path: Path):
    hosts = _hosts()
    hosts[1]["result"]["items"][0]["title"] = "leaks Secret.Value.123"
    f = fleet.build_fleet(hosts)
    with pytest.raises(SecretLeak):
        fleet.write_fleet(f, str(tmp_path / "r"), None, ["Secret.Value.123"], formats=["json"])
    assert not (tmp_path / "r" / "drift.json").exists()
    masked = fleet.build_fleet(hosts, ["Secret.Value.123"])
    assert "Secret.Value.123" not in json.dumps(masked)


def test_model_counts_a_certificate_warning_as_runtime_drift():
    host = {"host": "gw", "items": [], "checks": [{"id": "tls.material.client_cert", "group": "tls",
                                                   "title": "t", "status": "warn"}]}
    assert model.verdict(host) == model.DRIFTED
    assert model.verdict({"host": "gw", "items": [], "checks": []}) == model.IN_SYNC


IOS_DIFF = """interface Tunnel1
  - ip tcp adjust-mss 1300
  + ip tcp adjust-mss 1379
router bgp 65020
  + neighbor 169.254.21.5 remote-as 64512
"""


def test_vendor_sections_split_diff_and_commands():
    cmds = ["interface Tunnel1", "  ip tcp adjust-mss 1379", "  exit", "router bgp 65020",
            "  neighbor 169.254.21.5 remote-as 64512", "  exit"]
    parts = vendor.split_sections(IOS_DIFF, cmds)
    assert [(h, c) for h, _, c in parts] == [("interface Tunnel1", cmds[:3]), ("router bgp 65020", cmds[3:])]
    assert vendor.applied_before("interface Tunnel1", "interface Tunnel1\n ip tcp adjust-mss 1379\n", "netmiko")
    assert not vendor.applied_before("interface Tunnel9", "interface Tunnel1\n", "netmiko")
    assert not vendor.applied_before("interface Tunnel1", None, "netmiko")


def test_split_json_undoes_vtysh_concatenation():
    text = '{\n  "a":1\n}\n{\n  "warning":"No such neighbor in this view/vrf"\n}\n[]\n'
    assert linux.split_json(text) == ['{\n  "a":1\n}', '{\n  "warning":"No such neighbor in this view/vrf"\n}', "[]"]
    assert linux.split_json("") == []


def test_a_new_section_is_shown_once():
    out = "Lines To Add\n============\nroute-map STOWPATH-X permit 10\nroute-map STOWPATH-X permit 10\n match ip address prefix-list P\n"
    assert frr.render_changes(frr.parse_reload(out), "a", "b").splitlines()[2:] == [
        "+route-map STOWPATH-X permit 10", "+ match ip address prefix-list P"]
