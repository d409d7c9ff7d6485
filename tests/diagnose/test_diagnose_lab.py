"""diagnose-site.yml against the live lab: healthy and read-only, then every fault of the catalogue
(``lab.py fault NAME``) diagnosed with the right layer and cause, each cleared in a finally.

The lab is shared: faults are injected one at a time, in one module-scoped pass, and always cleared.
The results (what diagnose said, how long it took) go to ``reports/diagnose-catalogue.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
LAB = [sys.executable, str(REPO / "lab" / "lab.py")]
INVENTORY = REPO / "inventories" / "lab"
SITES = {"cgw": "lab-facility", "cgwdx": "lab-facility-dx"}

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]

# fault -> (inventory host, layer, cause, status)
EXPECTED: dict[str, tuple[str, str, str, str]] = {
    "psk-mismatch": ("cgw", "gateway", "ike.auth_failed", "broken"),
    "vpn-endpoint-down": ("cgw", "gateway", "ike.peer_unreachable", "degraded"),
    "vpn-down": ("cgw", "gateway", "ike.peer_unreachable", "broken"),
    "bgp-asn-mismatch": ("cgw", "routing", "bgp.peer_as_mismatch", "broken"),
    "dx-md5-mismatch": ("cgwdx", "routing", "bgp.auth_failed", "broken"),
    "prefix-withdrawn": ("cgw", "routing", "bgp.prefix_not_received", "broken"),
    "route-via-internet": ("cgw", "routing", "route.via_internet", "broken"),
    "facility-fw-drop-443": ("cgw", "firewall", "firewall.foreign_rule_drops_443", "broken"),
    "cloud-fw-drop-443": ("cgw", "path", "path.tcp443_blocked", "broken"),
    "mtu-blackhole": ("cgw", "path", "path.mtu_blackhole", "broken"),
    "transit-loss": ("cgw", "path", "path.packet_loss", ""),
    "transit-squeeze": ("cgw", "path", "path.low_throughput", "degraded"),
    "server-cert-expired": ("cgw", "tls", "tls.server_cert_expired", "broken"),
    "client-cert-untrusted": ("cgw", "tls", "tls.client_cert_rejected", "broken"),
    "stow-path-404": ("cgw", "http", "http.path_not_found", "broken"),
    "service-500": ("cgw", "http", "http.service_error", "broken"),
    "service-503": ("cgw", "http", "http.service_unavailable", "broken"),
    "service-slow": ("cgw", "http", "http.timeout", "broken"),
    "payload-400": ("cgw", "http", "http.bad_request", "broken"),
    "payload-409": ("cgw", "http", "http.conflict", "broken"),
    "pacs-timeout-low": ("cgw", "pacs", "pacs.timeout_low", "degraded"),
}

# what diagnose could change: the gateway's configuration files and runtime state, the PACS destination
STATE_COMMANDS = [
    ("sh", "-c", "for f in /etc/swanctl/swanctl.conf /etc/swanctl/conf.d/* /etc/frr/frr.conf /etc/nftables.conf "
     "/etc/nftables.d/*; do [ -f \"$f\" ] && { echo \"== $f $(stat -c %a:%u:%g \"$f\")\"; cat \"$f\"; }; done; true"),
    ("swanctl", "--list-conns"),
    ("sh", "-c", "swanctl --list-sas | grep -E '^[a-z].*(ESTABLISHED|CONNECTING)' | sed 's/, [0-9]* seconds ago//; "
     "s/#[0-9]*//g' | sort"),
    ("vtysh", "-c", "show running-config"),
    ("nft", "list", "ruleset"),
    ("ip", "route", "show", "table", "all"),
]


def lab(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LAB, *args], capture_output=True, text=True, timeout=timeout)


def gateway_state(device: str) -> str:
    parts = []
    for cmd in STATE_COMMANDS:
        res = lab("exec", device, "--", *cmd)
        parts.append(re.sub(r"packets \d+ bytes \d+", "packets N bytes N", res.stdout))
    pacs = lab("exec", "pacs", "--", "curl", "-s", "-u", "stowpath-lab:stowpath-lab-pacs",
               "http://127.0.0.1:8042/dicom-web/servers?expand")
    parts.append(pacs.stdout)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def playbook(name: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    return subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), str(REPO / "playbooks" / name),
                           "-i", str(INVENTORY), *args], capture_output=True, text=True, cwd=REPO, env=env,
                          timeout=timeout)


def diagnose(host: str, *args: str) -> tuple[int, dict[str, Any], float]:
    report = REPO / "reports" / SITES[host] / "diagnosis.json"
    report.unlink(missing_ok=True)
    t0 = time.monotonic()
    res = playbook("diagnose-site.yml", "-l", host, *args, timeout=180)
    elapsed = time.monotonic() - t0
    doc = json.loads((REPO / "reports" / SITES[host] / "diagnosis.json").read_text())
    return res.returncode, doc, elapsed


def onboarded(device: str) -> bool:
    """stowpath's own configuration is loaded (not the lab's reference configuration, not empty)."""
    res = lab("exec", device, "--", "sh", "-c", "test -f /etc/nftables.d/stowpath.nft && nft list table inet stowpath "
              ">/dev/null && vtysh -c 'show running-config' | grep -q 'router bgp'")
    return res.returncode == 0


@pytest.fixture(scope="module")
def lab_ready() -> Iterator[None]:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    if lab("status").returncode != 0:
        pytest.skip("the lab is not up (make lab-up)")
    lab("fault", "clear")
    stale = [h for h in SITES if not onboarded(h)]
    if stale:
        res = playbook("onboard-site.yml", "-l", ",".join(SITES))
        assert res.returncode == 0, res.stdout[-3000:]
    yield
    lab("fault", "clear")


def test_healthy_lab_is_healthy_and_unchanged(lab_ready: None) -> None:
    before = {h: gateway_state(h) for h in SITES}
    for host in SITES:
        rc, doc, elapsed = diagnose(host)
        assert rc == 0 and doc["status"] == "healthy", doc["summary"]
        assert elapsed < 30, f"diagnose took {elapsed:.1f} s"
    rc, doc, _ = diagnose("cgw", "--check")
    assert rc == 0 and doc["status"] == "healthy"
    assert {h: gateway_state(h) for h in SITES} == before, "diagnose changed the gateway or the PACS"
    html = (REPO / "reports" / "lab-facility" / "diagnosis.html").read_text()
    assert "healthy" in html and "<script" not in html


@pytest.fixture(scope="module")
def catalogue(lab_ready: None) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    try:
        for fault, (host, *_rest) in EXPECTED.items():
            t0 = time.monotonic()
            inj = lab("fault", fault)
            injected = time.monotonic() - t0
            try:
                if inj.returncode != 0:
                    results[fault] = {"error": inj.stdout + inj.stderr}
                    continue
                try:
                    rc, doc, elapsed = diagnose(host)
                except (OSError, ValueError) as exc:
                    results[fault] = {"error": f"diagnose wrote no report: {exc}"}
                    continue
                results[fault] = {"rc": rc, "status": doc["status"], "primary": doc["primary"],
                                  "causes": [f["cause"] for f in doc["findings"]], "inject_s": round(injected, 1),
                                  "diagnose_s": round(elapsed, 1), "summary": doc["summary"]}
            finally:
                t1 = time.monotonic()
                cleared = lab("fault", "clear")
                results.setdefault(fault, {})["clear_s"] = round(time.monotonic() - t1, 1)
                results[fault]["cleared"] = cleared.returncode == 0
    finally:
        lab("fault", "clear")
        (REPO / "reports").mkdir(exist_ok=True)
        (REPO / "reports" / "diagnose-catalogue.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


@pytest.mark.parametrize("fault", list(EXPECTED))
def test_fault_is_diagnosed(catalogue: dict[str, dict[str, Any]], fault: str) -> None:
    host, layer, cause, status = EXPECTED[fault]
    got = catalogue[fault]
    assert "error" not in got, got.get("error")
    assert got["primary"] and (got["primary"]["layer"], got["primary"]["cause"]) == (layer, cause), got["summary"]
    if status:
        assert got["status"] == status, got["summary"]
    assert (got["rc"] != 0) == (got["status"] == "broken")
    assert got["cleared"], f"fault clear after {fault} did not bring the lab back"


def test_clear_brings_back_healthy(catalogue: dict[str, dict[str, Any]]) -> None:
    for host in SITES:
        rc, doc, _ = diagnose(host)
        assert rc == 0 and doc["status"] == "healthy", doc["summary"]
