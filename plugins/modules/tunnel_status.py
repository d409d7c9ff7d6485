#!/usr/bin/python
"""Verify every expected IPsec tunnel on the gateway is ESTABLISHED with an installed CHILD SA."""

from __future__ import annotations

DOCUMENTATION = r"""
module: tunnel_status
short_description: Verify every expected IPsec tunnel is ESTABLISHED with an installed CHILD SA
description:
  - Runs on the gateway. Reads the gateway's own IPsec state (C(swanctl --list-sas --raw) and
    C(swanctl --list-conns --raw) over vici on linux_strongswan) and compares it with the tunnels of
    the site model, matched by the cloud's outside address.
  - A tunnel passes when its IKE SA is ESTABLISHED and a CHILD SA is INSTALLED whose traffic
    selectors carry the tunnel inside addresses (so BGP can run over it).
  - A failure names the likely cause (not configured, IKE not answered or rejected, child SA
    rejected, selectors without the inside addresses) and what to do.
  - O(wait_timeout) re-reads the state until every tunnel is up, so a playbook needs no retry loop
    right after a push; C(elapsed_s) then tells how long the tunnels took.
  - Read-only; runs in check mode too.
version_added: "0.1.0"
author: stowpath developers
extends_documentation_fragment: [stowpath.core.device, stowpath.core.verify, stowpath.core.verify.wait]
options:
  site:
    description:
      - The masked site model returned by M(stowpath.core.site_model) (its C(site) key); the expected
        tunnels are its C(tunnels).
    type: dict
  tunnels:
    description:
      - Expected tunnels instead of (or without) O(site), each with C(name), C(remote_outside) and
        optionally C(local_outside), C(local_inside), C(remote_inside).
    type: list
    elements: dict
notes:
  - Supports check mode (the module only reads).
"""

EXAMPLES = r"""
- name: Both tunnels up (wait up to 30 s after the push)
  stowpath.core.tunnel_status:
    site: "{{ stowpath_model.site }}"
    wait_timeout: 30
  register: stowpath_tunnels

- name: Report without failing
  stowpath.core.tunnel_status:
    tunnels:
      - {name: tun1, remote_outside: 192.0.2.61}
    fail_on_error: false
"""

RETURN = r"""
checks:
  description: One check per expected tunnel (id C(network.tunnel.<name>)), see docs/ARCHITECTURE.md.
  returned: always
  type: list
  elements: dict
tunnels:
  description: >-
    Per tunnel - name, remote_outside, configured, device_name, ike_state, ike_version, established_s,
    ike_algorithms, child_state, reqid, local_ts, remote_ts, bytes_in/out, packets_in/out, up.
  returned: always
  type: list
  elements: dict
all_up:
  description: Every expected tunnel is up.
  returned: always
  type: bool
up_count:
  description: Number of expected tunnels that are up.
  returned: always
  type: int
expected_count:
  description: Number of expected tunnels.
  returned: always
  type: int
unexpected_sas:
  description: IKE SAs on the gateway to peers the site does not expect.
  returned: always
  type: list
  elements: str
elapsed_s:
  description: Seconds spent reading/waiting until the final evaluation.
  returned: always
  type: float
rounds:
  description: How many times the state was read.
  returned: always
  type: int
"""

from ansible_collections.stowpath.core.plugins.module_utils.verify.session import (
    state_module,
    tunnel_state_check,
    verify_state,
)


def main() -> None:
    module = state_module({"tunnels": {"type": "list", "elements": "dict"}}, required_one_of=("site", "tunnels"))
    p = module.params
    try:
        step = tunnel_state_check(p["site"], p["tunnels"], p["wait_timeout"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    verify_state(module, p["site"], step)


if __name__ == "__main__":
    main()
