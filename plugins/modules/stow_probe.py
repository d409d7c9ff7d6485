#!/usr/bin/python
"""STOW-RS probe: upload a synthetic test instance (and optionally a large study), find it via QIDO-RS."""

from __future__ import annotations

DOCUMENTATION = r"""
module: stow_probe
short_description: Upload a synthetic test instance by STOW-RS and find it with QIDO-RS
description:
  - Builds a new Secondary Capture instance with new random UIDs and the obviously fake patient
    C(STOWPATH^TEST^SYNTHETIC) (ID C(STOWPATH-TEST-...)), uploads it to O(url) and succeeds only if
    its SOP Instance UID is in the response's ReferencedSOPSequence (0008,1199) and not in
    FailedSOPSequence (0008,1198). Then QIDO-RS must find the study.
  - O(request_form) selects C(multipart) (C(multipart/related; type="application/dicom"), the
    DICOMweb standard), C(single) (single-part C(Content-Type application/dicom), as in the guide's
    curl test) or C(auto) (multipart, then single-part after an HTTP 415). A 415 is explained.
  - With O(study_size_mb) it also generates a synthetic study of that size on disk and streams it
    as one multipart body in fixed-size chunks (memory does not grow with the size), and reports
    the throughput in MB/s.
  - In check mode nothing is uploaded (the checks are C(skip)). The task never reports C(changed),
    it verifies; the synthetic test object stays on the service (clearly named, new UIDs every run).
  - With O(tls_probe) the module first runs the TLS/mTLS probe of M(stowpath.core.tls_probe) (same
    code, same checks and warnings) and uploads only when it passed (one task and one Python start on
    the probing host instead of two). The TLS probe's own result is returned as RV(tls_probe); C(checks)
    holds its checks followed by the STOW-RS/QIDO-RS checks, or by a C(dicomweb.stow) skip naming the
    TLS failure. In check mode the TLS probe runs (it only reads) and nothing is uploaded.
  - Connection options are those of M(stowpath.core.tls_probe); the environment's CA settings are
    never used.
version_added: "0.1.0"
author: stowpath developers
options:
  timeout:
    description: Seconds for connect, handshake and each read (a large upload has no overall limit).
  request_form:
    description: How the instance is posted.
    type: str
    choices: [multipart, single, auto]
    default: multipart
  study_size_mb:
    description: Also upload a synthetic study of about this many MB (0 = no).
    type: float
    default: 0
  instance_mb:
    description: Size of each instance of the large study.
    type: float
    default: 2
  qido:
    description: Confirm with QIDO-RS that the study can be found.
    type: bool
    default: true
  qido_wait_s:
    description: How long QIDO-RS may take to list the study.
    type: float
    default: 10
  work_dir:
    description: Where the synthetic files are written (a temporary directory inside it; removed afterwards).
    type: path
  chunk_size_kb:
    description: Read/send chunk size of the streamed body.
    type: int
    default: 1024
  files:
    description:
      - Test files the user gives (a vendor's test image or test study), paths on the host running the
        probe; each is a DICOM file (one instance) or a folder (a study - every file below it), sent as
        one STOW-RS request per item, like the guide's C(curl --data-binary @test-image.dcm).
      - Each instance must come back in ReferencedSOPSequence; a rejection is classified by its
        FailureReason (C(dicomweb.stow_file.N) checks, with transfer syntax and SOP Class per file).
        A file that is not DICOM is sent alone and its rejection reported as C(not_dicom).
    type: list
    elements: path
    default: []
  files_new_uids:
    description:
      - Send copies of O(files) with new Study/Series/SOP Instance UIDs (the originals are not changed), so
        a re-run is not answered as a duplicate. C(false) sends the files byte for byte.
    type: bool
    default: true
  synthetic:
    description: Also upload the synthetic test instance (C(false) with O(files) - only the user's files).
    type: bool
    default: true
  tls_probe:
    description:
      - First prove TLS and mTLS exactly like M(stowpath.core.tls_probe) (handshake facts plus a real request,
        failures classified) and upload only when that passed.
    type: bool
    default: false
  cert_expiry_warn_days:
    description: With O(tls_probe), warn when a certificate expires within this many days.
    type: int
    default: 30
notes:
  - Supports check mode (no upload).
extends_documentation_fragment:
  - stowpath.core.dicomweb
  - stowpath.core.dicomweb.bearer
  - stowpath.core.dicomweb.connection
"""

EXAMPLES = r"""
- name: Upload a synthetic test instance the way the PACS will
  stowpath.core.stow_probe:
    url: https://dicom.vendor.example/dicomweb/studies
    ca_bundle: /etc/stowpath/tls/ca-bundle.pem
    client_cert: /etc/stowpath/tls/client.crt
    client_key: /etc/stowpath/tls/client.key
    request_form: auto
  register: stow_result

- name: Prove TLS/mTLS, then upload (one task; the upload is skipped when TLS failed)
  stowpath.core.stow_probe:
    url: https://dicom.vendor.example/dicomweb/studies
    ca_bundle: /etc/stowpath/tls/ca-bundle.pem
    client_cert: /etc/stowpath/tls/client.crt
    client_key: /etc/stowpath/tls/client.key
    tls_probe: true
  register: dicomweb_result

- name: Also measure a 200 MB study
  stowpath.core.stow_probe:
    url: https://dicom.vendor.example/dicomweb/studies
    ca_bundle: /etc/stowpath/tls/ca-bundle.pem
    client_cert: /etc/stowpath/tls/client.crt
    client_key: /etc/stowpath/tls/client.key
    study_size_mb: 200
    timeout: 300
"""

RETURN = r"""
checks:
  description:
    - C(dicomweb.stow), C(dicomweb.qido) and, with O(study_size_mb), C(dicomweb.stow_large) and
      C(dicomweb.qido_large); each with HTTP status, timings and, on failure, cause and action.
    - With O(tls_probe) the TLS checks (RV(tls_probe.checks)) come first; when the TLS probe failed they are
      followed only by a C(dicomweb.stow) skip whose cause names the TLS failure's code.
  returned: always
  type: list
  elements: dict
tls_probe:
  description: The TLS probe's result, as M(stowpath.core.tls_probe) returns it.
  returned: with tls_probe
  type: dict
  contains:
    checks:
      description: C(tls.client_material), C(tls.connect), C(tls.handshake), C(tls.server_certificate),
        C(tls.hostname), C(tls.request) (and C(tls.token) with a bearer token).
      type: list
      elements: dict
    tls:
      description: Protocol, cipher, peer chain subjects, server and client certificate facts, days to expiry.
      type: dict
    failure:
      description: The TLS probe's first failure (C(code), cause, action); null when it passed.
      type: dict
    token:
      description: Facts of the bearer token used, never its value.
      type: dict
      returned: with a bearer token
sop_instance_uid:
  description: SOP Instance UID of the synthetic instance.
  returned: when uploaded
  type: str
study_instance_uid:
  description: Study Instance UID of the synthetic instance.
  returned: when uploaded
  type: str
accepted_form:
  description: The request form the service accepted (C(multipart) or C(single)); null when none.
  returned: when uploaded
  type: str
throughput_mb_s:
  description: Throughput of the large-study upload in MB/s (10^6 bytes per second).
  returned: with study_size_mb
  type: float
files:
  description: Per user file - path, DICOM or not, SOP Instance UID sent, Study Instance UID, SOP Class, transfer syntax.
  returned: with files
  type: list
  elements: dict
token:
  description: Facts of the bearer token used (source, expiry, audience, scope), never its value.
  returned: with a bearer token
  type: dict
failure:
  description: The first failure's class (C(code)), cause and action (with O(tls_probe), the TLS probe's first);
    null when everything passed.
  returned: always
  type: dict
"""

from ansible_collections.stowpath.core.plugins.module_utils.dicomweb import ansible_args
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.probes import (
    run_stow_probe,
    run_tls_then_stow_probe,
    stow_skipped,
)
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.tls import (
    CRYPTOGRAPHY_IMPORT_ERROR,
    HAS_CRYPTOGRAPHY,
)

try:
    import pydicom  # noqa: F401

    HAS_PYDICOM = True
except ImportError:
    HAS_PYDICOM = False


def main() -> None:
    module = ansible_args.probe_module(dict(
        request_form={"type": "str", "default": "multipart", "choices": ["multipart", "single", "auto"]},
        study_size_mb={"type": "float", "default": 0.0},
        instance_mb={"type": "float", "default": 2.0},
        qido={"type": "bool", "default": True},
        qido_wait_s={"type": "float", "default": 10.0},
        work_dir={"type": "path"},
        chunk_size_kb={"type": "int", "default": 1024},
        files={"type": "list", "elements": "path", "default": []},
        files_new_uids={"type": "bool", "default": True},
        synthetic={"type": "bool", "default": True},
        tls_probe={"type": "bool", "default": False},
        cert_expiry_warn_days={"type": "int", "default": 30},
    ))
    p = module.params
    ansible_args.require_lib(module, "pydicom", HAS_PYDICOM)
    if p["tls_probe"]:
        ansible_args.require_lib(module, "cryptography", HAS_CRYPTOGRAPHY, CRYPTOGRAPHY_IMPORT_ERROR)
    target = ansible_args.probe_target(module)
    stow_options = dict(
        request_form=p["request_form"], study_size_mb=p["study_size_mb"], instance_mb=p["instance_mb"],
        qido=p["qido"], qido_wait_s=p["qido_wait_s"], work_dir=p["work_dir"],
        chunk_size=max(16, p["chunk_size_kb"]) * 1024, files=p["files"], files_new_uids=p["files_new_uids"],
        synthetic=p["synthetic"] or not p["files"],
    )
    # a verification: the synthetic test object stays on the service but nothing is configured
    if p["tls_probe"]:
        # the TLS probe only reads, so it runs in check mode too; the upload does not
        result = run_tls_then_stow_probe(target, p["cert_expiry_warn_days"], upload=not module.check_mode,
                                         **stow_options)
        what = "TLS probe" if result["tls_probe"]["failure"] else "STOW-RS probe"
        ansible_args.exit_probe(module, result, target, what, warn_group="tls")
    if module.check_mode:
        module.exit_json(changed=False, checks=[stow_skipped("check mode: nothing uploaded")], failure=None)
    ansible_args.exit_probe(module, run_stow_probe(target, **stow_options), target, "STOW-RS probe")


if __name__ == "__main__":
    main()
