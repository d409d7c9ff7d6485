"""Drift check of the lab's VPN gateway with real drift made by hand (strongSwan, FRR, nftables).

One gateway, one ordered story, so it is ONE test (pytest-xdist 3.8's ``xdist_group`` does not group
under pytest 9: separate tests of this module could land on two workers and edit cgw at once):
onboard -> clean check -> drift by hand -> exactly the owned drift is reported -> remediation restores
it and keeps what is not ours -> a second check is clean -> runtime drift (the cloud refuses the
tunnels, the client certificate is about to expire).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.drift.secrets import DIFFERS
from onboard.conftest import REPO, dev, lab, lab_secrets, playbook, recap

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]

HAND_PSK = "Changed.By.Hand.At.2am.0123456789"
UNRELATED_FRR = "ip route 203.0.113.192/27 blackhole"
UNRELATED_KERNEL = "203.0.113.224/27"
# What somebody does on the gateway at 2 a.m.: four changes to stowpath's sections, three that are not ours.
DRIFT = f"""set -e
PEER=$(vtysh -c 'show running-config' | awk '/neighbor .* description stowpath tun2/{{print $2; exit}}')
ASN=$(vtysh -c 'show running-config' | awk '/^router bgp/{{print $3; exit}}')
vtysh -c 'configure terminal' -c "router bgp $ASN" -c "no neighbor $PEER remote-as 64512"
sed -i '0,/secret = "[^"]*"/s//secret = "{HAND_PSK}"/' /etc/swanctl/conf.d/stowpath.conf
swanctl --load-all --noprompt >/dev/null
nft insert rule inet stowpath forward ip saddr 0.0.0.0/0 accept
for h in $(nft -a list chain inet stowpath forward | awk '/maxseg/{{print $NF}}'); do
  nft delete rule inet stowpath forward handle $h
done
ip route replace blackhole {UNRELATED_KERNEL}
vtysh -c 'configure terminal' -c '{UNRELATED_FRR}'
nft add table inet facility
echo "$PEER"
"""


@pytest.fixture()
def out(tmp_path: Path) -> dict:
    """An onboarded cgw, and private backup/report directories for these runs."""
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    res = lab("up")
    assert res.returncode == 0, res.stdout + res.stderr
    lab("cloud-repair")
    res = playbook("onboard-site.yml", "-l", "cgw")
    assert res.returncode == 0, res.stdout[-4000:]
    base = tmp_path
    return {"dir": base, "extra": ["-l", "cgw", "-e", f"drift_check_backup_root={base / 'backups'}",
                                   "-e", f"drift_check_report_dir={base / 'reports'}"]}


def check(out: dict, *args: str):
    res = playbook("drift-check.yml", *out["extra"], *args)
    text = res.stdout + res.stderr
    report = json.loads((out["dir"] / "reports" / "drift.json").read_text())
    site = next(s for s in report["sites"] if s["host"] == "cgw")
    return res, text, report, site


def assert_no_secret(out: dict, *texts: str) -> None:
    secrets = lab_secrets() + [HAND_PSK]
    for text in texts:
        for s in secrets:
            assert s not in text
    for path in out["dir"].rglob("*"):
        if path.is_file():
            data = path.read_text(errors="replace")
            for s in secrets:
                assert s not in data, f"secret in {path}"


def step_onboarded_gateway_is_in_sync_and_backed_up(out):
    res, text, report, site = check(out)
    assert res.returncode == 0, text[-4000:]
    assert site["status"] == "in_sync" and site["items"] == [], site
    passed = {c["id"] for c in site["checks"] if c["status"] == "pass"}
    assert passed >= {"network.tunnel.tun1", "network.bgp.tun2", "tls.material.client_cert"}  # dicomweb_client_cert_file
    backup = Path(site["backup_dir"])
    assert backup.parent == out["dir"] / "backups" / "lab-facility" / "cgw"
    names = sorted(p.name for p in backup.iterdir())
    assert names == ["etc-frr-frr.conf", "etc-nftables.conf", "etc-nftables.d-stowpath.nft",
                     "etc-swanctl-conf.d-stowpath.conf", "frr-running-config.conf", "manifest.json",
                     "nft-ruleset.nft", "swanctl-list-conns.txt", "swanctl-list-sas.txt"]
    assert 'secret = "********"' in (backup / "etc-swanctl-conf.d-stowpath.conf").read_text()
    assert "ESTABLISHED" in (backup / "swanctl-list-sas.txt").read_text()
    assert "router bgp" in (backup / "frr-running-config.conf").read_text()
    assert_no_secret(out, text)


def step_hand_made_drift_is_found_exactly(out):
    res = lab("exec", "cgw", "--", "sh", "-c", DRIFT)
    assert res.returncode == 0, res.stdout + res.stderr
    peer = res.stdout.strip().splitlines()[-1]
    res, text, report, site = check(out)
    assert res.returncode != 0 and recap(res.stdout)["cgw"]["failed"] == 1, text[-3000:]
    assert site["status"] == "drifted"
    asn = re.search(r"^router bgp (\d+)", dev("cgw", "vtysh", "-c", "show running-config"), re.M).group(1)
    items = {i["id"]: i for i in site["items"]}
    assert set(items) == {"drift.config.ipsec.swanctl_conf", f"drift.running.bgp.router_bgp_{asn}",
                          "drift.running.firewall.nft_table"}, list(items)
    # the PSK: the diff says it differs without showing either value
    psk = items["drift.config.ipsec.swanctl_conf"]
    assert f'-        secret = "********"{DIFFERS}' in psk["diff"] and '+        secret = "********"' in psk["diff"]
    # the deleted neighbor, with the exact commands that restore it
    bgp = items[f"drift.running.bgp.router_bgp_{asn}"]
    assert f"intended, missing on the device: neighbor {peer} remote-as 64512" in bgp["changes"]
    assert f"vtysh -c 'configure terminal' -c 'router bgp {asn}' -c 'neighbor {peer} remote-as 64512'" in bgp["commands"]
    # the permissive rule and the missing MSS clamp, in nft's own terms
    nft = items["drift.running.firewall.nft_table"]
    assert "on the device, not intended: ip saddr 0.0.0.0/0 accept" in nft["changes"]
    assert sum("maxseg size set 1360" in c and c.startswith("intended, missing") for c in nft["changes"]) == 2
    assert set(nft["areas"]) == {"firewall", "mss"} and nft["commands"] == ["nft -f /etc/nftables.d/stowpath.nft"]
    # what is not ours is not drift
    owned = json.dumps(site["items"])
    for unrelated in ("203.0.113.192/27", UNRELATED_KERNEL, "facility"):
        assert unrelated not in owned
    # the facility's own FRR section is part of what a push would apply (merged), so not even a difference
    assert not any(UNRELATED_FRR in x for x in site["ignored"])
    # runtime: the deleted neighbor's session is gone
    assert "network.bgp.tun2" in site["runtime_problems"]
    junit = (out["dir"] / "reports" / "drift.xml").read_text()
    assert 'name="lab-facility.cgw"' in junit and "ip saddr 0.0.0.0/0 accept" in junit
    assert "drifted" in (out["dir"] / "reports" / "index.html").read_text()
    assert_no_secret(out, text)


def step_remediation_restores_owned_sections_and_keeps_the_rest(out):
    res, text, report, site = check(out, "-e", "remediate=true")
    assert res.returncode == 0, text[-5000:]
    assert report["phase"] == "re-check after remediation"
    assert site["status"] == "in_sync" and site["remediation"]["ok"], site
    frr = dev("cgw", "vtysh", "-c", "show running-config")
    assert frr.count("remote-as 64512") == 2 and UNRELATED_FRR in frr
    nft = dev("cgw", "nft", "list", "ruleset")
    assert nft.count("maxseg size set 1360") == 2 and "ip saddr 0.0.0.0/0 accept" not in nft
    assert "table inet facility" in nft
    assert UNRELATED_KERNEL in dev("cgw", "ip", "route")
    device = dev("cgw", "sha256sum", "/etc/swanctl/conf.d/stowpath.conf").split()[0]
    assert device == hashlib.sha256((REPO / "build" / "cgw" / "swanctl.conf").read_bytes()).hexdigest()
    assert_no_secret(out, text)


def step_second_check_is_clean(out):
    res, text, report, site = check(out)
    assert res.returncode == 0, text[-3000:]
    assert site["status"] == "in_sync" and not site["items"] and not site["runtime_problems"]
    backups = sorted((out["dir"] / "backups" / "lab-facility" / "cgw").iterdir())
    assert len(backups) == 5  # one per check, plus the re-check after remediation


def step_runtime_drift_tunnels_down_and_certificate_expiring(out):
    assert lab("cloud-break", "vpn").returncode == 0
    try:
        res, text, report, site = check(out, "-e", "cert_expiry_warn_days=36500", "-e", "drift_keep_backups=2")
    finally:
        lab("cloud-repair")
        for child in ("stowpath-tun1", "stowpath-tun2"):
            dev("cgw", "swanctl", "--initiate", "--child", child, "--timeout", "5")
    assert res.returncode != 0
    assert site["status"] == "drifted" and site["items"] == [], site["items"]
    assert {"network.tunnel.tun1", "network.tunnel.tun2", "tls.material.client_cert"} <= set(site["runtime_problems"])
    cert_check = next(c for c in site["checks"] if c["id"] == "tls.material.client_cert")
    assert cert_check["status"] == "warn" and "expires in" in cert_check["cause"]
    assert len(list((out["dir"] / "backups" / "lab-facility" / "cgw").iterdir())) == 2  # drift_keep_backups


def test_drift_lifecycle_of_the_vpn_gateway(out):
    step_onboarded_gateway_is_in_sync_and_backed_up(out)
    step_hand_made_drift_is_found_exactly(out)
    step_remediation_restores_owned_sections_and_keeps_the_rest(out)
    step_second_check_is_clean(out)
    step_runtime_drift_tunnels_down_and_certificate_expiring(out)
