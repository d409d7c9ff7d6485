#!/usr/bin/python
"""Write a facility's onboarding report: reports/<site_name>/report.{json,xml,html}."""

from __future__ import annotations

DOCUMENTATION = r"""
module: site_report
short_description: Write a facility's onboarding report (JSON, JUnit XML, self-contained HTML)
description:
  - Aggregates the C(checks) of every verification module (tunnels, BGP, routes, firewall, TLS,
    STOW-RS, QIDO-RS, PACS, drift) with the masked site model and timings into
    C(<dest>/<site_name>/report.json) (every check with status, timing, detail),
    C(report.xml) (JUnit - a testsuite per group, a testcase per check, failure elements) and
    C(report.html) (one self-contained page for the facility admin to send to the vendor,
    including the likely cause and action of every failure and the guide's Common Issues table).
  - Runs on the controller (delegate to localhost). There its action plugin writes the report in the controller's
    own process (no new Python process per host), with the same result. Secrets never reach a report - values under keys named like psk,
    secret, password, key, auth_key, private, token are masked, known secret values (O(secrets))
    and private keys are masked everywhere, and a rendered output still holding one is refused.
  - In check mode nothing is written; the paths that would be written are returned.
version_added: "0.1.0"
author: stowpath developers
options:
  site:
    description: The masked site model (C(site) returned by M(stowpath.core.site_render)); needs C(site_name).
    type: dict
    required: true
  checks:
    description: Check results (id, group, title, status, duration_s, detail, cause, action).
    type: list
    elements: dict
    default: []
  results:
    description: Registered results of verification tasks; their C(checks) are added (skipped results are ignored).
    type: list
    elements: raw
    default: []
  timings:
    description: Seconds per playbook step (name -> seconds), shown in the report.
    type: dict
    default: {}
  dest:
    description: Reports root; files go to C(<dest>/<site_name>/).
    type: path
    default: reports
  formats:
    description: Which files to write.
    type: list
    elements: str
    choices: [json, junit, html]
    default: [json, junit, html]
  template:
    description: The HTML template (C(templates/report/report.html.j2)). Required for the C(html) format.
    type: path
  title:
    description: Report title (default - C(stowpath onboarding report - <site_name>)).
    type: str
  secrets:
    description: Secret values to scrub from every output (PSKs, BGP keys, passwords) in addition to key-name masking.
    type: list
    elements: str
    default: []
  secret_files:
    description:
      - Rendered artifacts on the controller; every secret written into them (PSKs, BGP MD5 keys, in each
        platform's syntax) is scrubbed too, so the final scan knows the values the masked site model hides.
    type: list
    elements: path
    default: []
"""

EXAMPLES = r"""
- name: Write the onboarding report
  stowpath.core.site_report:
    site: "{{ stowpath_render.site }}"
    results:
      - "{{ tunnel_result | default({}) }}"
      - "{{ pacs_send_result | default({}) }}"
    timings:
      render: 1.2
    dest: "{{ playbook_dir }}/../reports"
    template: "{{ playbook_dir }}/../templates/report/report.html.j2"
  delegate_to: localhost
  register: report
"""

RETURN = r"""
report_dir:
  description: The directory of this facility's report.
  returned: success
  type: str
files:
  description: File name -> path (written, or that would be written in check mode).
  returned: success
  type: dict
status:
  description: Overall result - fail if any check failed, else warn if any warned, else pass.
  returned: success
  type: str
summary:
  description: Counts per status (total, pass, fail, warn, skip) and time spent in checks.
  returned: success
  type: dict
failures:
  description: The failed checks with likely cause, action and matching guide row.
  returned: success
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stowpath.core.plugins.module_utils.inprocess import finish_module
from ansible_collections.stowpath.core.plugins.module_utils.report.task import REPORT_ARGS, report_result


def main() -> None:
    finish_module(AnsibleModule(argument_spec=REPORT_ARGS, supports_check_mode=True), report_result)


if __name__ == "__main__":
    main()
