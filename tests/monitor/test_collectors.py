"""Collectors as pure functions: exposition format, IPsec/BGP families, PACS transfers, the auto-router."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.monitor import network
from ansible_collections.stowpath.core.plugins.module_utils.monitor.metrics import Family, render, write_textfile
from ansible_collections.stowpath.core.plugins.module_utils.monitor.pacs import (
    PacsCollector,
    TransferJob,
    TransferStatusDriver,
)
from ansible_collections.stowpath.core.plugins.module_utils.pacs.autoroute import Backoff, Route, Router, job_error
from ansible_collections.stowpath.core.plugins.module_utils.pacs.base import PacsError

EXP = {"tunnels": [{"name": "tun1", "remote_outside": "192.0.2.61"}, {"name": "tun2", "remote_outside": "192.0.2.188"}],
       "neighbors": [{"name": "tun1", "address": "169.254.21.5"}, {"name": "tun2", "address": "169.254.22.5"}],
       "routing": "bgp", "cloud_cidrs": ["203.0.113.128/26"]}


def _samples(fams: list[Family], name: str) -> dict[tuple, float]:
    fam = next(f for f in fams if f.name == name)
    return {tuple(sorted(lab.items())): v for lab, v in fam.samples}


def test_render_exposition_format(tmp_path: Path) -> None:
    f = Family("stowpath_x", "counter", "help \\ text")
    f.add(3, site='a"b')
    text = render([f])
    assert '# TYPE stowpath_x counter\nstowpath_x_total{site="a\\"b"} 3\n' in text
    write_textfile(str(tmp_path / "x.prom"), [f])
    assert (tmp_path / "x.prom").read_text() == text


def test_ipsec_one_tunnel_down() -> None:
    observed = [{"name": "stowpath-tun1", "ike_state": "ESTABLISHED", "remote_outside": "192.0.2.61", "established_s": 40,
                 "children": [{"state": "INSTALLED", "installed_s": 30, "bytes_in": 100, "bytes_out": 50,
                               "packets_in": 2, "packets_out": 1}]},
                {"name": "stowpath-tun2", "ike_state": "CONNECTING", "remote_outside": "192.0.2.188", "children": []}]
    fams = network.ipsec_families("s", "g", EXP, observed)
    up = _samples(fams, "stowpath_ipsec_child_sa_up")
    assert [v for k, v in sorted(up.items())] == [0.0, 1.0]  # tun1 (remote .61) sorts after .188
    assert _samples(fams, "stowpath_ipsec_tunnels_expected") == {(("gateway", "g"), ("site", "s")): 2.0}
    by = _samples(fams, "stowpath_ipsec_bytes")
    assert sorted(by.values()) == [50.0, 100.0]
    assert list(_samples(fams, "stowpath_ipsec_ike_sa_age_seconds").values()) == [40.0]


def test_bgp_and_cloud_prefix() -> None:
    bgp = {"summary": {"neighbors": {"169.254.21.5": {"state": "Established", "prefixes_received": 1},
                                     "169.254.22.5": {"state": "Active"}}},
           "received": {"169.254.21.5": ["203.0.113.128/26"]},
           "routes": [{"prefix": "203.0.113.128/26", "selected": True}]}
    fams = network.bgp_families("s", "g", EXP, bgp)
    assert sorted(_samples(fams, "stowpath_bgp_peer_up").values()) == [0.0, 1.0]
    assert list(_samples(fams, "stowpath_cloud_prefix_received").values()) == [1.0]
    assert list(_samples(fams, "stowpath_cloud_route_present").values()) == [1.0]
    bgp["routes"] = []
    bgp["received"] = {}
    fams = network.bgp_families("s", "g", EXP, bgp)
    assert list(_samples(fams, "stowpath_cloud_route_present").values()) == [0.0]


def test_collect_reports_a_failed_reader_as_a_metric() -> None:
    class Recipe:
        @staticmethod
        def tunnels(query: Any, exp: Any) -> Any:
            raise RuntimeError("swanctl: connecting to 'unix:///run/charon.vici' failed")

        @staticmethod
        def bgp(query: Any, exp: Any) -> Any:
            return {"summary": {"neighbors": {}}, "received": {}, "routes": []}

    fams = network.collect("s", "g", EXP, Recipe, lambda q: {})
    ok = _samples(fams, "stowpath_state_read_success")
    assert ok[(("gateway", "g"), ("site", "s"), ("what", "tunnels"))] == 0.0
    assert ok[(("gateway", "g"), ("site", "s"), ("what", "bgp"))] == 1.0
    assert _samples(fams, "stowpath_ipsec_child_sa_up") == {}


def test_job_error_reads_http_and_curl_codes() -> None:
    assert job_error({"ErrorCode": 9, "ErrorDetails": "HTTP status code 503"})["http_status"] == 503
    err = job_error({"ErrorCode": 9, "ErrorDescription": "Error in the network protocol",
                     "ErrorDetails": "libCURL error: Couldn't connect to server (curl error 7)"})
    assert err["curl_error"] == 7 and err["http_status"] is None


class FakeDriver(TransferStatusDriver):
    def __init__(self) -> None:
        self.jobs: list[TransferJob] = []
        self.route_list: list[Route] = []

    def finished_jobs(self) -> list[TransferJob]:
        return list(self.jobs)

    def routes(self) -> list[Route]:
        return list(self.route_list)


def test_pacs_collector_counts_each_job_once() -> None:
    d = FakeDriver()
    c = PacsCollector("s", d, clock=lambda: 1000.0)
    d.jobs = [TransferJob("a", True, "20260101T000001"), TransferJob("b", False, "20260101T000002", {"http_status": 503})]
    d.route_list = [Route("st1", state="retrying", attempts=2, first_seen=400.0)]
    c.collect()
    fams = c.collect()
    jobs = _samples(fams, "stowpath_pacs_transfer_jobs")
    assert jobs[(("result", "failure"), ("site", "s"))] == 1.0 and jobs[(("result", "success"), ("site", "s"))] == 1.0
    assert list(_samples(fams, "stowpath_pacs_last_transfer_ok").values()) == [0.0]
    assert list(_samples(fams, "stowpath_pacs_last_failure_http_status").values()) == [503.0]
    assert list(_samples(fams, "stowpath_pacs_oldest_pending_study_age_seconds").values()) == [600.0]


class FakeStore:
    """An in-memory PACS: studies, their route metadata, a change feed and jobs whose outcome the test sets."""

    def __init__(self) -> None:
        self.meta: dict[str, str] = {}
        self.feed: list[dict[str, Any]] = []
        self.jobs: dict[str, dict[str, Any]] = {}
        self.started: list[str] = []
        self.fail_next = 0

    def load(self, study: str) -> Route | None:
        return Route.from_json(study, self.meta[study]) if study in self.meta else None

    def save(self, route: Route) -> None:
        self.meta[route.study] = route.to_json()

    def studies(self) -> list[str]:
        return sorted({c["ID"] for c in self.feed})

    def study_exists(self, study: str) -> bool:
        return True

    def changes(self, since: int, limit: int = 200) -> tuple[list[dict[str, Any]], int, bool]:
        new = [c for c in self.feed if c["Seq"] > since]
        return new, max([since, *(c["Seq"] for c in new)]), True

    def last_change(self) -> int:
        return 0

    def start_job(self, destination: str, study: str) -> str:
        job = f"job-{len(self.started)}"
        self.started.append(study)
        self.jobs[job] = {"State": "Running"}
        return job

    def job(self, job_id: str) -> dict[str, Any] | None:
        return self.jobs.get(job_id)

    def stable(self, study: str) -> None:
        self.feed.append({"Seq": len(self.feed) + 1, "ChangeType": "StableStudy", "ResourceType": "Study", "ID": study})


@pytest.fixture
def clock() -> list[float]:
    return [1000.0]


def test_router_retries_with_backoff_and_sends_once(tmp_path: Path, clock: list[float]) -> None:
    store = FakeStore()
    router = Router(store, "cloud", str(tmp_path / "state.json"), backoff=Backoff(10, 100, jitter=0.0),
                    clock=lambda: clock[0], log=lambda m: None)
    store.stable("s1")
    router.step()
    assert store.started == ["s1"]
    router.step()
    assert store.started == ["s1"], "never a second job while one runs"
    store.jobs["job-0"] = {"State": "Failure", "ErrorCode": 9, "ErrorDetails": "HTTP status code 503"}
    router.step()
    route = store.load("s1")
    assert route and route.state == "retrying" and route.next_try == 1010.0
    assert route.last_error["http_status"] == 503
    clock[0] = 1005.0
    router.step()
    assert store.started == ["s1"], "waits for the backoff"
    clock[0] = 1011.0
    router.step()
    assert store.started == ["s1", "s1"]
    store.jobs["job-1"] = {"State": "Success"}
    router.step()
    route = store.load("s1")
    assert route and route.state == "sent" and route.attempts == 2
    assert json.loads((tmp_path / "state.json").read_text())["cursor"] == 1


def test_router_resumes_pending_studies_after_a_restart(tmp_path: Path, clock: list[float]) -> None:
    store = FakeStore()
    r1 = Router(store, "cloud", str(tmp_path / "state.json"), clock=lambda: clock[0], log=lambda m: None)
    store.stable("s1")
    store.stable("s2")
    r1.step()
    store.jobs["job-0"] = {"State": "Success"}
    r2 = Router(store, "cloud", str(tmp_path / "state.json"), clock=lambda: clock[0], log=lambda m: None)
    r2.step()
    assert store.load("s1").state == "sent"  # type: ignore[union-attr]
    assert store.started == ["s1", "s2"], "no study twice, none lost"


def test_backoff_is_capped() -> None:
    b = Backoff(30, 1800, jitter=0.0)
    assert [b.delay(n) for n in (1, 2, 3, 10)] == [30, 60, 120, 1800]


def test_store_error_names_the_orthanc_setting() -> None:
    from ansible_collections.stowpath.core.plugins.module_utils.pacs.autoroute import OrthancRouteStore

    class Api:
        def request(self, *a: Any, **k: Any) -> tuple[int, Any]:
            return 400, None

    with pytest.raises(PacsError) as exc:
        OrthancRouteStore(Api()).save(Route("s"))  # type: ignore[arg-type]
    assert "UserMetadata" in exc.value.action
