#!/usr/bin/python
"""Back up a linux_strongswan gateway and compare the parts stowpath owns with the intended configuration."""

from __future__ import annotations

import shlex

DOCUMENTATION = r"""
module: drift_linux
short_description: Back up a Linux gateway and find drift in the sections stowpath owns
description:
  - Runs on a linux_strongswan gateway (strongSwan swanctl + FRR + nftables) over SSH and changes nothing.
  - Backs up the running state (C(swanctl --list-conns), C(swanctl --list-sas), C(vtysh show running-config),
    C(nft list ruleset)) and the files stowpath owns, every secret masked; everything is read by one shell
    script (the same one M(stowpath.core.drift_gateway) runs over SSH and compares on the controller, which is
    what C(playbooks/drift-check.yml) uses).
  - Compares only what stowpath owns with the rendered artifacts, using the platform's own diff where there is
    one - the owned files; FRR's running config (its owned sections line by line; when they differ,
    C(frr-reload.py --test) restricted to stowpath's sections
    (C(router bgp), its interfaces, C(STOWPATH-*) prefix-lists and route-maps, its static routes)); the table
    C(inet stowpath) against the intended file loaded by nft in a scratch network namespace; the loaded
    C(stowpath-*) connections.
  - Everything else on the device (other FRR sections, other nft tables, kernel routes) is ignored and listed
    in C(ignored) when FRR's diff mentions it.
  - Also reads runtime state with the verification evaluators (tunnels ESTABLISHED, BGP Established, cloud
    routes), as C(checks).
version_added: "0.1.0"
author: stowpath developers
extends_documentation_fragment: [stowpath.core.drift]
options:
  artifacts:
    description: Rendered artifacts by name (C(swanctl.conf), C(frr.conf), C(nftables.conf)); hold secrets.
    type: dict
    required: true
  paths:
    description: Device paths stowpath owns (keys swanctl, frr, nft, nft_main), as for M(stowpath.core.gateway_push) on a Linux gateway.
    type: dict
  state_dir:
    description: Where M(stowpath.core.gateway_push) keeps its runtime fingerprints on the device.
    type: path
    default: /var/lib/stowpath
  site:
    description: The masked site model (C(site_render_result.site)); needed for the runtime checks.
    type: dict
  build_hint:
    description: How the remediation commands name the rendered artifacts on the controller.
    type: str
    default: build/<host>
notes:
  - Read-only; runs the same in check mode.
"""

EXAMPLES = r"""
- name: Back up and compare (read-only)
  stowpath.core.drift_linux:
    artifacts:
      swanctl.conf: "{{ lookup('ansible.builtin.file', build + '/swanctl.conf', rstrip=false) }}"
      frr.conf: "{{ lookup('ansible.builtin.file', build + '/frr.conf', rstrip=false) }}"
      nftables.conf: "{{ lookup('ansible.builtin.file', build + '/nftables.conf', rstrip=false) }}"
    site: "{{ site_render_result.site }}"
  register: drift
"""

RETURN = r"""
status:
  description: C(in_sync) or C(drifted) (owned sections, runtime problems or unreadable state).
  returned: always
  type: str
summary:
  description: One line saying what drifted.
  returned: always
  type: str
items:
  description: >-
    Drifted owned sections - id, area (ipsec, bgp, routes, interfaces, firewall, mss, routing), kind (config for
    files, running for loaded state), object, title, diff (device -> intended, masked), commands (exact remediation),
    changes (one line per changed line).
  returned: always
  type: list
  elements: dict
ignored:
  description: Differences outside stowpath's sections (not drift), masked.
  returned: always
  type: list
  elements: str
checks:
  description: Runtime checks (tunnels, BGP, routes) in the shape of docs/ARCHITECTURE.md.
  returned: always
  type: list
  elements: dict
backup:
  description: File name -> masked text (running state and owned files).
  returned: always
  type: dict
errors:
  description: Commands that failed while reading the state.
  returned: always
  type: list
  elements: str
facts:
  description: Loaded and intended connection names, elapsed seconds.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stowpath.core.plugins.module_utils import linux_gateway as lg
from ansible_collections.stowpath.core.plugins.module_utils.drift.linux import FRR_RELOAD_SCRIPT, collect
from ansible_collections.stowpath.core.plugins.module_utils.drift.model import summary, verdict


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "artifacts": {"type": "dict", "required": True, "no_log": True},
            "paths": {"type": "dict"},
            "state_dir": {"type": "path", "default": "/var/lib/stowpath"},
            "site": {"type": "dict"},
            "runtime": {"type": "bool", "default": True},
            "backup": {"type": "bool", "default": True},
            "build_hint": {"type": "str", "default": "build/<host>"},
        },
        supports_check_mode=True,
    )
    p = module.params
    missing = [n for n in lg.ARTIFACT_KEYS if n not in p["artifacts"]]
    if missing:
        module.fail_json(msg=f"artifacts lack {', '.join(missing)}: render the site first")
    paths = dict(lg.DEFAULT_PATHS, **(p["paths"] or {}))

    def run_script(cmd: str, stdin: str) -> tuple[int, str, str]:
        return module.run_command(["timeout", "-k", "5", str(lg.COMMAND_TIMEOUT_S), *shlex.split(cmd)], data=stdin,
                                  binary_data=True)

    def frr_reload(intended: str) -> tuple[int, str, str]:
        return module.run_command(["timeout", "-k", "5", str(lg.COMMAND_TIMEOUT_S), "sh", "-c", FRR_RELOAD_SCRIPT],
                                  data=intended, binary_data=True)

    try:
        result = collect(run_script, p["artifacts"], paths, p["state_dir"], p["site"], p["runtime"], p["backup"],
                         p["build_hint"], frr_reload)
    except lg.GatewayError as exc:
        module.fail_json(msg=f"cannot read the gateway's state: {exc}")
    result.update(status=verdict(result), summary=summary(result))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
