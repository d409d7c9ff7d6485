#!/usr/bin/python
"""Diagnose the PACS's STOW-RS destination and its recent failed transfers (read-only)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: diagnose_pacs
short_description: Read the PACS's STOW-RS destination settings and recent failed transfers (read-only)
description:
  - Reads, over the PACS REST API (Orthanc), the destination's URL, timeout and certificate paths (and
    whether those files exist on this host), the recent failed STOW-RS jobs with their error codes, and
    the HTTP statuses / curl errors in the PACS log. Changes nothing.
  - Returns the findings of the C(pacs) layer.
version_added: "0.2.0"
author: stowpath developers
options:
  api_url: {description: The PACS REST API as seen from this host., type: str, default: "http://127.0.0.1:8042"}
  api_username: {description: API user., type: str}
  api_password: {description: API password., type: str}
  destination: {description: The destination's name., type: str, default: cloud-stow-rs}
  expected_url: {description: The vendor's STOW-RS URL (dicomweb_url)., type: str, required: true}
  log_file: {description: The PACS log file on this host., type: path}
  window_s: {description: How far back a failed job counts as recent (seconds)., type: int, default: 3600}
  min_timeout: {description: The smallest acceptable destination timeout (the guide - 300 s)., type: int, default: 300}
notes:
  - Supports check mode; it never changes anything.
"""

EXAMPLES = r"""
- name: PACS evidence
  stowpath.core.diagnose_pacs:
    api_url: http://127.0.0.1:8042
    expected_url: "{{ dicomweb_url }}"
  delegate_to: "{{ pacs_host }}"
"""

RETURN = r"""
findings:
  description: Findings of the pacs layer.
  returned: always
  type: list
  elements: dict
facts:
  description: The destination's settings (no secrets) and recent failed jobs.
  returned: always
  type: dict
elapsed_s:
  description: Seconds spent.
  returned: always
  type: float
"""

import datetime as dt
import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stowpath.core.plugins.module_utils.diagnose.pacs import FILE_FIELDS, evaluate_pacs
from ansible_collections.stowpath.core.plugins.module_utils.pacs.base import PacsError
from ansible_collections.stowpath.core.plugins.module_utils.pacs.orthanc import OrthancApi, OrthancDriver
from ansible_collections.stowpath.core.plugins.module_utils.redact import mask_secrets


def _when(text: str | None) -> float | None:
    try:
        return dt.datetime.strptime(str(text), "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC).timestamp()
    except ValueError:
        return None


def failed_jobs(api: OrthancApi, window_s: int) -> list[dict]:
    """Failed DICOMweb STOW jobs of the last ``window_s`` seconds, newer than the last successful one."""
    status, jobs = api.request("GET", "/jobs?expand")
    if status != 200 or not isinstance(jobs, list):
        return []
    now = time.time()
    stow = [j for j in jobs if "stow" in str(j.get("Type", "")).lower() or "dicomweb" in str(j.get("Type", "")).lower()]
    stow.sort(key=lambda j: str(j.get("CompletionTime") or j.get("CreationTime") or ""))
    last_ok = max((_when(j.get("CompletionTime")) or 0 for j in stow if j.get("State") == "Success"), default=0)
    out = []
    for j in stow:
        t = _when(j.get("CompletionTime") or j.get("CreationTime"))
        if j.get("State") == "Failure" and t and t > last_ok and now - t <= window_s:
            content = j.get("Content") or {}
            out.append({"id": j.get("ID"), "time": j.get("CompletionTime"), "error_code": j.get("ErrorCode"),
                        "function_error_code": content.get("FunctionErrorCode"),
                        "details": str(j.get("ErrorDetails") or j.get("ErrorDescription") or "")[:200]})
    return out


def main() -> None:
    module = AnsibleModule(argument_spec={
        "api_url": {"type": "str", "default": "http://127.0.0.1:8042"}, "api_username": {"type": "str"},
        "api_password": {"type": "str", "no_log": True}, "destination": {"type": "str", "default": "cloud-stow-rs"},
        "expected_url": {"type": "str", "required": True}, "log_file": {"type": "path"},
        "window_s": {"type": "int", "default": 3600}, "min_timeout": {"type": "int", "default": 300}},
        supports_check_mode=True)
    p = module.params
    t0 = time.monotonic()
    api = OrthancApi(p["api_url"], p["api_username"], p["api_password"], timeout=5)
    dest, jobs, error = None, [], None
    try:
        dest = OrthancDriver(api).get_destination(p["destination"])
        jobs = failed_jobs(api, p["window_s"])
    except PacsError as exc:
        error = str(exc)
    files = {dest[k]: os.path.exists(dest[k]) for k in FILE_FIELDS if dest and dest.get(k)}
    lines: list[str] = []
    if p["log_file"] and jobs:
        try:
            with open(p["log_file"], "rb") as fh:
                fh.seek(max(0, os.path.getsize(p["log_file"]) - 128 * 1024))
                lines = [x for x in fh.read().decode("utf-8", "replace").splitlines() if x.strip()][-400:]
        except OSError:
            lines = []
    findings, facts = evaluate_pacs(p["expected_url"], p["destination"], dest, files, jobs, lines, error,
                                    p["min_timeout"])
    secrets = [s for s in (p["api_password"],) if s]
    for f in findings:
        f["evidence"] = [mask_secrets(e, secrets) for e in f["evidence"]]
    module.exit_json(changed=False, findings=findings, facts=facts, elapsed_s=round(time.monotonic() - t0, 3))


if __name__ == "__main__":
    main()
