#!/usr/bin/python
"""Prove the path from the LAN side to the cloud host: ping, traceroute hops through the link, path MTU."""

from __future__ import annotations

DOCUMENTATION = r"""
module: path_check
short_description: Ping and traceroute the cloud host through the VPN/DX link, discover the path MTU
description:
  - Runs on a LAN host (the PACS) or on the gateway with O(source) set to a LAN address.
  - Pings the target; runs C(traceroute -I) and passes when a hop lies in a tunnel inside / VIF
    CIDR (the hops prove the traffic goes through the link); discovers the path MTU with DF pings
    (the MTU routers report, else bisection, noting a PMTUD black hole) and compares it with the TCP
    MSS clamp (MSS must be at most path MTU - 40).
  - A failure names the likely cause (route missing, firewall blocking ICMP, tunnel down, path leaking
    around the link, MSS larger than the path carries).
version_added: "0.1.0"
author: stowpath developers
extends_documentation_fragment: [stowpath.core.verify, stowpath.core.verify.probe]
options:
  site:
    description:
      - The gateway's masked site model from M(stowpath.core.site_model) (its C(site) key); gives the
        default target (the DICOMweb host), the link CIDRs and the MSS clamp.
    type: dict
  link_cidrs:
    description: CIDRs whose addresses prove the link when seen as hops (default the site's tunnel inside / VIF CIDRs).
    type: list
    elements: str
  tcp_mss:
    description: The MSS clamp to compare with the path MTU (default the site's C(tcp_mss)).
    type: int
  count:
    description: Echo requests for the ping check.
    type: int
    default: 3
  max_hops:
    description: Traceroute maximum TTL.
    type: int
    default: 15
  pmtu:
    description: Discover the path MTU and compare it with the MSS clamp.
    type: bool
    default: true
  mtu_ceiling:
    description: Largest MTU to try (the LAN interface MTU).
    type: int
    default: 1500
  wait_timeout:
    description: Seconds to keep pinging until a reply arrives (e.g. right after routes appear).
    type: float
    default: 0
  firewall:
    description:
      - Also run the probes of M(stowpath.core.firewall_check) (TCP to the allowed ports passes, the blocked
        ports do not), concurrently with ping, traceroute and the path MTU discovery; its checks and facts
        (C(firewall)) join this module's. One task instead of two for the network verification.
    type: bool
    default: false
  allowed_ports:
    description: With O(firewall), TCP ports that must connect (default the DICOMweb port).
    type: list
    elements: int
  blocked_ports:
    description: With O(firewall), TCP ports that must be blocked.
    type: list
    elements: int
    default: [22, 80, 8443]
  firewall_timeout:
    description: With O(firewall), seconds per TCP connect (see M(stowpath.core.firewall_check) O(timeout)).
    type: float
    default: 2
notes:
  - Supports check mode (the module only probes).
  - Needs C(ping) (iputils) and C(traceroute) on the host.
"""

EXAMPLES = r"""
- name: Path from the PACS host to the cloud goes through the tunnel
  stowpath.core.path_check:
    site: "{{ hostvars['cgw'].stowpath_model.site }}"
  delegate_to: pacs

- name: From the DX router itself, with a LAN source address
  stowpath.core.path_check:
    site: "{{ stowpath_model.site }}"
    source: 203.0.113.2
"""

RETURN = r"""
checks:
  description: C(network.path.ping), C(network.path.traceroute), C(network.path.mtu).
  returned: always
  type: list
  elements: dict
target:
  description: The target as given.
  returned: always
  type: str
target_address:
  description: The target's IPv4 address as resolved on this host.
  returned: always
  type: str
ping:
  description: transmitted, received, loss_pct, rtt_avg_ms, errors.
  returned: always
  type: dict
hops:
  description: Traceroute hop addresses (null for hops that did not answer).
  returned: always
  type: list
  elements: str
link_hops:
  description: Hops inside the link CIDRs.
  returned: always
  type: list
  elements: str
path_mtu:
  description: Discovered path MTU (null when not measured or unknown).
  returned: always
  type: int
max_mss:
  description: Path MTU - 40.
  returned: always
  type: int
firewall:
  description: With O(firewall) - allowed, blocked (port -> probe result) and blocked_wait_s.
  returned: when firewall is true
  type: dict
"""

import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.stowpath.core.plugins.module_utils.checks import check
from ansible_collections.stowpath.core.plugins.module_utils.verify import probes
from ansible_collections.stowpath.core.plugins.module_utils.verify.firewall import evaluate_firewall
from ansible_collections.stowpath.core.plugins.module_utils.verify.model import expected
from ansible_collections.stowpath.core.plugins.module_utils.verify.path import (
    evaluate_mtu,
    evaluate_ping,
    evaluate_traceroute,
)
from ansible_collections.stowpath.core.plugins.module_utils.verify.result import (
    PROBE_ARGS,
    finish,
    probe_target,
    verify_module,
)

COMMAND_TIMEOUT_S = 120


def main() -> None:
    module = verify_module({
        **PROBE_ARGS,
        "link_cidrs": {"type": "list", "elements": "str"},
        "tcp_mss": {"type": "int"},
        "count": {"type": "int", "default": 3},
        "max_hops": {"type": "int", "default": 15},
        "pmtu": {"type": "bool", "default": True},
        "mtu_ceiling": {"type": "int", "default": 1500},
        "wait_timeout": {"type": "float", "default": 0},
        "firewall": {"type": "bool", "default": False},
        "allowed_ports": {"type": "list", "elements": "int"},
        "blocked_ports": {"type": "list", "elements": "int", "default": [22, 80, 8443]},
        "firewall_timeout": {"type": "float", "default": 2},
    }, required_one_of=("site", "target"))
    p = module.params
    exp = expected(p["site"]) if p["site"] else {}
    link_cidrs = p["link_cidrs"] if p["link_cidrs"] is not None else exp.get("link_cidrs", [])
    tcp_mss = p["tcp_mss"] if p["tcp_mss"] is not None else exp.get("tcp_mss")
    target, address = probe_target(module, exp, lambda target: [check(
        "network.path.resolve", "network", f"Resolve {target}", "fail", 0.0, {"target": target},
        f"{target} does not resolve on this host", "add the DICOMweb host to DNS or /etc/hosts")])

    def run(argv: list[str]) -> tuple[int, str, str]:
        # coreutils timeout: a hung ping/traceroute cannot hold the play
        return module.run_command(["timeout", "-k", "5", str(COMMAND_TIMEOUT_S), *argv])

    def ping_until_answered() -> tuple[dict, float]:
        t0 = time.monotonic()
        deadline = t0 + p["wait_timeout"]
        while True:
            rc, out, err = run(probes.ping_cmd(address, p["source"], count=p["count"]))
            ping = probes.parse_ping(out + "\n" + err)
            if ping["received"] or time.monotonic() >= deadline:
                return ping, time.monotonic() - t0
            time.sleep(0.2)

    def traceroute() -> tuple[int, str, str, float]:
        t0 = time.monotonic()
        return (*run(probes.traceroute_cmd(address, p["source"], p["max_hops"])), time.monotonic() - t0)

    def pmtu() -> tuple[dict, float]:
        t0 = time.monotonic()
        return probes.discover_pmtu(run, address, p["source"], ceiling=p["mtu_ceiling"]), time.monotonic() - t0

    def firewall() -> tuple[list, list, float, float]:
        t0 = time.monotonic()
        exp_port = int(exp.get("target_port") or 443)
        allowed = p["allowed_ports"] if p["allowed_ports"] is not None else [exp_port]
        blocked = [port for port in p["blocked_ports"] if port not in allowed]
        return (*probes.probe_ports(address, allowed, blocked, p["source"], p["firewall_timeout"]),
                time.monotonic() - t0)

    # independent probes, concurrently: the slowest one sets the time, not their sum
    with ThreadPoolExecutor(max_workers=4) as pool:
        f_ping, f_trace = pool.submit(ping_until_answered), pool.submit(traceroute)
        f_pmtu = pool.submit(pmtu) if p["pmtu"] else None
        f_fw = pool.submit(firewall) if p["firewall"] else None
        ping, ping_s = f_ping.result()
        rc, out, err, trace_s = f_trace.result()
    checks = [evaluate_ping(address, ping, ping_s)]
    if rc != 0 and not out:
        module.fail_json(msg=f"traceroute failed: {err.strip()}")
    hops = probes.parse_traceroute(out)
    tr_check, tr_facts = evaluate_traceroute(address, hops, link_cidrs, trace_s)
    checks.append(tr_check)

    pm: dict = {"pmtu": None}
    if f_pmtu is not None:
        if ping["received"]:
            pm, pm_s = f_pmtu.result()
            checks.append(evaluate_mtu(address, pm, tcp_mss, pm_s))
        else:
            f_pmtu.result()
            checks.append(check("network.path.mtu", "network", f"Path MTU to {address} vs the TCP MSS clamp",
                                "skip", 0.0, {"reason": "target does not answer pings"}))
    fw_facts = None
    if f_fw is not None:
        allowed_res, blocked_res, wait, fw_s = f_fw.result()
        fw_checks, fw_facts = evaluate_firewall(address, allowed_res, blocked_res, fw_s)
        checks += fw_checks
        fw_facts["blocked_wait_s"] = wait
    facts = {"target": target, "target_address": address, "source": p["source"],
             "ping": {k: ping[k] for k in ("transmitted", "received", "loss_pct", "rtt_avg_ms", "errors")},
             "hops": tr_facts["hops"], "link_hops": tr_facts["link_hops"], "reached": tr_facts["reached"],
             "path_mtu": pm.get("pmtu"), "max_mss": pm["pmtu"] - 40 if pm.get("pmtu") else None,
             "tcp_mss": tcp_mss}
    if fw_facts is not None:
        facts["firewall"] = fw_facts
    finish(module, "path check", checks, facts)


if __name__ == "__main__":
    main()
