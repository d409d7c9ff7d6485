#!/usr/bin/python
"""Prove the firewall policy toward the cloud from the LAN side: TCP 443 passes, other ports are blocked."""

from __future__ import annotations

DOCUMENTATION = r"""
module: firewall_check
short_description: Prove TCP 443 from the LAN reaches the cloud host and other ports are blocked
description:
  - Runs on a LAN host (the PACS) or on the gateway with O(source) set to a LAN address.
  - Opens TCP connections to the target on O(allowed_ports) (must connect) and O(blocked_ports)
    (must time out or be rejected as unreachable; a connection or a TCP reset means the firewall
    lets the port through).
  - A failure names the likely cause (firewall blocking 443, route missing, nothing listening,
    firewall not restricting other ports).
version_added: "0.1.0"
author: stowpath developers
extends_documentation_fragment: [stowpath.core.verify, stowpath.core.verify.probe]
options:
  site:
    description:
      - The gateway's masked site model from M(stowpath.core.site_model) (its C(site) key); gives the
        default target (the DICOMweb host) and allowed port (the DICOMweb port).
    type: dict
  allowed_ports:
    description: TCP ports that must connect (default the DICOMweb port, 443).
    type: list
    elements: int
  blocked_ports:
    description: TCP ports that must be blocked.
    type: list
    elements: int
    default: [22, 80, 8443]
  timeout:
    description:
      - Seconds to wait for each TCP connect. The allowed ports are probed first; when they connect, a blocked
        port is declared after 10 of their round trips (at least 0.5 s, at most this), with two SYNs per
        blocked port, all blocked ports in parallel.
    type: float
    default: 2
notes:
  - Supports check mode (the module only probes).
"""

EXAMPLES = r"""
- name: TCP 443 passes, everything else toward the cloud is blocked
  stowpath.core.firewall_check:
    site: "{{ hostvars['cgw'].stowpath_model.site }}"
  delegate_to: pacs
"""

RETURN = r"""
checks:
  description: C(network.firewall.allow.tcp<port>) and C(network.firewall.block.tcp<port>).
  returned: always
  type: list
  elements: dict
target_address:
  description: The target's IPv4 address as resolved on this host.
  returned: always
  type: str
allowed:
  description: Port -> probe result (open, refused, timeout, unreachable, error) for the allowed ports.
  returned: always
  type: dict
blocked:
  description: Port -> probe result for the ports that must be blocked.
  returned: always
  type: dict
"""

import time

from ansible_collections.stowpath.core.plugins.module_utils.verify.firewall import evaluate_firewall
from ansible_collections.stowpath.core.plugins.module_utils.verify.model import expected
from ansible_collections.stowpath.core.plugins.module_utils.verify.probes import probe_ports
from ansible_collections.stowpath.core.plugins.module_utils.verify.result import (
    PROBE_ARGS,
    finish,
    probe_target,
    verify_module,
)


def main() -> None:
    module = verify_module({
        **PROBE_ARGS,
        "allowed_ports": {"type": "list", "elements": "int"},
        "blocked_ports": {"type": "list", "elements": "int", "default": [22, 80, 8443]},
        "timeout": {"type": "float", "default": 2},
    }, required_one_of=("site", "target"))
    p = module.params
    exp = expected(p["site"]) if p["site"] else {}
    allowed = p["allowed_ports"] if p["allowed_ports"] is not None else [int(exp.get("target_port") or 443)]
    blocked = [port for port in p["blocked_ports"] if port not in allowed]
    target, address = probe_target(module, exp)
    start = time.monotonic()
    allowed_res, blocked_res, wait = probe_ports(address, allowed, blocked, p["source"], p["timeout"])
    checks, facts = evaluate_firewall(address, allowed_res, blocked_res, time.monotonic() - start)
    facts["blocked_wait_s"] = wait
    finish(module, "firewall check", checks, {**facts, "target": target, "target_address": address})


if __name__ == "__main__":
    main()
