#!/usr/bin/python
"""Verify the gateway's BGP sessions to the cloud, the routes received and advertised, and the cloud route."""

from __future__ import annotations

DOCUMENTATION = r"""
module: bgp_status
short_description: Verify BGP to the cloud is Established, the cloud CIDR received and routed, the LAN advertised
description:
  - Runs on the gateway. Reads FRR's JSON (C(show bgp ipv4 unicast summary json), per neighbor
    C(routes json) and C(advertised-routes json), C(show ip route json)) on linux_strongswan.
  - Checks every expected neighbor (one per tunnel for VPN, the VIF peer for Direct Connect) is
    Established with the cloud's ASN, that the cloud prefixes (C(accept_prefixes), "orlonger") are
    received from it, that the LAN prefixes are advertised to it (warning when more is advertised),
    and that every DICOMweb CIDR is routed, selected and installed, over the link interface.
  - For a connection with static routing only the route checks run.
  - A failure names the likely cause (neighbor not configured, TCP 179 not completing with the
    tunnel/MD5 hints, ASN mismatch, prefix not received/advertised, route missing or via the wrong
    interface).
  - O(wait_timeout) re-reads until everything passes; C(elapsed_s) tells how long it took.
  - With O(check_tunnels) it first verifies the site's tunnels exactly like M(stowpath.core.tunnel_status)
    (same checks, waiting up to O(tunnel_wait_timeout)), over the same session with the gateway (one
    module run, one device login for a router), then BGP. The tunnel result is returned apart, as
    RV(tunnel_status), so registering both results reports every check once.
  - Read-only; runs in check mode too.
version_added: "0.1.0"
author: stowpath developers
extends_documentation_fragment: [stowpath.core.device, stowpath.core.verify, stowpath.core.verify.wait]
options:
  site:
    description:
      - The masked site model returned by M(stowpath.core.site_model) (its C(site) key). Neighbors,
        prefixes and link interface are derived from it; the options below override parts of it.
    type: dict
  neighbors:
    description: Expected neighbors, each with C(name), C(address) and optionally C(remote_as).
    type: list
    elements: dict
  receive:
    description: Prefixes that must be received from every neighbor (default the site's C(accept_prefixes)).
    type: list
    elements: str
  advertise:
    description: Prefixes that must be advertised to every neighbor (default the site's LAN CIDRs).
    type: list
    elements: str
  cloud_cidrs:
    description: CIDRs that must be routed over the link (default the site's DICOMweb CIDRs).
    type: list
    elements: str
  link_interfaces:
    description: Interfaces the cloud routes must use (default C(ipsec0) for VPN, the DX VLAN interface for DX).
    type: list
    elements: str
  check_tunnels:
    description:
      - Verify the site's tunnels first (the checks of M(stowpath.core.tunnel_status)), over the same session.
      - Needs O(site). With O(fail_on_error) a tunnel failure fails the task before BGP is read (as a failed
        M(stowpath.core.tunnel_status) task would), and the result carries RV(tunnel_status) and no BGP checks.
    type: bool
    default: false
  tunnel_wait_timeout:
    description: With O(check_tunnels), seconds to keep re-reading the tunnels until they are all up (0 reads once).
    type: float
    default: 0
notes:
  - Supports check mode (the module only reads).
"""

EXAMPLES = r"""
- name: BGP Established over both tunnels, cloud CIDR received (wait up to 60 s)
  stowpath.core.bgp_status:
    site: "{{ stowpath_model.site }}"
    wait_timeout: 60
  register: stowpath_bgp

- name: Tunnels up (wait up to 30 s), then BGP (up to 60 s), in one task
  stowpath.core.bgp_status:
    site: "{{ stowpath_model.site }}"
    check_tunnels: true
    tunnel_wait_timeout: 30
    wait_timeout: 60
    fail_on_error: false
  register: stowpath_bgp

- name: The tunnel result on its own, as tunnel_status returns it
  ansible.builtin.set_fact:
    stowpath_tunnels: "{{ stowpath_bgp.tunnel_status }}"
"""

RETURN = r"""
checks:
  description: >-
    Checks C(network.bgp.<name>), C(network.bgp.<name>.received), C(network.bgp.<name>.advertised)
    and C(network.route.<cidr>), see docs/ARCHITECTURE.md. Never the tunnel checks (those are in
    RV(tunnel_status)).
  returned: always
  type: list
  elements: dict
tunnel_status:
  description: >-
    With O(check_tunnels), the tunnel result exactly as M(stowpath.core.tunnel_status) returns it -
    changed, checks (C(network.tunnel.<name>)), tunnels, all_up, up_count, expected_count,
    unexpected_sas, elapsed_s, rounds.
  returned: when O(check_tunnels) is true
  type: dict
neighbors:
  description: >-
    Per expected neighbor - name, address, expected_remote_as, remote_as, state, uptime_s,
    prefixes_received, prefixes_sent.
  returned: always
  type: list
  elements: dict
routes:
  description: Per cloud CIDR - cidr, ok, interfaces, protocols of the installed routes.
  returned: always
  type: list
  elements: dict
all_established:
  description: Every expected neighbor is Established.
  returned: always
  type: bool
established_count:
  description: Number of expected neighbors Established.
  returned: always
  type: int
expected_count:
  description: Number of expected neighbors.
  returned: always
  type: int
local_asn:
  description: The gateway's BGP ASN (null when BGP is not configured).
  returned: always
  type: int
elapsed_s:
  description: Seconds spent reading/waiting until the final evaluation.
  returned: always
  type: float
rounds:
  description: How many times the state was read.
  returned: always
  type: int
"""

from ansible_collections.stowpath.core.plugins.module_utils.verify.bgp import OVERRIDES
from ansible_collections.stowpath.core.plugins.module_utils.verify.session import (
    bgp_state_check,
    state_module,
    tunnel_state_check,
    verify_state,
)


def main() -> None:
    module = state_module({
        "neighbors": {"type": "list", "elements": "dict"},
        "receive": {"type": "list", "elements": "str"},
        "advertise": {"type": "list", "elements": "str"},
        "cloud_cidrs": {"type": "list", "elements": "str"},
        "link_interfaces": {"type": "list", "elements": "str"},
        "check_tunnels": {"type": "bool", "default": False},
        "tunnel_wait_timeout": {"type": "float", "default": 0},
    }, required_one_of=("site", "neighbors"))
    p = module.params
    if p["check_tunnels"] and not p["site"]:
        module.fail_json(msg="check_tunnels needs site (the expected tunnels are the site's)")
    try:
        step = bgp_state_check(p["site"], {k: p[k] for k in OVERRIDES}, p["wait_timeout"])
        tunnels = tunnel_state_check(p["site"], None, p["tunnel_wait_timeout"]) if p["check_tunnels"] else None
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    verify_state(module, p["site"], step, before=("tunnel_status", tunnels) if tunnels else None)


if __name__ == "__main__":
    main()
