"""The pieces the DICOMweb, PACS and report code share: file helpers, Target, argument spec, synth."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb import ansible_args, synth
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.target import Target, tls_context
from ansible_collections.stowpath.core.plugins.module_utils.fileutil import read_bytes, write_atomic


def test_write_atomic_sets_mode_and_replaces(tmp_path: Path) -> None:
    path = str(tmp_path / "sub" / "key.pem")
    assert read_bytes(path) is None
    write_atomic(path, b"one", 0o600)
    write_atomic(path, b"two", 0o640)
    assert read_bytes(path) == b"two"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert os.listdir(tmp_path / "sub") == ["key.pem"]  # no temporary file left behind


def test_read_bytes_unreadable(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError):
        read_bytes(str(tmp_path))
    assert read_bytes(str(tmp_path), unreadable_as_absent=True) is None


def test_target_from_params_overrides_and_hides_secrets() -> None:
    params = {"ca_file": "/ca.pem", "client_cert": "/c.crt", "client_key": "/c.key", "client_key_password": "Kp-1",
              "username": "u", "password": "Pw-1", "qido_timeout": 5}
    t = ansible_args.target_from_params(params, url="http://h/dicomweb/studies", ca_bundle=params["ca_file"],
                                        timeout=5.0, validate_certs=False)
    assert (t.url, t.ca_bundle, t.timeout, t.validate_certs, t.auth) == (
        "http://h/dicomweb/studies", "/ca.pem", 5.0, False, "mtls+basic")
    assert t.secrets == ["Kp-1", "Pw-1"] and "Pw-1" not in repr(t) and "Kp-1" not in repr(t)
    assert tls_context(t) == (None, None)  # plain http: no TLS material loaded


def test_tls_context_reports_unloadable_material(tmp_path: Path) -> None:
    t = Target("https://h/dicomweb/studies", str(tmp_path / "absent.pem"))
    ctx, fail = tls_context(t)
    assert ctx is None and fail is not None and fail.code == "client_material"


def test_make_study_in_memory_is_obviously_fake() -> None:
    import pydicom

    study = synth.make_study(instances=2)
    a, b = (pydicom.dcmread(io.BytesIO(x)) for x in study.instances)
    assert str(a.PatientName) == synth.PATIENT_NAME and a.PatientID == b.PatientID
    assert a.PatientID.startswith(synth.PATIENT_ID_PREFIX) and study.study_uid.startswith("2.25.")
    assert [str(a.SOPInstanceUID), str(b.SOPInstanceUID)] == study.sop_uids
    assert study.size_bytes == sum(len(x) for x in study.instances)
