"""Live: automatic transfers. A real DICOM sender (dcmtk storescu on the lab's modality) stores a synthetic
study on the on-prem PACS; the PACS sends it to the cloud by itself. With the cloud broken the transfer is
retried, counted as failed, PacsTransfersFailing fires; after the repair the study arrives exactly once."""

from __future__ import annotations

import importlib.util
import json
import tempfile
import time
from pathlib import Path

import pytest

from .lablive import REPO, clear, inject, prom, record, wait_notification

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("autoroute")]

_spec = importlib.util.spec_from_file_location("transfer_bench", REPO / "bench" / "transfer_bench.py")
assert _spec and _spec.loader
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

ARRIVAL_BOUND_S = 60


def _send_and_watch(tmp: Path, instances: int, timeout: float) -> tuple[dict, float, object]:
    study = bench.make_studies(tmp, 1, instances)[0]
    proc = bench.watch([study["study_uid"]], timeout)
    time.sleep(1.0)
    t0 = time.time()
    bench.cstore(study["files"])
    return study, t0, proc


def _arrivals(proc: object, timeout: float) -> list[dict]:
    out, _ = proc.communicate(timeout=timeout + 30)  # type: ignore[attr-defined]
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_cstore_study_reaches_the_cloud_within_bound() -> None:
    with tempfile.TemporaryDirectory(prefix="stowpath-ar-") as tmp:
        study, t0, proc = _send_and_watch(Path(tmp), 3, ARRIVAL_BOUND_S)
        seen = _arrivals(proc, ARRIVAL_BOUND_S)
    assert seen, f"study {study['study_uid']} not on the cloud within {ARRIVAL_BOUND_S} s"
    assert seen[0]["matches"] == 1 and int(seen[0]["instances"]) == 3
    record("AutoTransfer", cstore_to_qido_s=round(seen[0]["seen"] - t0, 1), instances=3)


def _route(study_uid: str) -> dict:
    """The auto-router's state of a study, read from the PACS (its StowpathRoute metadata)."""
    from ansible_collections.stowpath.core.plugins.module_utils.pacs.autoroute import OrthancRouteStore
    from ansible_collections.stowpath.core.plugins.module_utils.pacs.orthanc import OrthancApi, OrthancDriver

    api = OrthancApi("http://169.254.250.12:8042", "stowpath-lab", "stowpath-lab-pacs")
    study_id = OrthancDriver(api).lookup_study(study_uid)
    assert study_id, f"study {study_uid} is not on the PACS"
    route = OrthancRouteStore(api).load(study_id)
    assert route is not None, f"study {study_uid} has no route state"
    return {"state": route.state, "attempts": route.attempts, "last_error": route.last_error}


def _failed_jobs() -> float:
    r = prom('stowpath_pacs_transfer_jobs_total{site="lab-facility",result="failure"}')
    return float(r[0]["value"][1]) if r else 0.0


def test_broken_cloud_retries_alerts_and_delivers_exactly_once() -> None:
    failed_before = _failed_jobs()
    t_fault = inject("service-503")
    try:
        with tempfile.TemporaryDirectory(prefix="stowpath-ar-") as tmp:
            study, t0, proc = _send_and_watch(Path(tmp), 2, 600)
            fired = wait_notification("PacsTransfersFailing", "firing", t_fault, 240, site="lab-facility")
            assert _failed_jobs() > failed_before, "failed transfer jobs are counted"
    finally:
        t_clear = clear()
    seen = _arrivals(proc, 600)
    assert seen, f"study {study['study_uid']} never arrived after the repair"
    assert seen[0]["matches"] == 1 and int(seen[0]["instances"]) == 2, "exactly once, every instance"
    # the study is visible on the cloud as soon as Orthanc's job stored it; the router marks it sent when it
    # next polls that job (poll_s 1 s), so its state may still say "sending" for a moment
    deadline = time.time() + 15
    route = _route(study["study_uid"])
    while route["state"] != "sent" and time.time() < deadline:
        time.sleep(0.5)
        route = _route(study["study_uid"])
    assert route["state"] == "sent" and route["attempts"] >= 2, f"sent after a retry: {route}"
    resolved = wait_notification("PacsTransfersFailing", "resolved", t_clear, 240, site="lab-facility")
    record("PacsTransfersFailing", fault="service-503 (cloud answers 503) during a C-STORE",
           fault_to_alert_s=fired, clear_to_resolved_s=resolved,
           clear_to_study_on_cloud_s=round(seen[0]["seen"] - t_clear, 1))
