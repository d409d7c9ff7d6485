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
notes:
  - Supports check mode (the module only reads).
"""

EXAMPLES = r"""
- name: BGP Established over both tunnels, cloud CIDR received (wait up to 60 s)
  stowpath.core.bgp_status:
    site: "{{ stowpath_model.site }}"
    wait_timeout: 60
  register: stowpath_bgp
"""

RETURN = r"""
checks:
  description: >-
    Checks C(network.bgp.<name>), C(network.bgp.<name>.received), C(network.bgp.<name>.advertised)
    and C(network.route.<cidr>), see docs/ARCHITECTURE.md.
  returned: always
  type: list
  elements: dict
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

from ansible_collections.stowpath.core.plugins.module_utils.verify.bgp import evaluate_bgp
from ansible_collections.stowpath.core.plugins.module_utils.verify.model import expected
from ansible_collections.stowpath.core.plugins.module_utils.verify.session import state_module, verify_state


def main() -> None:
    module = state_module({
        "neighbors": {"type": "list", "elements": "dict"},
        "receive": {"type": "list", "elements": "str"},
        "advertise": {"type": "list", "elements": "str"},
        "cloud_cidrs": {"type": "list", "elements": "str"},
        "link_interfaces": {"type": "list", "elements": "str"},
    }, required_one_of=("site", "neighbors"))
    p = module.params
    exp = expected(p["site"]) if p["site"] else {"routing": "bgp", "connection_type": "vpn", "receive": [],
                                                 "advertise": [], "cloud_cidrs": [], "link_interfaces": []}
    for key in ("neighbors", "receive", "advertise", "cloud_cidrs", "link_interfaces"):
        if p[key] is not None:
            exp[key] = p[key]
    if p["neighbors"] is not None:
        exp["routing"] = "bgp"
    for n in exp.get("neighbors") or []:
        if not n.get("address"):
            module.fail_json(msg=f"neighbor {n!r} has no address")
        n.setdefault("name", n["address"])

    verify_state(module, p["site"], "BGP state", lambda recipe, query: recipe.bgp(query, exp),
                 lambda observed: evaluate_bgp(exp, observed))


if __name__ == "__main__":
    main()
