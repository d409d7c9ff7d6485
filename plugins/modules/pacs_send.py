#!/usr/bin/python
"""PACS-driven STOW-RS test (guide section 6): the PACS sends a study, QIDO-RS confirms arrival."""

from __future__ import annotations

DOCUMENTATION = r"""
module: pacs_send
short_description: Have the PACS send a test study to its cloud destination and confirm it arrived
description:
  - Guide section 6, "PACS-Driven Test". The PACS (Orthanc) sends a study to its DICOMweb
    destination as an asynchronous STOW-RS job (C(POST /dicom-web/servers/{name}/stow)); the job is
    polled at C(/jobs/{id}); then the study is looked up on the cloud with QIDO-RS
    (C(GET .../studies?StudyInstanceUID=...)) using the controller's TLS material.
  - By default a fresh synthetic study (patient C(STOWPATH^TEST^SYNTHETIC), new random UIDs) is
    stored on the PACS first and removed from the PACS afterwards, so arrival proves this run.
  - On failure the PACS's own error is reported - the job's ErrorCode and FunctionErrorCode
    (9 network/TLS, 8 HTTP 400, 29 HTTP 401, 17 HTTP 404, 13 missing certificate file, ...) and,
    when O(pacs_log_file) is readable, the exact curl error or HTTP status from the PACS log - with
    a likely cause and action.
  - Failed checks do not fail the task; they are returned in C(checks) for the report (the report
    role fails the play after writing the report). The task fails only when it cannot run.
  - In check mode nothing is sent (the checks are C(skip)). The task never reports C(changed) - it is
    a test; the synthetic study is removed from the PACS afterwards (O(cleanup)).
version_added: "0.1.0"
author: stowpath developers
options:
  pacs_product:
    description: The PACS product; C(manual) only returns a skipped check with instructions.
  destination:
    description: The destination's name in the PACS (as set by M(stowpath.core.pacs_destination)).
    type: str
    default: cloud-stow-rs
  study:
    description: An Orthanc study id or StudyInstanceUID already on the PACS; omitted - a new synthetic study.
    type: str
  instances:
    description: Instances in the synthetic study.
    type: int
    default: 1
  cleanup:
    description: Delete the synthetic study from the PACS afterwards.
    type: bool
    default: true
  job_timeout:
    description: Seconds to wait for the PACS's job.
    type: int
    default: 600
  poll_interval:
    description: Seconds between job polls.
    type: float
    default: 0.5
  pacs_log_file:
    description: The PACS's log file, if readable where this task runs (refines network/TLS errors).
    type: path
  qido_url:
    description:
      - QIDO-RS studies endpoint as reached from the controller (default - the destination URL the
        PACS has, i.e. C(<DICOMweb root>/studies)).
    type: str
  ca_file:
    description: CA bundle that verifies the cloud (controller side).
    type: path
  validate_certs:
    description: Verify the cloud's certificate for QIDO-RS.
    type: bool
    default: true
  qido_timeout:
    description: Seconds to wait for the QIDO-RS answer.
    type: int
    default: 30
  confirm_arrival:
    description: Look the study up with QIDO-RS after the PACS reports success.
    type: bool
    default: true
notes:
  - O(ca_file), O(client_cert), O(client_key), O(client_key_password), O(username), O(password) and the
    bearer-token options are the verifying side's own access to QIDO-RS, not the PACS's.
extends_documentation_fragment:
  - stowpath.core.dicomweb
  - stowpath.core.dicomweb.bearer
  - stowpath.core.dicomweb.pacs_api
"""

EXAMPLES = r"""
- name: PACS-driven send, confirmed through QIDO-RS
  stowpath.core.pacs_send:
    api_url: http://203.0.113.10:8042
    api_username: admin
    api_password: "{{ vault_pacs_api_password }}"
    destination: cloud-stow-rs
    ca_file: /etc/stowpath/tls/ca-bundle.pem
    client_cert: /etc/stowpath/tls/client.crt
    client_key: /etc/stowpath/tls/client.key
  register: pacs_send
"""

RETURN = r"""
ok:
  description: True when the PACS sent the study and it was found on the cloud.
  returned: always
  type: bool
study_uid:
  description: StudyInstanceUID of the study sent.
  returned: when a study was available
  type: str
job:
  description: The PACS job (id, state, error_code, function_error_code, descriptions, runtime_s).
  returned: when a job ran
  type: dict
timings:
  description: Seconds per step (prepare_s, send_s, qido_s).
  returned: always
  type: dict
checks:
  description: Check results for the report (pacs.send.<destination>.job / .qido).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stowpath.core.plugins.module_utils.checks import check, summary_message
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb import ansible_args
from ansible_collections.stowpath.core.plugins.module_utils.pacs.base import PacsError, stow_and_base
from ansible_collections.stowpath.core.plugins.module_utils.pacs.orthanc import OrthancApi, OrthancDriver
from ansible_collections.stowpath.core.plugins.module_utils.pacs.send import pacs_send

ARGS = {
    **ansible_args.PACS_API_ARGS,
    "destination": {"type": "str", "default": "cloud-stow-rs"},
    "study": {"type": "str"},
    "instances": {"type": "int", "default": 1},
    "cleanup": {"type": "bool", "default": True},
    "job_timeout": {"type": "int", "default": 600},
    "poll_interval": {"type": "float", "default": 0.5},
    "pacs_log_file": {"type": "path"},
    "qido_url": {"type": "str"},
    "ca_file": {"type": "path"},
    **ansible_args.CLIENT_TLS_ARGS,
    **ansible_args.BASIC_AUTH_ARGS,
    **ansible_args.BEARER_ARGS,
    "validate_certs": {"type": "bool", "default": True},
    "qido_timeout": {"type": "int", "default": 30},
    "confirm_arrival": {"type": "bool", "default": True},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGS, supports_check_mode=True,
                           required_if=ansible_args.PACS_API_REQUIRED_IF,
                           mutually_exclusive=ansible_args.BEARER_MUTUALLY_EXCLUSIVE)
    p = module.params
    base = f"pacs.send.{p['destination']}"
    if p["pacs_product"] == "manual":
        module.exit_json(changed=False, ok=False, timings={}, checks=[check(
            f"{base}.job", "pacs", "PACS-driven send (by hand)", "skip",
            cause="this PACS has no API stowpath can drive",
            action="in the PACS UI select a test study, choose 'Send via Cloud STOW-RS', watch the PACS "
                   "transfer log, then confirm the study on the cloud viewer or QIDO-RS (guide section 6)")])
    if module.check_mode:
        module.exit_json(changed=False, ok=False, timings={}, checks=[check(
            f"{base}.job", "pacs", f"PACS sends a test study to destination {p['destination']}", "skip",
            cause="check mode: nothing sent")])
    if p["instances"] < 1 or p["job_timeout"] < 1:
        module.fail_json(msg="instances and job_timeout must be >= 1")
    driver = OrthancDriver(OrthancApi(p["api_url"], p["api_username"], p["api_password"], p["api_timeout"]))
    cloud = None
    try:
        if p["confirm_arrival"]:
            qido_url = p["qido_url"]
            if not qido_url:
                current = driver.get_destination(p["destination"])
                if current is None:
                    raise PacsError(f"the PACS has no DICOMweb destination {p['destination']!r}",
                                    "configure it first (stowpath.core.pacs_destination) or pass qido_url")
                qido_url = stow_and_base(str(current.get("Url", "")))[0]
            cloud = ansible_args.target_from_params(p, url=qido_url, ca_bundle=p["ca_file"],
                                                    timeout=float(p["qido_timeout"]),
                                                    validate_certs=p["validate_certs"])
        out = pacs_send(driver, p["destination"], cloud, study=p["study"], instances=p["instances"],
                        cleanup=p["cleanup"], job_timeout=p["job_timeout"], poll_s=p["poll_interval"],
                        log_file=p["pacs_log_file"])
    except PacsError as exc:
        module.fail_json(msg=ansible_args.pacs_error_message(exc))
    msg = summary_message(out["checks"])
    # A test, not configuration: the synthetic study is removed from the PACS again (changed stays false).
    module.exit_json(changed=False, msg=msg or "PACS-driven send succeeded", **out)


if __name__ == "__main__":
    main()
