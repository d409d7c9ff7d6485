"""IPsec and BGP state as metrics, from the platform registry's state readers.

The readers (``platforms.get(name).state_for(transport)``) return the neutral shapes of
``verify/model.py`` on every platform: on a Linux gateway they read VICI through ``swanctl --raw`` and FRR's
JSON locally, on IOS-XE/Junos they query the router over its transport. This module turns those shapes
into metric families; it never sees platform text.
"""

from __future__ import annotations

import ipaddress
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping
from typing import Any

from .metrics import Family

Query = Callable[[list[str]], dict[str, Any]]


def _match(observed: list[dict[str, Any]], want: Mapping[str, Any]) -> dict[str, Any] | None:
    """The observed IKE SA of one expected tunnel: by remote outside address, else by name; an ESTABLISHED
    one wins over others (two SAs exist for a moment during a rekey)."""
    cands = [t for t in observed if t.get("remote_outside") and t.get("remote_outside") == want.get("remote_outside")]
    if not cands:
        cands = [t for t in observed if str(t.get("name") or "").endswith(str(want.get("name")))]
    cands.sort(key=lambda t: t.get("ike_state") != "ESTABLISHED")
    return cands[0] if cands else None


def _covers(prefix: str, wanted: str) -> bool:
    try:
        p, w = ipaddress.ip_network(prefix, strict=False), ipaddress.ip_network(wanted, strict=False)
    except ValueError:
        return False
    return p.version == w.version and w.subnet_of(p)  # type: ignore[arg-type]


def ipsec_families(site: str, gateway: str, exp: Mapping[str, Any], observed: list[dict[str, Any]] | None,
                   ) -> list[Family]:
    """Per expected tunnel: IKE SA / CHILD SA state, SA ages, bytes and packets."""
    labels = {"site": site, "gateway": gateway}
    expected = Family("stowpath_ipsec_tunnels_expected", "gauge", "IPsec tunnels the site model expects")
    ike_up = Family("stowpath_ipsec_ike_sa_up", "gauge", "1 if the tunnel's IKE SA is ESTABLISHED")
    child_up = Family("stowpath_ipsec_child_sa_up", "gauge", "1 if the tunnel has at least one INSTALLED CHILD SA")
    children = Family("stowpath_ipsec_child_sas_installed", "gauge", "INSTALLED CHILD SAs of the tunnel")
    ike_age = Family("stowpath_ipsec_ike_sa_age_seconds", "gauge", "seconds since the IKE SA was established")
    child_age = Family("stowpath_ipsec_child_sa_age_seconds", "gauge",
                       "seconds since the newest INSTALLED CHILD SA was installed (rekeys reset it)")
    nbytes = Family("stowpath_ipsec_bytes", "counter", "bytes through the tunnel's INSTALLED CHILD SAs "
                    "(resets when a CHILD SA is rekeyed)")
    packets = Family("stowpath_ipsec_packets", "counter", "packets through the tunnel's INSTALLED CHILD SAs "
                     "(resets when a CHILD SA is rekeyed)")
    tunnels = list(exp.get("tunnels") or [])
    expected.add(len(tunnels), **labels)
    fams = [expected, ike_up, child_up, children, ike_age, child_age, nbytes, packets]
    if observed is None:
        return fams
    for want in tunnels:
        tl = {**labels, "tunnel": str(want["name"]), "remote": str(want.get("remote_outside") or "")}
        sa = _match(observed, want)
        up = bool(sa) and sa.get("ike_state") == "ESTABLISHED"  # type: ignore[union-attr]
        installed = [c for c in (sa or {}).get("children") or [] if c.get("state") == "INSTALLED"] if up else []
        ike_up.add(up, **tl)
        child_up.add(bool(installed), **tl)
        children.add(len(installed), **tl)
        if up:
            ike_age.add((sa or {}).get("established_s"), **tl)
        if installed:
            ages = [c["installed_s"] for c in installed if isinstance(c.get("installed_s"), (int, float))]
            if ages:
                child_age.add(min(ages), **tl)
            for direction in ("in", "out"):
                b = [c.get(f"bytes_{direction}") for c in installed]
                p = [c.get(f"packets_{direction}") for c in installed]
                if any(isinstance(v, int) for v in b):
                    nbytes.add(sum(v for v in b if isinstance(v, int)), **tl, direction=direction)
                if any(isinstance(v, int) for v in p):
                    packets.add(sum(v for v in p if isinstance(v, int)), **tl, direction=direction)
    return fams


def bgp_families(site: str, gateway: str, exp: Mapping[str, Any], bgp: Mapping[str, Any] | None) -> list[Family]:
    """Per expected BGP neighbor: Established or not, prefixes received; per cloud prefix: received from a
    neighbor, and routed (a selected route covers it)."""
    labels = {"site": site, "gateway": gateway}
    peer_up = Family("stowpath_bgp_peer_up", "gauge", "1 if the BGP session to the cloud neighbor is Established")
    pfx = Family("stowpath_bgp_peer_prefixes_received", "gauge", "prefixes accepted from the cloud neighbor")
    received = Family("stowpath_cloud_prefix_received", "gauge",
                      "1 if a BGP neighbor advertises a prefix covering the DICOMweb range")
    routed = Family("stowpath_cloud_route_present", "gauge",
                    "1 if a selected route covers the DICOMweb range (BGP or static)")
    fams = [peer_up, pfx, received, routed]
    if bgp is None:
        return fams
    neighbors = (bgp.get("summary") or {}).get("neighbors") or {}
    got = bgp.get("received") or {}
    for n in exp.get("neighbors") or []:
        state = neighbors.get(n["address"]) or {}
        nl = {**labels, "peer": str(n["address"]), "neighbor": str(n.get("name") or "")}
        peer_up.add(state.get("state") == "Established", **nl)
        count = state.get("prefixes_received")
        pfx.add(count if isinstance(count, int) and state.get("state") == "Established" else 0, **nl)
    routes = [r for r in bgp.get("routes") or [] if r.get("selected")]
    for cidr in exp.get("cloud_cidrs") or []:
        pl = {**labels, "prefix": str(cidr)}
        if exp.get("routing", "bgp") == "bgp" and exp.get("neighbors"):
            received.add(any(_covers(p, cidr) for ps in got.values() for p in ps), **pl)
        routed.add(any(_covers(str(r.get("prefix")), cidr) for r in routes), **pl)
    return fams


def collect(site: str, gateway: str, exp: Mapping[str, Any], recipe: Any, query: Query,
            clock: Callable[[], float] = time.monotonic) -> list[Family]:
    """Read tunnels and BGP through a platform's state recipe and return every network family.

    A reader that fails leaves its families without samples and sets ``stowpath_state_read_success`` 0
    (the alert rules then see "no data" for that part, and ExporterDown-style rules see the failure).
    """
    ok = Family("stowpath_state_read_success", "gauge", "1 if reading the gateway's state worked (what: tunnels|bgp)")
    took = Family("stowpath_state_read_duration_seconds", "gauge", "seconds the state read took")
    errors: dict[str, str] = {}
    observed: list[dict[str, Any]] | None = None
    bgp: dict[str, Any] | None = None
    labels = {"site": site, "gateway": gateway}
    t0 = clock()
    if exp.get("tunnels"):
        try:
            observed = list(recipe.tunnels(query, exp)[0])
        except Exception as exc:  # noqa: BLE001 - any reader failure is "could not read", reported as a metric
            errors["tunnels"] = str(exc)
        ok.add("tunnels" not in errors, **labels, what="tunnels")
    if exp.get("neighbors") or exp.get("cloud_cidrs"):
        try:
            bgp = dict(recipe.bgp(query, exp))
        except Exception as exc:  # noqa: BLE001
            errors["bgp"] = str(exc)
        ok.add("bgp" not in errors, **labels, what="bgp")
    took.add(round(clock() - t0, 3), **labels)
    return [*ipsec_families(site, gateway, exp, observed), *bgp_families(site, gateway, exp, bgp), ok, took]


def local_query(timeout: float = 20.0) -> Query:
    """The generic executor on the gateway itself: each query is a command line, run without a shell."""

    def query(queries: list[str]) -> dict[str, Any]:
        answers: dict[str, Any] = {}
        for q in queries:
            proc = subprocess.run(shlex.split(q), capture_output=True, text=True, timeout=timeout, check=False)
            if proc.returncode != 0:
                raise RuntimeError(f"{q} failed (rc {proc.returncode}): {(proc.stderr or proc.stdout).strip()[:300]}")
            answers[q] = proc.stdout
        return answers

    return query
