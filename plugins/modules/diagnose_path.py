#!/usr/bin/python
"""Diagnose the path from the facility LAN to the DICOMweb host: loss, hops, path MTU, TCP 443 (read-only)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: diagnose_path
short_description: Ping, traceroute, path MTU vs the MSS clamp and TCP 443 from the LAN side (read-only)
description:
  - Runs on a LAN host (or the gateway with a LAN O(source) address) and probes the DICOMweb host - a burst
    of pings (loss, RTT), an ICMP traceroute (which hops, through the tunnel/VIF or not), path MTU discovery
    with DF pings (a black hole for large packets is a finding of its own) and one TCP connect to the URL's
    port with its time.
  - Returns the findings of the C(path) layer and the evidence.
version_added: "0.2.0"
author: stowpath developers
options:
  site:
    description: The masked site model.
    type: dict
    required: true
  target:
    description: Address to probe (default - the DICOMweb URL's host, resolved here).
    type: str
  source:
    description: LAN source address (when running on the gateway).
    type: str
  ping_count:
    description: Pings in the loss burst (0.05 s apart).
    type: int
    default: 20
  tcp_timeout:
    description: Seconds for the TCP connect.
    type: float
    default: 3
notes:
  - Supports check mode; it never changes anything.
"""

EXAMPLES = r"""
- name: Path evidence from the PACS host
  stowpath.core.diagnose_path:
    site: "{{ stowpath_model.site }}"
  delegate_to: "{{ pacs_host }}"
"""

RETURN = r"""
findings:
  description: Findings of the path layer.
  returned: always
  type: list
  elements: dict
facts:
  description: Loss, RTT, hops, MTU, TCP connect.
  returned: always
  type: dict
elapsed_s:
  description: Seconds spent.
  returned: always
  type: float
"""

import socket
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stowpath.core.plugins.module_utils.diagnose.path import evaluate_path
from ansible_collections.stowpath.core.plugins.module_utils.verify.model import expected
from ansible_collections.stowpath.core.plugins.module_utils.verify.probes import (
    discover_pmtu,
    parse_ping,
    parse_traceroute,
    tcp_probe,
    traceroute_cmd,
)


def main() -> None:
    module = AnsibleModule(argument_spec={
        "site": {"type": "dict", "required": True}, "target": {"type": "str"}, "source": {"type": "str"},
        "ping_count": {"type": "int", "default": 20}, "tcp_timeout": {"type": "float", "default": 3}},
        supports_check_mode=True)
    p = module.params
    t0 = time.monotonic()
    exp = expected(p["site"])
    target = p["target"]
    if not target:
        try:
            target = socket.gethostbyname(exp["target_host"])
        except OSError as exc:
            module.fail_json(msg=f"{exp['target_host']} does not resolve on this host ({exc}): give target")

    def run(argv: list[str]) -> tuple[int, str, str]:
        rc, out, err = module.run_command(["timeout", "-k", "5", "120", *argv])
        return rc, out, err

    ping_argv = ["ping", "-n", "-q", "-c", str(p["ping_count"]), "-i", "0.05", "-W", "1"]
    if p["source"]:
        ping_argv += ["-I", p["source"]]
    _, out, err = run([*ping_argv, target])
    ping = parse_ping(out + "\n" + err)
    hops = None
    if ping.get("received"):
        _, tout, _ = run(traceroute_cmd(target, p["source"], max_hops=8))
        hops = parse_traceroute(tout)
    pmtu = discover_pmtu(run, target, p["source"]) if ping.get("received") else None
    tcp = tcp_probe(target, int(exp.get("target_port") or 443), p["source"], p["tcp_timeout"])
    findings, facts = evaluate_path(target, ping, hops, pmtu, tcp, exp.get("tcp_mss"), exp.get("link_cidrs") or [])
    module.exit_json(changed=False, findings=findings, facts=facts, elapsed_s=round(time.monotonic() - t0, 3))


if __name__ == "__main__":
    main()
