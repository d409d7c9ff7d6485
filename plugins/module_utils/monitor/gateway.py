"""The Linux gateway's collector: IPsec (VICI via ``swanctl --raw``) and BGP (FRR JSON) state, read locally
every ``interval`` seconds and written for the node exporter's textfile collector. Standard library only:
it runs with the gateway's system Python.

    python3 -m ansible_collections.stowpath.core.plugins.module_utils.monitor.gateway \\
        --config /etc/stowpath-monitor/gateway.json [--once]

Config (JSON, written by the role ``monitor_gateway_exporter``)::

    {"textfile": "/var/lib/prometheus/node-exporter/stowpath_network.prom", "interval": 15,
     "sites": [{"site": "lab-facility", "gateway": "cgw", "platform": PLATFORM, "model": {...}}]}

``model`` is the masked site model (``site_model``); what is expected of it comes from ``verify/model.py``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from typing import Any

from ..platforms import DEFAULT_PLATFORM
from ..platforms import get as get_platform
from ..verify.model import expected
from . import network
from .metrics import Family, write_textfile


def collect_all(config: dict[str, Any], query: network.Query | None = None) -> list[Family]:
    """One round over every site of the config; families of the same name are merged."""
    query = query or network.local_query()
    merged: dict[str, Family] = {}
    for entry in config.get("sites") or []:
        spec = get_platform(entry.get("platform") or DEFAULT_PLATFORM)
        recipe = spec.state_for(entry.get("transport"))
        for fam in network.collect(entry["site"], entry["gateway"], expected(entry["model"]), recipe, query):
            merged.setdefault(fam.name, Family(fam.name, fam.kind, fam.help)).samples.extend(fam.samples)
    last = Family("stowpath_collector_last_run_timestamp_seconds", "gauge",
                  "when the gateway collector last finished a round (unix time)")
    last.add(time.time(), collector="gateway")
    return [*merged.values(), last]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True)
    p.add_argument("--once", action="store_true", help="one round, then exit")
    a = p.parse_args(argv)
    with open(a.config, encoding="utf-8") as fh:
        config = json.load(fh)
    interval = max(1.0, float(config.get("interval", 15)))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        t0 = time.monotonic()
        try:
            write_textfile(config["textfile"], collect_all(config))
        except Exception as exc:  # noqa: BLE001 - keep collecting; the textfile goes stale and alerts fire
            print(f"stowpath gateway collector: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        if a.once:
            return 0
        time.sleep(max(0.0, interval - (time.monotonic() - t0)))


if __name__ == "__main__":
    sys.exit(main())
