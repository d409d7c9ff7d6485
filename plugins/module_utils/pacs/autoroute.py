"""Automatic transfers: every stable study the PACS receives goes to the cloud STOW-RS destination.

Orthanc (1.10) has no timer for its Lua scripts, so retries with backoff cannot live in Lua; this router
uses what Orthanc offers for exactly this: its change feed (``/changes``, ``StableStudy`` events), its own
DICOMweb STOW-RS jobs (``POST /dicom-web/servers/{name}/stow``, the PACS sends) and per-study metadata
(``StowpathRoute``, declared in ``UserMetadata``) for durable state, so neither a router restart nor a PACS
restart loses or duplicates a study:

* a ``StableStudy`` change puts the study in ``queued`` (again, if new instances arrived after it was sent);
* at most ``max_parallel`` studies are ``sending``; one job per study at a time, never two;
* a failed job moves the study to ``retrying`` with exponential backoff (``base * 2**(attempts-1)``, capped,
  with jitter); the job's error is kept (``last_error``) for the metrics;
* a successful job marks it ``sent``. The cloud deduplicates by SOP Instance UID, so re-sending a study whose
  first attempt partly succeeded stores each instance once.

The change-feed cursor is kept in ``state_file``; per-study state in the PACS. Run with ``main()`` (a daemon
on the PACS host, started by the role ``pacs_destination`` with ``pacs_destination_autoroute: true``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

from .base import PacsError
from .orthanc import OrthancApi

ROUTE_METADATA = "StowpathRoute"
ROUTE_METADATA_INDEX = 4601
STATES = ("queued", "sending", "retrying", "sent")
PENDING = ("queued", "sending", "retrying")


@dataclass
class Backoff:
    base_s: float = 30.0
    max_s: float = 1800.0
    jitter: float = 0.2

    def delay(self, attempts: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after the ``attempts``-th failure (1, 2, ...)."""
        raw = min(self.max_s, self.base_s * (2 ** max(0, attempts - 1)))
        return round(raw * (1 - self.jitter + 2 * self.jitter * rand()), 3)


@dataclass
class Route:
    """One study's transfer state (stored as JSON in the study's ``StowpathRoute`` metadata)."""

    study: str
    state: str = "queued"
    destination: str = ""
    attempts: int = 0
    first_seen: float = 0.0
    next_try: float = 0.0
    job: str = ""
    sent_at: float | None = None
    last_error: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("study")
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, study: str, text: Any) -> Route | None:
        try:
            data = json.loads(text) if isinstance(text, (str, bytes)) else dict(text)
        except (TypeError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("state") not in STATES:
            return None
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "study"}
        return cls(study=study, **known)


def job_error(job: dict[str, Any]) -> dict[str, Any]:
    """The error of a failed Orthanc job: Orthanc's ErrorCode/description, and the HTTP status or the curl
    error the DICOMweb plugin reports in ErrorDetails (``HTTP status code 404``, ``curl error 7`` ...)."""
    import re

    details = str(job.get("ErrorDetails") or "")
    content = job.get("Content") or {}
    http = re.search(r"HTTP[^0-9]{0,24}(\d{3})", details, re.IGNORECASE)
    curl = re.search(r"curl[^0-9]*(\d+)", details, re.IGNORECASE)
    return {"orthanc_error": job.get("ErrorCode"), "description": job.get("ErrorDescription"),
            "function_error": content.get("FunctionErrorCode"),
            "http_status": int(http.group(1)) if http else None, "curl_error": int(curl.group(1)) if curl else None,
            "details": details[:300]}


class OrthancRouteStore:
    """Route state in the Orthanc itself (study metadata) and the calls the router makes."""

    def __init__(self, api: OrthancApi) -> None:
        self.api = api

    def _meta_path(self, study: str) -> str:
        return f"/studies/{quote(study, safe='')}/metadata/{ROUTE_METADATA}"

    def load(self, study: str) -> Route | None:
        status, body = self.api.request("GET", self._meta_path(study))
        if status != 200 or body is None:
            return None
        text = body.decode() if isinstance(body, bytes) else json.dumps(body)
        return Route.from_json(study, text)

    def save(self, route: Route) -> None:
        status, _ = self.api.request("PUT", self._meta_path(route.study), data=route.to_json().encode(),
                                     content_type="text/plain")
        if status not in (200, 204):
            raise PacsError(f"cannot store the route state of study {route.study} (HTTP {status})",
                            f"declare the metadata in Orthanc's configuration: \"UserMetadata\": "
                            f"{{\"{ROUTE_METADATA}\": {ROUTE_METADATA_INDEX}}}")

    def studies(self) -> list[str]:
        status, body = self.api.request("GET", "/studies")
        return [str(s) for s in body] if status == 200 and isinstance(body, list) else []

    def study_exists(self, study: str) -> bool:
        return self.api.request("GET", f"/studies/{quote(study, safe='')}")[0] == 200

    def changes(self, since: int, limit: int = 200) -> tuple[list[dict[str, Any]], int, bool]:
        status, body = self.api.request("GET", f"/changes?since={since}&limit={limit}")
        if status != 200 or not isinstance(body, dict):
            raise PacsError(f"cannot read the PACS change feed (HTTP {status})", "check the PACS REST API")
        return list(body.get("Changes") or []), int(body.get("Last", since)), bool(body.get("Done", True))

    def last_change(self) -> int:
        status, body = self.api.request("GET", "/changes?last")
        return int(body.get("Last", 0)) if status == 200 and isinstance(body, dict) else 0

    def start_job(self, destination: str, study: str) -> str:
        status, body = self.api.request("POST", f"/dicom-web/servers/{quote(destination, safe='')}/stow",
                                        body={"Resources": [study], "Synchronous": False})
        if status != 200 or not isinstance(body, dict) or "ID" not in body:
            raise PacsError(f"the PACS did not start the STOW-RS job for study {study} (HTTP {status})",
                            f"check that the destination {destination!r} exists on the PACS")
        return str(body["ID"])

    def job(self, job_id: str) -> dict[str, Any] | None:
        status, body = self.api.request("GET", f"/jobs/{quote(job_id, safe='')}")
        return body if status == 200 and isinstance(body, dict) else None


class Router:
    """The routing state machine (one ``step()`` per poll); ``store`` is the PACS (Orthanc driver)."""

    def __init__(self, store: OrthancRouteStore, destination: str, state_file: str, *,
                 backoff: Backoff | None = None, max_parallel: int = 2, backfill: bool = False,
                 clock: Callable[[], float] = time.time, log: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.destination = destination
        self.state_file = state_file
        self.backoff = backoff or Backoff()
        self.max_parallel = max(1, max_parallel)
        self.clock = clock
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.active: dict[str, Route] = {}
        self.cursor = self._load_cursor(backfill)
        self._rebuild()

    def _load_cursor(self, backfill: bool) -> int:
        try:
            with open(self.state_file, encoding="utf-8") as fh:
                return int(json.load(fh)["cursor"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0 if backfill else self.store.last_change()

    def _save_cursor(self) -> None:
        tmp = self.state_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"cursor": self.cursor, "destination": self.destination}, fh)
        os.replace(tmp, self.state_file)

    def _rebuild(self) -> None:
        """Studies left pending by an earlier run (the PACS keeps their state)."""
        for study in self.store.studies():
            route = self.store.load(study)
            if route is not None and route.state in PENDING:
                self.active[study] = route

    def enqueue(self, study: str) -> Route:
        now = self.clock()
        route = self.active.get(study) or self.store.load(study)
        if route is not None and route.state in PENDING:
            # new instances while a job runs: send the study once more after this attempt
            route.last_error = {**route.last_error, "requeue": True} if route.state == "sending" else route.last_error
            self.active[study] = route
            self.store.save(route)
            return route
        route = Route(study=study, state="queued", destination=self.destination, first_seen=now, next_try=now)
        self.active[study] = route
        self.store.save(route)
        self.log(f"queued study {study}")
        return route

    def _poll_changes(self) -> None:
        while True:
            changes, last, done = self.store.changes(self.cursor)
            for ch in changes:
                if ch.get("ChangeType") == "StableStudy" and ch.get("ResourceType") == "Study":
                    self.enqueue(str(ch["ID"]))
            if last != self.cursor:
                self.cursor = last
                self._save_cursor()
            if done or not changes:
                return

    def _finish(self, route: Route, job: dict[str, Any] | None) -> None:
        now = self.clock()
        if job is not None and job.get("State") == "Success":
            requeue = bool(route.last_error.get("requeue"))
            route.state, route.sent_at, route.job, route.last_error = "sent", now, "", {}
            self.log(f"sent study {route.study} (attempt {route.attempts})")
            if requeue:
                route.state, route.next_try = "queued", now
        else:
            route.last_error = job_error(job) if job is not None else {"details": "job lost (PACS restarted?)"}
            route.state, route.job = "retrying", ""
            route.next_try = now + self.backoff.delay(route.attempts)
            self.log(f"study {route.study}: attempt {route.attempts} failed ({route.last_error.get('details') or route.last_error.get('description')}); "
                     f"retry in {route.next_try - now:.0f} s")
        self.store.save(route)
        if route.state == "sent":
            self.active.pop(route.study, None)

    def step(self) -> None:
        self._poll_changes()
        now = self.clock()
        sending = [r for r in self.active.values() if r.state == "sending"]
        for route in sending:
            job = self.store.job(route.job)
            if job is None or job.get("State") in ("Success", "Failure"):
                self._finish(route, job)
        busy = sum(1 for r in self.active.values() if r.state == "sending")
        due = sorted((r for r in self.active.values() if r.state in ("queued", "retrying") and r.next_try <= now),
                     key=lambda r: (r.next_try, r.first_seen))
        for route in due[: max(0, self.max_parallel - busy)]:
            if not self.store.study_exists(route.study):
                self.active.pop(route.study, None)
                continue
            route.attempts += 1
            try:
                route.job = self.store.start_job(self.destination, route.study)
            except PacsError as exc:
                route.last_error = {"details": str(exc)}
                route.state, route.next_try = "retrying", now + self.backoff.delay(route.attempts)
                self.store.save(route)
                continue
            route.state = "sending"
            self.store.save(route)


def run(router: Router, poll_s: float = 1.0) -> None:
    while True:
        try:
            router.step()
        except PacsError as exc:
            router.log(f"autoroute: {exc} ({exc.action})")
        time.sleep(poll_s)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="stowpath auto-router: stable PACS studies -> cloud STOW-RS")
    p.add_argument("--config", required=True, help="JSON: api_url, api_username, api_password, destination, "
                                                   "state_file, backoff_base_s, backoff_max_s, max_parallel, poll_s")
    a = p.parse_args(argv)
    with open(a.config, encoding="utf-8") as fh:
        cfg = json.load(fh)
    api = OrthancApi(cfg.get("api_url", "http://127.0.0.1:8042"), cfg.get("api_username") or None,
                     cfg.get("api_password") or None, timeout=float(cfg.get("api_timeout", 30)))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        try:
            router = Router(OrthancRouteStore(api), cfg["destination"], cfg["state_file"],
                            backoff=Backoff(float(cfg.get("backoff_base_s", 30)), float(cfg.get("backoff_max_s", 1800))),
                            max_parallel=int(cfg.get("max_parallel", 2)), backfill=bool(cfg.get("backfill", False)))
            break
        except PacsError as exc:  # the PACS is not up yet
            print(f"autoroute: {exc}; retrying in 5 s", file=sys.stderr, flush=True)
            time.sleep(5)
    run(router, float(cfg.get("poll_s", 1.0)))
    return 0


def manual_checklist(destination: str, stable_age_s: int = 60) -> list[dict[str, str]]:
    """The auto-routing settings to enter by hand on a PACS without an API (``pacs_product: manual``)."""
    return [
        {"setting": "Auto-routing rule", "value": f"every received study -> DICOMweb destination {destination!r}"},
        {"setting": "Trigger", "value": f"study complete / stable (no new instance for {stable_age_s} s)"},
        {"setting": "Retries", "value": "unlimited (or >= 48), exponential backoff from 30 s up to 30 min"},
        {"setting": "On final failure", "value": "keep the study queued and raise an alert; never drop it"},
        {"setting": "Duplicates", "value": "re-send the whole study on retry: the cloud stores each SOP Instance UID once"},
        {"setting": "Monitoring", "value": "expose failed/queued transfer counts (or their log) to the monitoring host"},
    ]


if __name__ == "__main__":
    sys.exit(main())
