"""Onboarding a linux_strongswan gateway in the lab: dry run, first run, rerun, rollback, secrets."""

from __future__ import annotations

import json

import pytest

from onboard.conftest import REPO, device_state, digest, lab, lab_secrets, playbook, recap

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]
GATEWAYS = "cgw,cgwdx"


def assert_no_secret(text: str) -> None:
    for secret in lab_secrets():
        assert secret not in text


def test_check_mode_changes_nothing_on_the_device(fresh_lab):
    before = {g: device_state(g) for g in ("cgw", "cgwdx")}
    res = playbook("onboard-site.yml", "-l", GATEWAYS, "--check", "--diff")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    assert "+++ /etc/swanctl/conf.d/stowpath.conf" in out and "+++ /etc/nftables.d/stowpath.nft" in out
    assert 'secret = "********"' in out and "password ********" in out
    assert_no_secret(out)
    after = {g: device_state(g) for g in ("cgw", "cgwdx")}
    for g in before:
        assert digest(before[g]) == digest(after[g]), f"{g} changed in check mode"


def test_onboarding_brings_both_paths_up_and_verifies_them(fresh_lab):
    res = playbook("onboard-site.yml", "-l", GATEWAYS, "--diff")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-6000:]
    assert_no_secret(out)
    state = device_state("cgw")
    assert state["swanctl --list-conns"].count("IKEv2") == 2
    assert "inet stowpath" in state["nft list ruleset"]
    assert "tcp option maxseg size set 1360" in state["nft list ruleset"]
    swanctl_file = lab("exec", "cgw", "--", "stat", "-c", "%a", "/etc/swanctl/conf.d/stowpath.conf").stdout.strip()
    assert swanctl_file == "600"
    dx = device_state("cgwdx")["vtysh -c show running-config"]
    assert "password" in dx  # BGP MD5 on the VIF
    # path and firewall probes run in one task: every check still reaches the report
    report = json.loads((REPO / "reports" / "lab-facility" / "report.json").read_text())
    status = {c["id"]: c["status"] for c in report["checks"]}
    for check in ("network.path.ping", "network.path.traceroute", "network.path.mtu", "network.firewall.allow.tcp443",
                  "network.firewall.block.tcp22", "network.firewall.block.tcp80", "network.firewall.block.tcp8443"):
        assert status.get(check) == "pass", (check, status)
    # the auto-router (module pacs_service) runs on the PACS host with its config 0600
    mode = lab("exec", "pacs", "--", "stat", "-c", "%a", "/etc/stowpath-autoroute/autoroute.json").stdout.strip()
    assert mode == "600"
    assert lab("exec", "pacs", "--", "start-stop-daemon", "--status", "--pidfile",
               "/run/stowpath-monitor/stowpath-autoroute.pid").returncode == 0


def test_second_run_reports_no_change(fresh_lab):
    res = playbook("onboard-site.yml", "-l", GATEWAYS)
    assert res.returncode == 0, res.stdout[-4000:]
    for host, stats in recap(res.stdout).items():
        assert stats["changed"] == 0, f"{host}: {res.stdout[-3000:]}"


def test_failed_verification_rolls_back_byte_identical(fresh_lab):
    before = device_state("cgw")
    assert lab("cloud-break", "vpn").returncode == 0
    try:
        # a change to push: the next onboarding must apply it, fail verification and roll back
        res = playbook("onboard-site.yml", "-l", "cgw", "-e", "tcp_mss=1350",
                       "-e", "verify_network_tunnel_timeout=8")
    finally:
        lab("cloud-repair")
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "network.tunnel" in out and "rolled back to its previous configuration" in out, out[-5000:]
    assert_no_secret(out)
    after = device_state("cgw")
    for key in before:
        if key.startswith(("sh -c swanctl --list-sas", "ip route")):
            continue  # SAs and learned routes are runtime: they re-establish on their own
        assert before[key] == after[key], f"rollback is not byte-identical: {key}"


def test_rollback_can_be_disabled_for_debugging(fresh_lab):
    assert lab("cloud-break", "dx").returncode == 0
    try:
        res = playbook("onboard-site.yml", "-l", "cgwdx", "-e", "tcp_mss=1340", "-e", "rollback_on_failure=false",
                       "-e", "verify_network_bgp_timeout=5")
    finally:
        lab("cloud-repair")
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "the new configuration was kept" in out, out[-4000:]
    assert "maxseg size set 1340" in device_state("cgwdx")["nft list ruleset"]
    assert playbook("onboard-site.yml", "-l", "cgwdx").returncode == 0  # converges again


def test_no_secret_anywhere_at_vvv(fresh_lab):
    """PSKs, the DX key, the client key, the PACS API and simulator passwords: never in -vvv output."""
    res = playbook("onboard-site.yml", "-vvv", "--diff")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    key_line = open("/run/stowpath-lab/pki/client.key").read().splitlines()[1]
    for secret in [*lab_secrets(), key_line, "stowpath-lab-pacs", "stowpath-lab-cli", "stowpath-lab-enable",
                   "stowpath-lab-nc"]:
        assert secret not in out
    report = (REPO / "reports" / "lab-facility" / "report.html").read_text()
    assert not any(s in report for s in lab_secrets())
    assert "STOW-RS" in report
