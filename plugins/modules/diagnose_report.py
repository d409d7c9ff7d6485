#!/usr/bin/python
"""Combine the per-layer findings into reports/<site_name>/diagnosis.{json,html} and a verdict."""

from __future__ import annotations

DOCUMENTATION = r"""
module: diagnose_report
short_description: Write diagnosis.json and diagnosis.html for a site and name the broken layer
description:
  - Combines the findings of M(stowpath.core.diagnose_gateway), M(stowpath.core.diagnose_path),
    M(stowpath.core.diagnose_dicomweb) and M(stowpath.core.diagnose_pacs) - status C(healthy),
    C(degraded) or C(broken), the primary cause (the lowest broken layer) and which findings follow from it -
    and writes C(<dest>/<site_name>/diagnosis.json) and C(diagnosis.html) (secrets refused).
  - Fails when the status is C(broken) and O(fail_on_broken) is set (the playbook exits non-zero).
version_added: "0.2.0"
author: stowpath developers
options:
  site: {description: The masked site model., type: dict, required: true}
  results: {description: The registered results of the diagnose modules., type: list, elements: dict, required: true}
  dest: {description: Directory of the reports (C(reports/))., type: path, required: true}
  template: {description: The page template (C(templates/report/diagnosis.html.j2))., type: path, required: true}
  started: {description: Epoch seconds when the run started (for the duration)., type: float}
  captures: {description: Packet capture files saved next to the report., type: list, elements: str, default: []}
  secrets: {description: Values that must not appear in the files., type: list, elements: str, default: []}
  fail_on_broken: {description: Fail when the site is broken., type: bool, default: true}
"""

EXAMPLES = r"""
- name: Write the diagnosis
  stowpath.core.diagnose_report:
    site: "{{ stowpath_model.site }}"
    results: ["{{ diagnose_gateway_result }}"]
    dest: "{{ playbook_dir }}/../reports"
    template: "{{ playbook_dir }}/../templates/report/diagnosis.html.j2"
  delegate_to: localhost
"""

RETURN = r"""
status: {description: healthy, degraded or broken., returned: always, type: str}
primary: {description: The primary finding (layer, cause, summary, action) or null., returned: always, type: dict}
findings: {description: Every finding, primary first., returned: always, type: list, elements: dict}
summary: {description: The short summary lines., returned: always, type: list, elements: str}
files: {description: The files written., returned: always, type: dict}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stowpath.core.plugins.module_utils.diagnose.report import build, write
from ansible_collections.stowpath.core.plugins.module_utils.report.redaction import SecretLeak


def main() -> None:
    module = AnsibleModule(argument_spec={
        "site": {"type": "dict", "required": True},
        "results": {"type": "list", "elements": "dict", "required": True},
        "dest": {"type": "path", "required": True}, "template": {"type": "path", "required": True},
        "started": {"type": "float"}, "captures": {"type": "list", "elements": "str", "default": []},
        "secrets": {"type": "list", "elements": "str", "default": [], "no_log": True},
        "fail_on_broken": {"type": "bool", "default": True}}, supports_check_mode=True)
    p = module.params
    results = [r for r in p["results"] if isinstance(r, dict) and not r.get("skipped")]
    doc = build(p["site"], results, p["started"], p["captures"])
    try:
        files = write(doc, p["dest"], p["template"], p["secrets"])
    except SecretLeak as exc:
        module.fail_json(msg=f"refusing to write the diagnosis: {exc}")
    out = {"changed": False, "status": doc["status"], "primary": doc["primary"], "findings": doc["findings"],
           "summary": doc["summary"], "files": files}
    if doc["status"] == "broken" and p["fail_on_broken"]:
        module.fail_json(msg="\n".join(doc["summary"]), **out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
