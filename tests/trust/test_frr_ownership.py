"""The facility's own FRR configuration survives a push: stowpath owns only its sections of frr.conf and
its own lines of a shared ``router bgp``; everything else is merged into what it applies."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.stowpath.core.plugins.module_utils import linux_gateway as lg
from ansible_collections.stowpath.core.plugins.module_utils.drift import frr

INTENDED = """frr defaults traditional
log syslog informational
no ipv6 forwarding
service integrated-vtysh-config
!
interface ipsec0
 ip address 169.254.10.2/30
exit
!
router bgp 65020
 bgp router-id 198.51.100.24
 neighbor 169.254.10.1 remote-as 64512
 neighbor 169.254.10.1 description stowpath tun1 vpn-1
 !
 address-family ipv4 unicast
  network 203.0.113.0/26
  neighbor 169.254.10.1 route-map STOWPATH-FROM-CLOUD in
 exit-address-family
exit
!
ip prefix-list STOWPATH-FROM-CLOUD seq 5 permit 10.100.0.0/16
!
route-map STOWPATH-FROM-CLOUD permit 10
 match ip address prefix-list STOWPATH-FROM-CLOUD
exit
!
"""

# The facility's gateway before onboarding: its own route, prefix-list, interface, logging, a BGP
# neighbor of its own (same ASN) and a stowpath neighbor of an earlier tunnel that no longer exists.
DEVICE = """frr version 8.4.4
frr defaults traditional
hostname cgw
log file /var/log/frr/facility.log
log syslog debugging
ipv6 forwarding
service integrated-vtysh-config
!
ip route 10.9.0.0/16 192.0.2.254
interface eth1
 description facility core
exit
router bgp 65020
 bgp router-id 10.9.0.1
 neighbor 10.9.9.9 remote-as 65099
 neighbor 169.254.99.1 remote-as 64512
 neighbor 169.254.99.1 description stowpath tun9 vpn-old
 !
 address-family ipv4 unicast
  redistribute connected
  neighbor 10.9.9.9 route-map FACILITY-IN in
  neighbor 169.254.99.1 route-map STOWPATH-FROM-CLOUD in
 exit-address-family
exit
ip prefix-list FACILITY-X seq 5 permit 10.9.0.0/16
ip prefix-list STOWPATH-OLD seq 5 permit 10.0.0.0/8
route-map FACILITY-IN permit 10
 match ip address prefix-list FACILITY-X
exit
end
"""


def merged(device: str = DEVICE, previous: list[str] | None = None) -> tuple[str, frr.Ownership]:
    own = frr.Ownership(INTENDED, [device], previous)
    return frr.merge_facility(INTENDED, [device], own), own


def test_the_facility_sections_and_bgp_lines_are_kept():
    text, own = merged()
    lines = text.splitlines()
    for kept in ("hostname cgw", "log file /var/log/frr/facility.log", "ip route 10.9.0.0/16 192.0.2.254",
                 "interface eth1", " description facility core", "ip prefix-list FACILITY-X seq 5 permit 10.9.0.0/16",
                 "route-map FACILITY-IN permit 10", " neighbor 10.9.9.9 remote-as 65099",
                 "  redistribute connected", "  neighbor 10.9.9.9 route-map FACILITY-IN in"):
        assert kept in lines, kept
    # stowpath's lines win where both set the same thing; FRR's own lines are never carried
    for gone in ("log syslog debugging", "ipv6 forwarding", " bgp router-id 10.9.0.1", "frr version 8.4.4", "end"):
        assert gone not in lines, gone
    # stale stowpath objects (a neighbor described "stowpath", STOWPATH-* prefix-lists) are not adopted
    assert "169.254.99.1" not in text and "STOWPATH-OLD" not in text
    # the facility's BGP lines sit inside stowpath's block, in their address family
    bgp = lines[lines.index("router bgp 65020"):]
    bgp = bgp[:bgp.index("exit")]
    af = bgp.index(" address-family ipv4 unicast")
    assert bgp.index(" neighbor 10.9.9.9 remote-as 65099") < af < bgp.index("  redistribute connected")
    assert bgp.index("  redistribute connected") < bgp.index(" exit-address-family")
    assert lines.count("router bgp 65020") == 1


def test_the_merge_is_stable_and_drift_sees_only_stowpath_lines():
    text, own = merged()
    again, own2 = merged(text)
    assert again == text
    # the owned view of the merged config is exactly stowpath's rendered config
    assert frr.owned_text(text, own2) == frr.owned_text(INTENDED, own2)
    assert not own2.owned_line("router bgp 65020", " neighbor 10.9.9.9 remote-as 65099")
    assert own2.owned_line("router bgp 65020", " neighbor 169.254.10.1 remote-as 64512")
    reload_out = ("Lines To Delete\n===============\nrouter bgp 65020\n no neighbor 10.9.9.9 remote-as 65099\n"
                  "no ip prefix-list FACILITY-X seq 5 permit 10.9.0.0/16\n\nLines To Add\n============\n"
                  "router bgp 65020\n neighbor 169.254.10.1 remote-as 64512\n")
    owned = [own2.owned_change(c) for c in frr.parse_reload(reload_out)]
    assert owned == [False, False, True]


def test_a_section_stowpath_rendered_before_is_removed_not_adopted():
    before = INTENDED.replace("ip route", "") + "ip route 10.200.0.0/16 ipsec0\n"
    previous = frr.Ownership(before).fingerprint()
    device = DEVICE + "ip route 10.200.0.0/16 ipsec0\n"
    text, _ = merged(device, previous)
    assert "10.200.0.0/16" not in text
    text, _ = merged(device, None)  # without the record it looks like the facility's own route
    assert "ip route 10.200.0.0/16 ipsec0" in text
    assert all(len(h) == 64 for h in previous) and "10.200" not in "".join(previous)


def test_a_facility_bgp_under_another_asn_is_a_conflict(tmp_path):
    device = DEVICE.replace("router bgp 65020", "router bgp 65001")
    with pytest.raises(frr.OwnershipConflict, match="router bgp 65001"):
        merged(device)

    def run(cmd: list[str]) -> tuple[int, str, str]:
        return (0, device, "") if cmd[0] == "vtysh" else (0, "", "")

    with pytest.raises(lg.GatewayError, match="nothing was changed"):
        lg.frr_with_facility(run, INTENDED, None, str(tmp_path))
    # a router bgp holding only stowpath's old lines is simply replaced
    old = "router bgp 65001\n neighbor 169.254.99.1 remote-as 64512\n neighbor 169.254.99.1 description stowpath x\n"
    assert "65001" not in merged(old)[0]


def test_static_routing_keeps_the_facility_bgp_block():
    static = "frr defaults traditional\n!\nip route 10.100.0.0/16 ipsec0\n!\n"
    own = frr.Ownership(static, [DEVICE])
    text = frr.merge_facility(static, [DEVICE], own)
    assert "router bgp 65020" in text and " neighbor 10.9.9.9 remote-as 65099" in text
    assert "169.254.99.1" not in text and "10.9.0.1" in text  # the facility's own router-id stays with it


def test_plan_writes_the_merged_file_and_records_the_fingerprint(tmp_path: Path):
    p = {"swanctl": str(tmp_path / "s.conf"), "frr": str(tmp_path / "frr.conf"), "nft": str(tmp_path / "n.nft"),
         "nft_main": str(tmp_path / "nftables.conf")}
    Path(p["frr"]).write_text(DEVICE)

    def run(cmd: list[str]) -> tuple[int, str, str]:
        if cmd[0] == "vtysh":
            return 0, DEVICE, ""
        return 0, "", ""

    plan = lg.plan(run, {"swanctl.conf": "x\n", "frr.conf": INTENDED, "nftables.conf": "y\n"}, p, str(tmp_path / "st"))
    written = plan.files[p["frr"]][1].decode()
    assert "ip prefix-list FACILITY-X seq 5 permit 10.9.0.0/16" in written and "hostname cgw" in written
    assert plan.frr_owned == frr.Ownership(INTENDED).fingerprint()


LIST_CONNS = """stowpath-tun1: IKEv2, no reauthentication, rekeying every 28800s
  local:  198.51.100.24
  stowpath-tun1: TUNNEL, rekeying every 3600s
facility-x: IKEv2, no reauthentication
  local:  198.51.100.24
  facility-x-net: TUNNEL, rekeying every 3600s
"""


def test_a_facility_strongswan_connection_is_neither_fingerprinted_nor_initiated():
    assert "facility" not in lg.own_listing(LIST_CONNS) and "stowpath-tun1: TUNNEL" in lg.own_listing(LIST_CONNS)
    assert lg.idle_children(LIST_CONNS, "") == ["stowpath-tun1"]
    started: list[list[str]] = []

    def run(cmd: list[str]) -> tuple[int, str, str]:
        started.append(cmd)
        return (0, LIST_CONNS, "") if cmd[:2] == ["swanctl", "--list-conns"] else (0, "", "")

    before = lg.runtime_state(run)["swanctl"]
    lg.start_idle_children(run)
    assert not any("facility-x-net" in c for c in started)
    lg.reload_swanctl(run, {"stowpath-old", "facility-y"})
    terminated = [c for c in started if "--terminate" in c]
    assert terminated == [["swanctl", "--terminate", "--ike", "stowpath-old", "--force", "--timeout", "5"]]

    def run2(cmd: list[str]) -> tuple[int, str, str]:
        return (0, LIST_CONNS.replace("facility-x", "facility-z"), "") if cmd[1:2] == ["--list-conns"] else (0, "", "")

    assert lg.runtime_state(run2)["swanctl"] == before


def test_file_drift_ignores_the_order_frr_writes_lines_in() -> None:
    """``write memory`` puts a block's neighbors and addresses in FRR's own order: not drift; another value is."""
    from ansible_collections.stowpath.core.plugins.module_utils.drift.frr import canonical

    ours = ["interface ipsec0", " ip address 169.254.1.2/30", " ip address 169.254.2.2/30", "router bgp 65020",
            " neighbor 169.254.1.1 remote-as 64512", " neighbor 169.254.2.1 remote-as 64512",
            " address-family ipv4 unicast", "  neighbor 169.254.1.1 route-map A in", " exit-address-family"]
    written = ["router bgp 65020", " neighbor 169.254.2.1 remote-as 64512", " neighbor 169.254.1.1 remote-as 64512",
               " !", " address-family ipv4 unicast", "  neighbor 169.254.1.1 route-map A in", " exit-address-family",
               "interface ipsec0", " ip address 169.254.2.2/30", " ip address 169.254.1.2/30"]
    assert canonical(ours) == canonical(written)
    moved = [*written[:5], " exit-address-family", "  neighbor 169.254.1.1 route-map A in", *written[7:]]
    assert canonical(ours) != canonical(moved)  # out of the address-family is another line
    assert canonical(ours) != canonical([x.replace("64512", "64513") for x in written])
