"""stowpath's exporter on the monitoring host (Python ``prometheus-client``): STOW-RS canary, certificate
expiry, PACS transfers, and IPsec/BGP state of routers polled over their transport.

    python -m ansible_collections.stowpath.core.plugins.module_utils.monitor.exporter \\
        --config /etc/stowpath-monitor/exporter.json

Every collector runs in its own thread at its own interval (the canary every 5 minutes by default, a
router every 60 s: a sane load for a production router's CLI/NETCONF) and a scrape only reads the last
results, so a slow cloud never makes Prometheus time out. Config (JSON, mode 0600, written by the role
``monitor_stowpath_exporter``)::

    {"listen": "0.0.0.0", "port": 9469, "cert_expiry_warn_days": 30,
     "sites": [{"site": "lab-facility",
                "dicomweb": {"url": ..., "ca_bundle": ..., "client_cert": ..., "client_key": ...},
                "canary": {"interval_s": 300, "study_uid": ...}, "certs": {"interval_s": 300},
                "pacs": {"product": "orthanc", "api_url": ..., "username": ..., "password": ..., "interval_s": 30},
                "gateways": [{"gateway": ..., "device": {"platform": PLATFORM, "transport": TRANSPORT,
                              "host": ..., "username": ..., ...}, "model": {...}, "interval_s": 60}]}]}
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from ..dicomweb.target import Target
from .canary import DEFAULT_CANARY_STUDY_UID, run_canary
from .certs import file_cert_days, server_cert_days
from .metrics import Family

# canary latency buckets (seconds): a 30 KB instance over a VPN takes well under a second when healthy
CANARY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


def target_from(cfg: dict[str, Any]) -> Target:
    return Target(url=cfg["url"], ca_bundle=cfg.get("ca_bundle") or None,
                  connect_address=cfg.get("connect_address") or None, timeout=float(cfg.get("timeout", 30)),
                  client_cert=cfg.get("client_cert") or None, client_key=cfg.get("client_key") or None,
                  client_key_password=cfg.get("client_key_password") or None,
                  username=cfg.get("username") or None, password=cfg.get("password") or None)


class CanaryCollector:
    """Runs the canary; keeps counters by result and the latency histogram's buckets itself (so the
    families are plain data, like every other collector's)."""

    def __init__(self, site: str, target: Target, study_uid: str) -> None:
        self.site, self.target, self.study_uid = site, target, study_uid
        self.runs: dict[str, int] = {}
        self.buckets = [0] * (len(CANARY_BUCKETS) + 1)
        self.sum, self.count = 0.0, 0
        self.last: Any = None
        self.last_ts = 0.0
        self.last_ok_ts = 0.0

    def collect(self) -> list[Family]:
        res = run_canary(self.target, self.study_uid)
        self.last, self.last_ts = res, time.time()
        self.runs[res.reason] = self.runs.get(res.reason, 0) + 1
        if res.ok:
            self.last_ok_ts = self.last_ts
            for i, bound in enumerate(CANARY_BUCKETS):
                if res.total_s <= bound:
                    self.buckets[i] += 1
            self.buckets[-1] += 1
            self.sum += res.total_s
            self.count += 1
        return self.families()

    def families(self) -> list[Family]:
        labels = {"site": self.site}
        ok = Family("stowpath_canary_success", "gauge", "1 if the last canary (STOW-RS upload + QIDO-RS lookup) succeeded")
        runs = Family("stowpath_canary_runs", "counter", "canary runs by result (ok or the failure reason)")
        reason = Family("stowpath_canary_failure", "gauge",
                        "1 with the reason label of the last canary's failure (absent when it succeeded)")
        last = Family("stowpath_canary_last_run_timestamp_seconds", "gauge", "when the last canary finished")
        last_ok = Family("stowpath_canary_last_success_timestamp_seconds", "gauge", "when a canary last succeeded")
        stow_s = Family("stowpath_canary_stow_seconds", "gauge", "STOW-RS request time of the last canary")
        qido_s = Family("stowpath_canary_qido_seconds", "gauge", "QIDO-RS time until the last canary's instance was listed")
        if self.last is not None:
            ok.add(self.last.ok, **labels)
            if not self.last.ok:
                reason.add(1, **labels, reason=self.last.reason)
            last.add(self.last_ts, **labels)
            stow_s.add(self.last.stow_s, **labels)
            qido_s.add(self.last.qido_s, **labels)
        if self.last_ok_ts:
            last_ok.add(self.last_ok_ts, **labels)
        for r, n in sorted(self.runs.items()):
            runs.add(n, **labels, result=r)
        hist = Family("stowpath_canary_latency_seconds", "histogram",
                      "time from the start of the STOW-RS upload until QIDO-RS lists the instance (successful canaries)")
        for bound, n in zip(CANARY_BUCKETS, self.buckets[:-1], strict=True):
            hist.add(n, **labels, le=repr(float(bound)))
        hist.add(self.buckets[-1], **labels, le="+Inf")
        hist.samples.append(({**labels, "__suffix__": "_sum"}, self.sum))
        hist.samples.append(({**labels, "__suffix__": "_count"}, float(self.count)))
        return [ok, runs, reason, last, last_ok, stow_s, qido_s, hist]


class CertCollector:
    def __init__(self, site: str, cfg: dict[str, Any], warn_days: float) -> None:
        self.site, self.cfg, self.warn_days = site, cfg, warn_days

    def collect(self) -> list[Family]:
        labels = {"site": self.site}
        days = Family("stowpath_cert_expiry_days", "gauge", "days until the certificate expires (negative: expired)")
        ok = Family("stowpath_cert_read_success", "gauge", "1 if the certificate could be read")
        warn = Family("stowpath_cert_expiry_warn_days", "gauge", "cert_expiry_warn_days: ClientCertExpiringSoon's threshold")
        warn.add(self.warn_days, **labels)
        if self.cfg.get("client_cert"):
            try:
                days.add(file_cert_days(self.cfg["client_cert"]), **labels, cert="client")
                ok.add(1, **labels, cert="client")
            except (OSError, ValueError):
                ok.add(0, **labels, cert="client")
        try:
            d, _ = server_cert_days(self.cfg["url"], self.cfg.get("connect_address") or None)
            days.add(d, **labels, cert="server")
            ok.add(1, **labels, cert="server")
        except (OSError, ValueError):
            ok.add(0, **labels, cert="server")
        return [days, ok, warn]


class RouterCollector:
    """IPsec/BGP state of a router (IOS-XE, Junos) read over its transport with the platform's state recipe."""

    def __init__(self, site: str, cfg: dict[str, Any]) -> None:
        self.site, self.cfg = site, cfg

    def collect(self) -> list[Family]:
        from ..transports.ansible_args import connection
        from ..transports.base import open_transport
        from ..transports.errors import TransportError
        from ..verify.model import expected
        from . import network

        spec, transport, conn = connection(self.cfg["device"])
        exp = expected(self.cfg["model"])
        try:
            with open_transport(spec, transport, conn, conn.secrets()) as t:
                return network.collect(self.site, self.cfg["gateway"], exp, spec.state_for(transport), t.query)
        except TransportError:
            fam = Family("stowpath_state_read_success", "gauge", "1 if reading the gateway's state worked")
            fam.add(0, site=self.site, gateway=self.cfg["gateway"], what="transport")
            return [fam]


class Loop:
    """One collector on its own thread; ``families`` holds the last result."""

    def __init__(self, name: str, interval_s: float, fn: Callable[[], list[Family]], site: str = "") -> None:
        self.name, self.interval_s, self.fn, self.site = name, max(1.0, interval_s), fn, site
        self.families: list[Family] = []
        self.ok: bool | None = None  # None until the first round finished
        self.duration = 0.0
        self.lock = threading.Lock()

    def once(self) -> None:
        t0 = time.monotonic()
        try:
            fams = self.fn()
            ok = True
        except Exception as exc:  # noqa: BLE001 - a collector failure is a metric, never the end of the exporter
            print(f"stowpath exporter: {self.name}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            fams, ok = [], False
        with self.lock:
            self.families, self.ok, self.duration = fams, ok, time.monotonic() - t0

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            t0 = time.monotonic()
            self.once()
            stop.wait(max(0.0, self.interval_s - (time.monotonic() - t0)))


def build_loops(config: dict[str, Any]) -> list[Loop]:
    from ..pacs.orthanc import OrthancApi
    from .pacs import OrthancTransferStatus, PacsCollector

    loops: list[Loop] = []
    warn = float(config.get("cert_expiry_warn_days", 30))
    for s in config.get("sites") or []:
        site = s["site"]
        dw = s.get("dicomweb")
        if dw and (s.get("canary") or {}).get("enabled", True):
            c = s.get("canary") or {}
            canary = CanaryCollector(site, target_from(dw), c.get("study_uid") or DEFAULT_CANARY_STUDY_UID)
            loops.append(Loop(f"{site}/canary", float(c.get("interval_s", 300)), canary.collect, site))
        if dw:
            certs = CertCollector(site, dw, warn)
            loops.append(Loop(f"{site}/certs", float((s.get("certs") or {}).get("interval_s", 300)), certs.collect, site))
        p = s.get("pacs")
        if p and p.get("product", "orthanc") == "orthanc":
            api = OrthancApi(p["api_url"], p.get("username") or None, p.get("password") or None, timeout=10)
            pc = PacsCollector(site, OrthancTransferStatus(api))
            loops.append(Loop(f"{site}/pacs", float(p.get("interval_s", 30)), pc.collect, site))
        for g in s.get("gateways") or []:
            rc = RouterCollector(site, g)
            loops.append(Loop(f"{site}/{g['gateway']}", float(g.get("interval_s", 60)), rc.collect, site))
    return loops


def to_prometheus(families: list[Family]) -> Iterator[Any]:
    """prometheus-client metric families from ours (same names, types and labels)."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

    merged: dict[tuple[str, str], Family] = {}
    for f in families:
        merged.setdefault((f.name, f.kind), Family(f.name, f.kind, f.help)).samples.extend(f.samples)
    for (name, kind), fam in merged.items():
        out: Metric
        if kind == "histogram":
            out = HistogramMetricFamily(name, fam.help, labels=None)
            for labels, value in fam.samples:
                labels = dict(labels)
                suffix = labels.pop("__suffix__", "_bucket")
                out.add_sample(name + suffix, labels, value)
        else:
            cls = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            out = cls(name, fam.help)
            for labels, value in fam.samples:
                out.add_sample(name + ("_total" if kind == "counter" else ""), labels, value)
        yield out


class LoopsCollector:
    def __init__(self, loops: list[Loop]) -> None:
        self.loops = loops

    def collect(self) -> Iterator[Any]:
        fams: list[Family] = []
        ok = Family("stowpath_collector_success", "gauge", "1 if the collector's last round worked")
        took = Family("stowpath_collector_duration_seconds", "gauge", "seconds the collector's last round took")
        for loop in self.loops:
            with loop.lock:
                fams.extend(loop.families)
                if loop.ok is not None:
                    ok.add(loop.ok, site=loop.site, collector=loop.name)
                    took.add(round(loop.duration, 3), site=loop.site, collector=loop.name)
        yield from to_prometheus([*fams, ok, took])


def main(argv: list[str] | None = None) -> int:
    from prometheus_client import start_http_server
    from prometheus_client.core import REGISTRY

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True)
    a = p.parse_args(argv)
    with open(a.config, encoding="utf-8") as fh:
        config = json.load(fh)
    loops = build_loops(config)
    REGISTRY.register(LoopsCollector(loops))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    start_http_server(int(config.get("port", 9469)), addr=str(config.get("listen", "0.0.0.0")))
    threads = [threading.Thread(target=lp.run, args=(stop,), name=lp.name, daemon=True) for lp in loops]
    for t in threads:
        t.start()
    stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
