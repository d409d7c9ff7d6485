"""The facility's own FRR sections (a prefix-list, a static route, a second BGP neighbor of the same ASN) and
its own strongSwan connection survive onboarding and drift remediation on the lab's cgw, and are never
reported as drift."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from onboard.conftest import dev, lab, lab_defaults, playbook

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]

FACILITY_FRR = ["ip prefix-list FACILITY-X seq 5 permit 10.9.0.0/16", "ip route 10.9.0.0/16 blackhole"]
FACILITY_PEER = "neighbor 10.9.9.9 remote-as 65099"
# the network half only: the imaging half (PACS, DICOMweb) is not what this test is about
NETWORK_ONLY = ("-e", "stowpath_imaging=false")
OTHER_CONF = """connections {
    facility-x {
        version = 2
        remote_addrs = 192.0.2.250
        local {
            auth = psk
        }
        remote {
            auth = psk
        }
        children {
            facility-x-net {
                remote_ts = 10.9.0.0/16
                start_action = none
            }
        }
    }
}
"""


def _asn() -> str:
    return re.search(r"^router bgp (\d+)", dev("cgw", "vtysh", "-c", "show running-config"), re.M).group(1)


def _facility_present() -> None:
    running = dev("cgw", "vtysh", "-c", "show running-config")
    saved = dev("cgw", "cat", "/etc/frr/frr.conf")
    for line in FACILITY_FRR:
        assert line in running and line in saved, line
    assert f" {FACILITY_PEER}" in running and f" {FACILITY_PEER}" in saved
    assert "facility-x: IKEv2" in dev("cgw", "swanctl", "--list-conns")
    assert dev("cgw", "cat", "/etc/swanctl/conf.d/other.conf").startswith("connections {")


def _drift(tmp: Path, *args: str) -> dict:
    res = playbook("drift-check.yml", "-l", "cgw", "-e", f"drift_check_backup_root={tmp / 'backups'}",
                   "-e", f"drift_check_report_dir={tmp / 'reports'}", *args)
    report = json.loads((tmp / "reports" / "drift.json").read_text())
    site = next(s for s in report["sites"] if s["host"] == "cgw")
    site["_rc"] = res.returncode
    site["_out"] = res.stdout[-3000:]
    return site


def test_facility_frr_and_strongswan_survive_onboarding_and_remediation(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    assert lab("up").returncode == 0
    lab("cloud-repair")
    # a hand-written configuration left by another lab test (swanctl.conf without conf.d) goes first
    lab_defaults("cgw")
    dev("cgw", "sh", "-c", "rm -f /etc/swanctl/conf.d/other.conf")
    res = playbook("onboard-site.yml", "-l", "cgw", *NETWORK_ONLY)
    assert res.returncode == 0, res.stdout[-3000:]
    asn = _asn()
    vty = ["vtysh", "-c", "configure terminal", *[a for line in FACILITY_FRR for a in ("-c", line)],
           "-c", f"router bgp {asn}", "-c", FACILITY_PEER, "-c", "end", "-c", "write memory"]
    try:
        dev("cgw", *vty)
        dev("cgw", "sh", "-c", f"cat > /etc/swanctl/conf.d/other.conf <<'EOF'\n{OTHER_CONF}EOF\n"
                               "swanctl --load-all --noprompt >/dev/null")
        _facility_present()
        # not drift
        site = _drift(tmp_path)
        assert site["status"] == "in_sync" and site["items"] == [], site["_out"]
        # stowpath's own drift is remediated; the facility's sections stay
        dev("cgw", "vtysh", "-c", "configure terminal", "-c", "no route-map STOWPATH-TO-CLOUD permit 10")
        site = _drift(tmp_path, "-e", "remediate=true")
        assert site["status"] == "in_sync" and site["remediation"]["ok"], site["_out"]
        assert "route-map STOWPATH-TO-CLOUD permit 10" in dev("cgw", "vtysh", "-c", "show running-config")
        _facility_present()
        # an onboarding that rewrites frr.conf (stowpath's section hand-deleted from the file) keeps them too
        dev("cgw", "sed", "-i", "/^ip prefix-list STOWPATH-TO-CLOUD/d", "/etc/frr/frr.conf")
        res = playbook("onboard-site.yml", "-l", "cgw", *NETWORK_ONLY)
        assert res.returncode == 0, res.stdout[-3000:]
        assert "ip prefix-list STOWPATH-TO-CLOUD" in dev("cgw", "cat", "/etc/frr/frr.conf")
        _facility_present()
        assert "ESTABLISHED" in dev("cgw", "swanctl", "--list-sas")
    finally:
        undo = ["vtysh", "-c", "configure terminal", *[a for line in FACILITY_FRR for a in ("-c", "no " + line)],
                "-c", f"router bgp {asn}", "-c", f"no {FACILITY_PEER}", "-c", "end", "-c", "write memory"]
        dev("cgw", *undo)
        dev("cgw", "sh", "-c", "rm -f /etc/swanctl/conf.d/other.conf; swanctl --load-all --noprompt >/dev/null")
