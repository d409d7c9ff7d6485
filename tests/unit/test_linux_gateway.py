"""Pure parts of the Linux gateway push (the device-facing parts are tested against the lab)."""

from __future__ import annotations

from ansible_collections.stowpath.core.plugins.module_utils import linux_gateway as lg

FRR_RELOAD_TEST = """
Lines To Delete
===============
router bgp 65020
 no bgp ebgp-requires-policy

Lines To Add
============
router bgp 65020
 neighbor 169.254.1.1 password Secret.Key
ip prefix-list STOWPATH-TO-CLOUD seq 5 permit 203.0.113.0/26
"""


def test_frr_pending_lists_each_change(monkeypatch):
    def run(cmd):
        return (0, FRR_RELOAD_TEST, "") if cmd[0] == lg.FRR_RELOAD else (1, "", "")

    assert lg.frr_pending(run, "") == [
        "- bgp ebgp-requires-policy", "+ neighbor 169.254.1.1 password Secret.Key",
        "+ ip prefix-list STOWPATH-TO-CLOUD seq 5 permit 203.0.113.0/26",
    ]


def test_the_device_hostname_is_kept(tmp_path):
    intended = "frr defaults traditional\nlog syslog informational\n!\n"

    def run(cmd):
        return 1, "", "no vtysh"

    merged, _ = lg.frr_with_facility(run, intended, b"frr defaults traditional\nhostname cgw\n", str(tmp_path))
    assert merged == "frr defaults traditional\nhostname cgw\nlog syslog informational\n!\n"
    assert lg.frr_with_facility(run, intended, None, str(tmp_path))[0] == intended


def test_nft_include_is_added_once():
    main = b"#!/usr/sbin/nft -f\nflush ruleset\n"
    once = lg.with_include(main, "/etc/nftables.d/stowpath.nft")
    assert once.decode().endswith('include "/etc/nftables.d/*.nft"\n')
    assert lg.with_include(once, "/etc/nftables.d/stowpath.nft") == once
    assert lg.with_include(None, "/etc/nftables.d/stowpath.nft").startswith(b"#!/usr/sbin/nft -f\n")


def test_conn_names():
    listing = "stowpath-tun1: IKEv2, no reauthentication\n  local: 1.2.3.4\nstowpath-tun2: IKEv2, x\n"
    assert lg.conn_names(listing) == {"stowpath-tun1", "stowpath-tun2"}
