"""PACS transfers to the cloud destination, as metrics, through a PACS driver.

A driver (:class:`TransferStatusDriver`) answers two questions from the PACS's own API: which transfer jobs
finished (success or failure, with the error) and which studies wait to be sent (the auto-router's state).
Orthanc is implemented; another product implements the same two methods.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..pacs.autoroute import PENDING, STATES, OrthancRouteStore, Route, job_error
from ..pacs.base import PacsError
from ..pacs.orthanc import OrthancApi
from .metrics import Family

STOW_JOB_TYPE = "DicomWebStowClient"


@dataclass
class TransferJob:
    id: str
    ok: bool
    completed: str  # the PACS's completion time stamp (sortable text)
    error: dict[str, Any] = field(default_factory=dict)


class TransferStatusDriver(ABC):
    """What the monitoring needs from a PACS product."""

    @abstractmethod
    def finished_jobs(self) -> list[TransferJob]:
        """Transfer jobs to DICOMweb destinations that finished, as far back as the PACS remembers."""

    @abstractmethod
    def routes(self) -> list[Route]:
        """The auto-router's state of every study it handles."""


class OrthancTransferStatus(TransferStatusDriver):
    """Orthanc: STOW-RS jobs from ``/jobs?expand``; route state from each study's ``StowpathRoute`` metadata
    (studies found ``sent`` are cached and re-read every ``refresh_s`` seconds only)."""

    def __init__(self, api: OrthancApi, refresh_s: float = 600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.api = api
        self.store = OrthancRouteStore(api)
        self.refresh_s = refresh_s
        self.clock = clock
        self._sent: dict[str, float] = {}

    def finished_jobs(self) -> list[TransferJob]:
        status, body = self.api.request("GET", "/jobs?expand")
        if status != 200 or not isinstance(body, list):
            raise PacsError(f"cannot list the PACS jobs (HTTP {status})", "check the PACS REST API")
        jobs = []
        for j in body:
            if j.get("Type") != STOW_JOB_TYPE or j.get("State") not in ("Success", "Failure"):
                continue
            ok = j.get("State") == "Success"
            jobs.append(TransferJob(str(j.get("ID")), ok, str(j.get("CompletionTime") or j.get("Timestamp") or ""),
                                    {} if ok else job_error(j)))
        return jobs

    def routes(self) -> list[Route]:
        now = self.clock()
        out = []
        for study in self.store.studies():
            if study in self._sent and now - self._sent[study] < self.refresh_s:
                continue
            route = self.store.load(study)
            if route is None:
                continue
            if route.state == "sent":
                self._sent[study] = now
            else:
                self._sent.pop(study, None)
                out.append(route)
        return out


class PacsCollector:
    """Keeps job counters across scrapes (a job is counted once, when first seen finished)."""

    def __init__(self, site: str, driver: TransferStatusDriver, clock: Callable[[], float] = time.time) -> None:
        self.site = site
        self.driver = driver
        self.clock = clock
        self.seen: set[str] = set()
        self.counts = {"success": 0, "failure": 0}
        self.last: TransferJob | None = None
        self.last_failure: TransferJob | None = None

    def collect(self) -> list[Family]:
        up = Family("stowpath_pacs_up", "gauge", "1 if the PACS API answered")
        jobs = Family("stowpath_pacs_transfer_jobs", "counter",
                      "transfer jobs to the cloud destination that finished, by result (counted by the exporter)")
        last_ok = Family("stowpath_pacs_last_transfer_ok", "gauge", "1 if the newest finished transfer job succeeded")
        last_http = Family("stowpath_pacs_last_failure_http_status", "gauge",
                           "HTTP status of the newest failed transfer job (0: none or not an HTTP error)")
        last_curl = Family("stowpath_pacs_last_failure_curl_error", "gauge",
                           "curl error number of the newest failed transfer job (0: none or not a network error)")
        last_orthanc = Family("stowpath_pacs_last_failure_pacs_error", "gauge",
                              "the PACS's own error code of the newest failed transfer job (0: none)")
        studies = Family("stowpath_pacs_route_studies", "gauge", "studies handled by the auto-router, by state "
                         "(queued, sending, retrying; sent ones are not counted)")
        oldest = Family("stowpath_pacs_oldest_pending_study_age_seconds", "gauge",
                        "age of the oldest study waiting to be sent to the cloud (0: none waiting)")
        attempts = Family("stowpath_pacs_pending_failed_attempts", "gauge",
                          "failed attempts summed over the studies still waiting")
        fams = [up, jobs, last_ok, last_http, last_curl, last_orthanc, studies, oldest, attempts]
        labels = {"site": self.site}
        try:
            finished = self.driver.finished_jobs()
            routes = self.driver.routes()
        except PacsError:
            up.add(0, **labels)
            return fams
        up.add(1, **labels)
        for job in sorted(finished, key=lambda j: j.completed):
            if job.id not in self.seen:
                self.seen.add(job.id)
                self.counts["success" if job.ok else "failure"] += 1
            if self.last is None or job.completed >= self.last.completed:
                self.last = job
            if not job.ok and (self.last_failure is None or job.completed >= self.last_failure.completed):
                self.last_failure = job
        for result, n in self.counts.items():
            jobs.add(n, **labels, result=result)
        if self.last is not None:
            last_ok.add(self.last.ok, **labels)
        err = self.last_failure.error if self.last_failure is not None else {}
        last_http.add(err.get("http_status") or 0, **labels)
        last_curl.add(err.get("curl_error") or 0, **labels)
        last_orthanc.add(err.get("orthanc_error") or 0, **labels)
        now = self.clock()
        for state in STATES:
            if state in PENDING:
                studies.add(sum(1 for r in routes if r.state == state), **labels, state=state)
        pending = [r for r in routes if r.state in PENDING]
        oldest.add(max((now - r.first_seen for r in pending), default=0.0), **labels)
        attempts.add(sum(r.attempts - (1 if r.state == "sending" else 0) for r in pending), **labels)
        return fams
