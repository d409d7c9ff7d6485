#!/usr/bin/python
"""Diagnose TLS and STOW-RS from the PACS host: handshake classification and a probe upload (read-only
on the facility; the probe stores one synthetic instance on the cloud)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: diagnose_dicomweb
short_description: Classify the TLS handshake and a STOW-RS probe upload from the PACS host
description:
  - TLS - the handshake with the vendor's CA bundle and the client certificate, classified (expired or
    not-yet-valid certificate on either side, unknown CA, hostname mismatch, client certificate rejected)
    with the days to expiry of both certificates.
  - HTTP - one STOW-RS upload of a synthetic instance (O(probe_kib) KiB, an obviously fake patient)
    classified by status (400, 401/403, 404, 409, 413, 415, 5xx, 202 with the PS3.18 FailureReason /
    WarningReason codes, timeouts with where the time went) and its throughput.
  - Returns the findings of the C(tls) and C(http) layers (and C(path.low_throughput)).
version_added: "0.2.0"
author: stowpath developers
options:
  url: {description: The STOW-RS URL (dicomweb_url)., type: str, required: true}
  ca_bundle: {description: The vendor's CA bundle on this host., type: path}
  client_cert: {description: Client certificate (mTLS)., type: path}
  client_key: {description: Client key (mTLS)., type: path}
  client_key_password: {description: Password of the client key., type: str}
  username: {description: Basic-auth user., type: str}
  password: {description: Basic-auth password., type: str}
  timeout: {description: Seconds for each request., type: float, default: 10}
  probe_kib: {description: Size of the probe instance in KiB (throughput)., type: int, default: 512}
  min_throughput_mbps: {description: Below this upload rate the path is reported as slow (0 = never)., type: float, default: 5}
  cert_expiry_warn_days: {description: Days before expiry that count as expiring., type: int, default: 30}
notes:
  - Changes nothing on the facility; the cloud receives one synthetic instance.
"""

EXAMPLES = r"""
- name: TLS and STOW-RS evidence
  stowpath.core.diagnose_dicomweb:
    url: "{{ dicomweb_url }}"
    ca_bundle: /etc/stowpath/tls/ca-bundle.pem
    client_cert: /etc/stowpath/tls/client.crt
    client_key: /etc/stowpath/tls/client.key
  delegate_to: "{{ pacs_host }}"
"""

RETURN = r"""
findings:
  description: Findings of the tls and http layers.
  returned: always
  type: list
  elements: dict
facts:
  description: TLS facts (protocol, chain, days to expiry) and the upload (status, timings, Mbit/s).
  returned: always
  type: dict
elapsed_s:
  description: Seconds spent.
  returned: always
  type: float
"""

import math
import os
import shutil
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stowpath.core.plugins.module_utils.diagnose.dicomweb import evaluate_http, evaluate_tls
from ansible_collections.stowpath.core.plugins.module_utils.diagnose.path import evaluate_throughput
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.client import Client, ProbeError
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.probes import run_tls_probe
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.stow import stow
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.target import Target, tls_context
from ansible_collections.stowpath.core.plugins.module_utils.redact import mask_secrets
from ansible_collections.stowpath.core.plugins.module_utils.verify.probes import tcp_probe


def _probe_upload(target: Target, kib: int) -> dict:
    from ansible_collections.stowpath.core.plugins.module_utils.dicomweb import synth

    ctx, fail = tls_context(target)
    if fail is not None:
        return {"failure": {"code": fail.code, "cause": fail.cause}}
    side = max(16, int(math.sqrt(max(kib, 1) * 1024 / 2)))
    tmp = tempfile.mkdtemp(prefix="stowpath-diagnose-")
    try:
        inst = synth.write_instance(os.path.join(tmp, "probe.dcm"), rows=side, cols=side)
        with Client(target.endpoint, ctx, timeout=target.timeout, username=target.username,
                    password=target.password) as client:
            try:
                res = stow(client, [inst.path], [inst.sop_instance_uid], "multipart",
                           has_client_cert=bool(target.client_cert), has_basic_auth=bool(target.username))[-1]
            except ProbeError as exc:
                return {"failure": {"code": exc.failure.code, "cause": exc.failure.cause, "phase": exc.phase,
                                    **exc.failure.detail, "timings": exc.timings}}
        out = res.as_dict()
        if res.failure is not None:
            out["failure"] = {"code": res.failure.code, "cause": res.failure.cause, **res.failure.detail}
        total = res.timings.get("total_s") or 0
        out["mbps"] = round(res.bytes_sent * 8 / 1e6 / total, 2) if total and res.status else None
        out["seconds"] = round(total, 3)
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    module = AnsibleModule(argument_spec={
        "url": {"type": "str", "required": True}, "ca_bundle": {"type": "path"}, "client_cert": {"type": "path"},
        "client_key": {"type": "path"}, "client_key_password": {"type": "str", "no_log": True},
        "username": {"type": "str"}, "password": {"type": "str", "no_log": True},
        "timeout": {"type": "float", "default": 10}, "probe_kib": {"type": "int", "default": 512},
        "min_throughput_mbps": {"type": "float", "default": 5},
        "cert_expiry_warn_days": {"type": "int", "default": 30}}, supports_check_mode=True)
    p = module.params
    t0 = time.monotonic()
    target = Target(url=p["url"], ca_bundle=p["ca_bundle"], timeout=p["timeout"], client_cert=p["client_cert"],
                    client_key=p["client_key"], client_key_password=p["client_key_password"],
                    username=p["username"], password=p["password"])
    ep = target.endpoint
    reach = tcp_probe(ep.address, ep.port, None, min(3.0, p["timeout"]))
    if reach["result"] != "open":  # the path layer names it; TLS and HTTP cannot tell more
        module.exit_json(changed=False, findings=[], facts={"tls": {}, "http": {}, "tcp": reach},
                         notes=[f"TLS/HTTP not probed: TCP {ep.port} to {ep.address} {reach['result']}"],
                         elapsed_s=round(time.monotonic() - t0, 3))
    tls = run_tls_probe(target, p["cert_expiry_warn_days"])
    tls_findings, tls_facts = evaluate_tls(tls, p["cert_expiry_warn_days"])
    fail = tls.get("failure") or {}
    request = next((c for c in tls["checks"] if c["id"] == "tls.request"), None)
    stow_result = None
    request_failure = None
    if tls_findings and any(f["severity"] == "broken" for f in tls_findings):
        pass  # the handshake itself fails: an upload cannot tell more
    elif fail.get("code") in ("timeout", "connection_refused", "network_unreachable") and \
            not (request and request["status"] == "fail" and fail.get("code") == "timeout"):
        pass  # connect/handshake never completed: the path layer names it
    elif request and request["status"] == "fail" and fail.get("code") == "timeout":
        request_failure = {**fail, **(request.get("detail") or {}), "phase": "response",
                           "timeout_s": p["timeout"], "timings": {"total_s": request.get("duration_s")}}
    else:
        stow_result = _probe_upload(target, p["probe_kib"])
    http_findings, http_facts = evaluate_http(stow_result, request_failure)
    findings = tls_findings + http_findings
    if stow_result and stow_result.get("http_status") and 200 <= stow_result["http_status"] < 300:
        findings += evaluate_throughput(stow_result.get("mbps"), stow_result.get("bytes_sent") or 0,
                                        stow_result.get("seconds"), p["min_throughput_mbps"])
    secrets = [s for s in (p["client_key_password"], p["password"]) if s]
    for f in findings:
        f["evidence"] = [mask_secrets(e, secrets) for e in f["evidence"]]
    module.exit_json(changed=False, findings=findings, facts={"tls": tls_facts, "http": http_facts},
                     elapsed_s=round(time.monotonic() - t0, 3))


if __name__ == "__main__":
    main()
