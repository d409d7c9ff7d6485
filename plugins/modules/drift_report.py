#!/usr/bin/python
"""Write the drift backups of every gateway and the fleet report (JSON, JUnit XML, HTML)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: drift_report
short_description: Write drift backups per gateway and the fleet drift report (JSON, JUnit XML, one HTML page)
description:
  - Runs once on the controller with what M(stowpath.core.drift_linux) / M(stowpath.core.drift_vendor) collected
    for every gateway of the play.
  - Writes each gateway's masked backup into C(<backup_root>/<site_name>/<host>/<UTC timestamp>/) with a
    C(manifest.json), keeping the newest O(keep).
  - Writes C(drift.json), C(drift.xml) (JUnit, one testsuite per gateway, drift and runtime problems as failures)
    and C(index.html) (the fleet page) into O(dest). Secrets are masked by key name, by value and by config form;
    an output that still holds a secret is refused and nothing is written.
  - Returns each gateway's verdict (C(in_sync), C(drifted), C(unreachable)) so the play can fail those hosts.
version_added: "0.1.0"
author: stowpath developers
options:
  hosts:
    description:
      - One entry per gateway - C(host), C(site_name), C(platform), C(result) (the collector's registered result,
        or an unreachable result), optional C(client_cert) (PEM path whose expiry is checked with the
        M(stowpath.core.tls_material) validation), C(extra_checks), C(remediation) and C(round).
    type: list
    elements: dict
    required: true
  updates:
    description:
      - Entries of gateways checked again (after a remediation), in the shape of O(hosts); each replaces the entry
        of the same C(host).
    type: list
    elements: dict
    default: []
  backup_root:
    description: Backups root (C(backups/) of the project). Empty to write no backup.
    type: path
  keep:
    description: Backups kept per gateway.
    type: int
    default: 10
  dest:
    description: Directory of the fleet report (C(reports/fleet)).
    type: path
    required: true
  template:
    description: The HTML template (C(templates/report/fleet.html.j2)).
    type: path
  formats:
    description: Files to write.
    type: list
    elements: str
    choices: [json, junit, html]
    default: [json, junit, html]
  cert_expiry_warn_days:
    description: An entry's C(client_cert) (a PEM file on the controller) expiring within this many days is drift.
    type: int
    default: 30
  phase:
    description: Shown in the report (C(check), or C(re-check after remediation)).
    type: str
    default: check
  backup_round:
    description: Write backups only for entries collected in this round (their C(round)); others keep their backup.
    type: int
    default: 1
  previous:
    description: The C(verdicts) of an earlier round (their C(backup_dir) is kept for gateways not collected again).
    type: dict
    default: {}
  expected:
    description:
      - "Every gateway of the play (C(ansible_play_hosts_all)) as C({host: site_name}); a gateway missing from
        O(hosts) (it failed or could not be reached before the check) is reported C(unreachable) with the reason."
    type: dict
    default: {}
  secrets:
    description: Secret values to scrub from every output on top of the masking at the source.
    type: list
    elements: str
notes:
  - Writes its files in check mode too (they are local output of a read-only check).
  - Delegated to the controller (localhost), its action plugin runs it in the controller's process instead of
    shipping the module and every gateway's backup to a new Python process.
"""

EXAMPLES = r"""
- name: Write the backups and the fleet report
  stowpath.core.drift_report:
    hosts: "{{ ansible_play_hosts | map('extract', hostvars, 'drift_check_host') | list }}"
    backup_root: "{{ playbook_dir }}/../backups"
    keep: 10
    dest: "{{ playbook_dir }}/../reports/fleet"
    template: "{{ playbook_dir }}/../templates/report/fleet.html.j2"
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
verdicts:
  description: Host -> C({status, summary, backup_dir}).
  returned: always
  type: dict
summary:
  description: Counts - total, in_sync, drifted, unreachable.
  returned: always
  type: dict
files:
  description: Report file name -> path.
  returned: always
  type: dict
"""

import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stowpath.core.plugins.module_utils.drift.backup import write_backup
from ansible_collections.stowpath.core.plugins.module_utils.drift.fleet import build_fleet, write_fleet
from ansible_collections.stowpath.core.plugins.module_utils.drift.model import verdict
from ansible_collections.stowpath.core.plugins.module_utils.report.redaction import SecretLeak, assert_clean, sanitize

ARGSPEC: dict[str, dict[str, Any]] = {
    "hosts": {"type": "list", "elements": "dict", "required": True},
    "updates": {"type": "list", "elements": "dict", "default": []},
    "backup_root": {"type": "path"},
    "keep": {"type": "int", "default": 10},
    "dest": {"type": "path", "required": True},
    "template": {"type": "path"},
    "formats": {"type": "list", "elements": "str", "choices": ["json", "junit", "html"],
                "default": ["json", "junit", "html"]},
    "phase": {"type": "str", "default": "check"},
    "cert_expiry_warn_days": {"type": "int", "default": 30},
    "backup_round": {"type": "int", "default": 1},
    "previous": {"type": "dict", "default": {}},
    "secrets": {"type": "list", "elements": "str", "no_log": True},
    "expected": {"type": "dict", "default": {}},
}


def write_report(p: dict[str, Any]) -> dict[str, Any]:
    """Backups and the fleet report from validated parameters; the task result (``failed`` with the reason
    when nothing could be written). Also run in-process by the action plugin on the controller."""
    secrets = [s for s in p["secrets"] or [] if s]
    now = time.time()
    hosts = []
    newer = {str(u.get("host")): u for u in p["updates"] or []}
    given = [newer.get(str(raw.get("host")), raw) for raw in p["hosts"]]
    seen = {str(raw.get("host")) for raw in given}
    missing = [{"host": h, "site_name": site or "unknown-site", "platform": "?",
                "result": {"unreachable": True, "msg": "not checked: an earlier step failed for this gateway "
                           "(see the run output)"}} for h, site in sorted(p["expected"].items()) if h not in seen]
    try:
        for raw in given + missing:
            entry = dict(raw)
            result = dict(entry.get("result") or {})
            files = sanitize(result.pop("backup", None) or {}, secrets)
            entry["result"] = result
            this_round = int(entry.get("round") or 1) == p["backup_round"]
            if not this_round:
                entry["backup_dir"] = (p["previous"].get(entry["host"]) or {}).get("backup_dir")
            elif p["backup_root"] and files and not (result.get("unreachable") or result.get("device_unreachable")):
                for name, text in files.items():
                    assert_clean(text, secrets, f"backup {name}")
                meta = {"platform": entry.get("platform"), "status": verdict(result)}
                entry["backup_dir"] = write_backup(p["backup_root"], entry["site_name"], entry["host"], files, meta,
                                                   p["keep"], now)
            hosts.append(entry)
        fleet = build_fleet(hosts, secrets, phase=p["phase"], warn_days=p["cert_expiry_warn_days"])
        written = write_fleet(fleet, p["dest"], p["template"], secrets, p["formats"])
    except (SecretLeak, ValueError, OSError) as exc:
        return {"failed": True, "msg": f"drift report not written: {exc}"}
    verdicts = {e["host"]: {"status": e["status"], "summary": e["summary"], "site_name": e["site_name"],
                            "backup_dir": e["backup_dir"]} for e in fleet["sites"]}
    return {"changed": True, "verdicts": verdicts, "summary": fleet["summary"], "files": written}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGSPEC, supports_check_mode=True)
    result = write_report(module.params)
    if result.get("failed"):
        module.fail_json(msg=result["msg"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
