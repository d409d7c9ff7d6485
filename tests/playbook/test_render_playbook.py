"""render-site.yml end to end: real ansible-playbook runs on temporary inventories."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PARAMS = REPO / "inventories" / "example" / "params"
SECRETS = ["Tq4m_Lz7.Wd2xVb9Kp3RsNc8YhJe5Fa1", "Gv6s.Hn0Qc3Xm8_Rb5Tz2Wk7Lp4Dy9Ej", "Xk2.pR7_mQ9vLs4T",
           "Example.static.tunnel1.key"]


def playbook(inventory: Path, build: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [str(REPO / ".venv" / "bin" / "ansible-playbook"), str(REPO / "playbooks" / "render-site.yml"),
           "-i", str(inventory), "-e", f"stowpath_build_dir={build}", *extra]
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=300)


def recap(out: str) -> dict[str, dict[str, int]]:
    rows = re.findall(r"^(\S+)\s+:\s+(.*)$", out.split("PLAY RECAP")[-1], re.M)
    return {host: {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", stats)} for host, stats in rows}


def make_inventory(tmp: Path, hosts: dict, files: dict[str, str] | None = None) -> Path:
    inv = tmp / "inv"
    (inv / "files").mkdir(parents=True)
    for name, text in (files or {}).items():
        (inv / "files" / name).write_text(text)
    (inv / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    return inv


def gw(**overrides) -> dict:
    hv = {"site_name": "t-facility", "gateway_platform": "linux_strongswan", "cloud_provider": "aws_vpn",
          "cloud_params_file": "files/vpn.xml", "wan_interface": "eth0", "wan_address": "198.51.100.24",
          "lan_interface": "eth1", "lan_cidrs": ["10.20.0.0/24"],
          "dicomweb_url": "https://dicom.vendor.example/dicomweb/studies", "dicomweb_cidrs": ["10.100.0.0/24"]}
    hv.update(overrides)
    return hv


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    build = tmp_path_factory.mktemp("build")
    first = playbook(REPO / "inventories" / "example", build, "--diff")
    second = playbook(REPO / "inventories" / "example", build)
    return build, first, second


def test_example_inventory_renders_every_gateway(example_run):
    build, first, _ = example_run
    assert first.returncode == 0, first.stdout + first.stderr
    hosts = {"riverside-cgw", "harbor-isr", "hillside-srx", "valley-dx", "lakeside-static"}
    assert set(recap(first.stdout)) == hosts
    assert sorted(os.listdir(build / "riverside-cgw")) == ["frr.conf", "nftables.conf", "site.json", "swanctl.conf"]
    assert sorted(os.listdir(build / "harbor-isr"))[0] == "config.cfg"
    assert "config.set" in os.listdir(build / "hillside-srx")
    for host in hosts:
        assert stat.S_IMODE(os.stat(build / host).st_mode) == 0o700
        for f in (build / host).iterdir():
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f


def test_second_run_changes_nothing(example_run):
    _, _, second = example_run
    assert second.returncode == 0
    assert all(r["changed"] == 0 for r in recap(second.stdout).values()), second.stdout


def test_site_json_is_masked_and_complete(example_run):
    build, _, _ = example_run
    site = json.loads((build / "riverside-cgw" / "site.json").read_text())
    assert site["tunnels"][0]["psk"] == "********"
    assert site["connection_id"] == "vpn-0f3a9c2d7e1b45a60"
    text = (build / "riverside-cgw" / "site.json").read_text()
    assert not any(s in text for s in SECRETS)
    assert "Tq4m_Lz7.Wd2xVb9Kp3RsNc8YhJe5Fa1" in (build / "riverside-cgw" / "swanctl.conf").read_text()


def test_no_secret_in_output_with_diff(example_run):
    _, first, _ = example_run
    out = first.stdout + first.stderr
    assert "+++ b/frr.conf" in out or "b/frr.conf" in out
    for secret in SECRETS:
        assert secret not in out


def test_no_secret_in_output_at_vvv(tmp_path):
    inv = make_inventory(tmp_path, {"gw": gw()}, {"vpn.xml": (PARAMS / "aws-vpn-bgp.xml").read_text()})
    res = playbook(inv, tmp_path / "build", "-vvv", "--diff")
    assert res.returncode == 0, res.stdout[-3000:]
    out = res.stdout + res.stderr
    assert "********" in out
    for secret in SECRETS:
        assert secret not in out


def test_check_mode_writes_nothing(tmp_path):
    inv = make_inventory(tmp_path, {"gw": gw()}, {"vpn.xml": (PARAMS / "aws-vpn-bgp.xml").read_text()})
    res = playbook(inv, tmp_path / "build", "--check", "--diff")
    assert res.returncode == 0, res.stdout
    assert recap(res.stdout)["gw"]["changed"] == 1
    assert "b/swanctl.conf" in res.stdout
    assert not (tmp_path / "build").exists()


def test_only_hosts_with_gateway_platform_and_vendor_files_are_not_inventory(tmp_path):
    hosts = {"gw": gw(), "pacs": {"ansible_host": "203.0.113.10"}}
    inv = make_inventory(tmp_path, hosts, {"vpn.xml": (PARAMS / "aws-vpn-bgp.xml").read_text(),
                                           "dx.json": (PARAMS / "aws-dx-vif.json").read_text()})
    res = playbook(inv, tmp_path / "build")
    assert res.returncode == 0, res.stdout
    # one fleet task renders (run once, on the first host); the other hosts run no task of their own
    assert all(r["failed"] == 0 for r in recap(res.stdout).values())
    assert recap(res.stdout).get("pacs", {}).get("changed", 0) == 0
    assert (tmp_path / "build" / "gw" / "swanctl.conf").exists()
    assert not (tmp_path / "build" / "pacs").exists()


BAD = {
    "psk": ({"vpn.xml": lambda x: x.replace("Tq4m_Lz7.Wd2xVb9Kp3RsNc8YhJe5Fa1", "bad key!")}, {},
            "ipsec_tunnel[1]/ike/pre_shared_key: the pre-shared key does not match"),
    "truncated": ({"vpn.xml": lambda x: x[:900]}, {}, "malformed or truncated XML"),
    "dtd": ({"vpn.xml": lambda x: x.replace('<?xml version="1.0" encoding="UTF-8"?>',
                                            '<?xml version="1.0"?><!DOCTYPE v [<!ENTITY e SYSTEM "file:///etc/passwd">]>')},
            {}, "refused unsafe XML"),
    "overlap": ({}, {"lan_cidrs": ["10.100.0.0/25"]}, "lan_cidrs: 10.100.0.0/25 overlaps dicomweb_cidrs"),
    "asn": ({}, {"local_asn": 64999}, "local_asn: 64999 conflicts with the vendor file's customer ASN 65020"),
    "injection": ({}, {"wan_interface": "eth0\n  }\nconnections {"}, "wan_interface"),
    "type": ({}, {"gateway_platform": "cisco_asa"}, "gateway_platform"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_refused_and_nothing_is_written(tmp_path, case):
    file_mutations, var_overrides, needle = BAD[case]
    xml = (PARAMS / "aws-vpn-bgp.xml").read_text()
    mutate = file_mutations.get("vpn.xml", lambda x: x)
    hosts = {"bad": gw(**var_overrides), "good": gw(site_name="other-facility", cloud_params_file="files/good.xml")}
    inv = make_inventory(tmp_path, hosts, {"vpn.xml": mutate(xml), "good.xml": xml})
    res = playbook(inv, tmp_path / "build")
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert needle in out, out[-4000:]
    assert recap(res.stdout)["bad"]["failed"] == 1
    assert not (tmp_path / "build" / "bad").exists()
    assert (tmp_path / "build" / "good" / "swanctl.conf").exists()  # other hosts are not held back
    for secret in SECRETS:
        assert secret not in out
    shutil.rmtree(tmp_path / "build", ignore_errors=True)
