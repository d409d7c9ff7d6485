#!/usr/bin/python
"""Diagnose the gateway, routing and firewall layers of a facility's path to the cloud (read-only)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: diagnose_gateway
short_description: Name what is broken on the gateway - IPsec, BGP/routes, firewall (read-only)
description:
  - Runs where the platform spec says (on a Linux gateway itself; for routers on the controller through
    the transport's query executor) and reads, never changes - tunnel SAs, the device's IKE log
    (charon's log file or journal, C(show logging), C(show log kmd)), BGP neighbors with their last
    error, prefixes received/advertised, the route the gateway uses toward the DICOMweb host, and the
    firewall's drop rules/counters (nftables, ACL hit counts, security policy hit counts).
  - Returns the findings of the layers C(gateway), C(routing) and C(firewall) (cause ids in the README's
    table) and the evidence they rest on, secrets masked.
version_added: "0.2.0"
author: stowpath developers
extends_documentation_fragment: [stowpath.core.device]
options:
  site:
    description: The masked site model (M(stowpath.core.site_model)).
    type: dict
    required: true
  log_files:
    description: IKE log files to read before the usual places (strongSwan filelog paths, /var/log/charon.log).
    type: list
    elements: str
    default: []
  target:
    description: The DICOMweb host address to check the route for (default - the URL's host resolved here, else
      the first address of the DICOMweb range).
    type: str
notes:
  - Supports check mode; it never changes anything in either mode.
"""

EXAMPLES = r"""
- name: Gateway, routing and firewall evidence
  stowpath.core.diagnose_gateway:
    site: "{{ stowpath_model.site }}"
  register: diagnose_gateway_result
"""

RETURN = r"""
findings:
  description: Findings, each with layer, cause, severity, title, summary, evidence, action.
  returned: always
  type: list
  elements: dict
facts:
  description: Per-layer facts (tunnel states, BGP neighbors, route, firewall rules that drop).
  returned: always
  type: dict
notes:
  description: What could not be read (missing log, tool), as evidence.
  returned: always
  type: list
  elements: str
elapsed_s:
  description: Seconds spent.
  returned: always
  type: float
"""

import ipaddress
import socket
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stowpath.core.plugins.module_utils.diagnose.gateway import evaluate_gateway
from ansible_collections.stowpath.core.plugins.module_utils.diagnose.routing import evaluate_routing
from ansible_collections.stowpath.core.plugins.module_utils.diagnose.sources import collect_gateway, judge_firewall
from ansible_collections.stowpath.core.plugins.module_utils.redact import mask_secrets
from ansible_collections.stowpath.core.plugins.module_utils.verify.model import expected
from ansible_collections.stowpath.core.plugins.module_utils.verify.session import STATE_ARGS, state_session


def _target(site: dict, given: str | None) -> str | None:
    if given:
        return given
    dw = site.get("dicomweb") or {}
    try:
        return socket.gethostbyname(dw.get("host") or "")
    except OSError:
        pass
    cidrs = dw.get("cidrs") or []
    return str(next(ipaddress.ip_network(cidrs[0]).hosts())) if cidrs else None


def main() -> None:
    module = AnsibleModule(argument_spec={"site": {"type": "dict", "required": True},
                                          "log_files": {"type": "list", "elements": "str", "default": []},
                                          "target": {"type": "str"}, **STATE_ARGS},
                           supports_check_mode=True)
    t0 = time.monotonic()
    site = module.params["site"]
    exp = expected(site)
    for t, st in zip(exp["tunnels"], site.get("tunnels") or [], strict=False):
        t["index"] = st.get("index")
    target = _target(site, module.params["target"])
    with state_session(module, site) as (_recipe, transport):
        ev = collect_gateway(transport.spec, transport.name, transport.query, exp, module.params["log_files"], target)
    findings, facts = [], {}
    gw_findings, facts["gateway"] = evaluate_gateway(exp["tunnels"], ev.get("observed") or [], ev.get("configured"),
                                                     ev.get("ike_log") or [], ev["dialect"])
    down = {t["remote_inside"]: t["name"] for t in exp["tunnels"]
            if t.get("remote_inside") and not facts["gateway"]["tunnels"].get(t["name"], {}).get("up", True)}
    rt_findings, facts["routing"] = evaluate_routing(exp, ev.get("bgp"), ev.get("bgp_details") or {},
                                                     (ev.get("bgp_log") or []), ev.get("route"), down)
    fw_findings, facts["firewall"] = judge_firewall(ev.get("firewall") or {}, exp)
    findings = gw_findings + rt_findings + fw_findings
    secrets = [s for s in module.params.get("secrets") or [] if s]
    result = {"findings": findings, "facts": facts, "notes": ev.get("notes") or [], "dialect": ev["dialect"],
              "elapsed_s": round(time.monotonic() - t0, 3)}
    for f in findings:
        f["summary"] = mask_secrets(f["summary"], secrets)
        f["evidence"] = [mask_secrets(e, secrets) for e in f["evidence"]]
    result["notes"] = [mask_secrets(n, secrets) for n in result["notes"]]
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
