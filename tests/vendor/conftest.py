"""Fixtures for the vendor-router push tests: sites rendered with the real templates, and the lab's
vendor targets (IOS-XE CLI simulator, netconfd with Cisco's IOS-XE YANG) on free loopback ports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.render import render_site
from ansible_collections.stowpath.core.plugins.module_utils.site import load_site, site_secrets
from ansible_collections.stowpath.core.plugins.module_utils.transports.base import ConnParams
from stowpath_testlib import REPO, base_vars

INVENTORY = REPO / "inventories" / "example"
LAB = REPO / "lab" / "vendor"
FIXTURES = Path(__file__).parent / "fixtures"
PY = sys.executable
NC_USER, NC_PASSWORD = "stowpath-nc", "stowpath-lab-nc"
CLI_USER, CLI_PASSWORD, CLI_ENABLE = "stowpath", "stowpath-lab-cli", "stowpath-lab-enable"
#: A router of the make_site() facility (harbor-isr) whose WAN interface carries the facility's own ACL.
FACILITY_WAN_ACL = """hostname harbor-isr
ip access-list extended FACILITY-WAN-IN
 10 permit tcp 192.0.2.0 0.0.0.255 any eq 22
 20 deny ip any any log
!
interface GigabitEthernet1
 ip address 198.51.100.24 255.255.255.0
 ip access-group FACILITY-WAN-IN in
!
"""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "lab: needs the network lab (make lab-up)")
    config.addinivalue_line("markers", "xdist_group(name): run in one xdist worker")


def make_site(platform: str = "cisco_iosxe", provider: str = "aws_vpn", tunnels: int | None = None,
              **over: Any) -> dict[str, Any]:
    params = {"aws_vpn": "params/aws-vpn-bgp.xml", "aws_dx": "params/aws-dx-vif.json",
              "manual": "params/manual-vpn-static.yml"}[provider]
    ios = platform == "cisco_iosxe"
    hv = base_vars(
        site_name="harbor-radiology", gateway_platform=platform, cloud_provider=provider, cloud_params_file=params,
        wan_interface=("GigabitEthernet1" if ios else "ge-0/0/0.0") if provider != "aws_dx" else None,
        wan_address="198.51.100.24" if provider != "aws_dx" else None,
        lan_interface="GigabitEthernet2" if ios else "ge-0/0/1.0",
        dx_interface=("GigabitEthernet3" if ios else "ge-0/0/2") if provider == "aws_dx" else None,
        dx_virtual_interface_id=None,
    )
    hv.update(over)
    site = load_site(hv, "harbor-isr", str(INVENTORY))
    if tunnels is not None:
        site["tunnels"] = site["tunnels"][:tunnels]
    return site


def push_kw(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    """Keyword arguments of the push functions for the make_site() facility, push state under ``tmp_path``."""
    return {"state_dir": str(tmp_path / "state"), "owner": "harbor-radiology", **extra}


def render(site: dict[str, Any], dest: Path) -> dict[str, Path]:
    dest.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, text in render_site(site, str(REPO / "templates")).items():
        path = dest / name
        path.write_text(text)
        os.chmod(path, 0o600)
        out[name] = path
    return out


@pytest.fixture()
def site2() -> dict[str, Any]:
    return make_site()


@pytest.fixture()
def secrets2(site2: dict[str, Any]) -> list[str]:
    return site_secrets(site2)


def _run(script: str, *args: str) -> dict:
    proc = subprocess.run([PY, str(LAB / script), *args], capture_output=True, text=True, timeout=90)
    if proc.returncode != 0 and "start" in args:
        raise RuntimeError(f"{script} {' '.join(args)} failed: {proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {}


class Sim:
    """A running IOS-XE CLI simulator (state dir, port) with helpers."""

    def __init__(self, state_dir: Path, port: int, known_hosts: Path | None = None) -> None:
        self.state_dir = state_dir
        self.port = port
        self.known_hosts = known_hosts  # holds this simulator's host key (gateway_known_hosts)

    def conn(self, password: str = CLI_PASSWORD, **options: Any) -> ConnParams:
        return ConnParams(host="127.0.0.1", port=self.port, username=CLI_USER, password=password,
                          enable_secret=CLI_ENABLE, timeout=10, options={"cli_read_timeout": 3, **options})

    def running(self) -> str:
        return (self.state_dir / "running.cfg").read_text()

    def startup(self) -> str:
        path = self.state_dir / "startup.cfg"
        return path.read_text() if path.exists() else ""

    def fault(self, **faults: Any) -> None:
        (self.state_dir / "faults.json").write_text(json.dumps(faults))

    def log(self) -> str:
        return (self.state_dir / "sim.log").read_text()


def start_sim(state_dir: Path, initial: Path | None = None, minute_s: float | None = None) -> Sim:
    """A fresh simulator; its host key is recorded in ``<state_dir>.known_hosts`` (for ``gateway_known_hosts``).
    ``minute_s``: seconds in one minute of its revert timer."""
    known_hosts = state_dir.with_name(state_dir.name + ".known_hosts")
    args = ["start", "--port", "0", "--state-dir", str(state_dir), "--fresh", "--password", CLI_PASSWORD,
            "--enable-secret", CLI_ENABLE, "--known-hosts", str(known_hosts)]
    if initial:
        args += ["--initial-config", str(initial)]
    if minute_s:
        args += ["--minute-s", str(minute_s)]
    state = _run("iosxe_sim.py", *args)
    return Sim(state_dir, state["port"], known_hosts)


@pytest.fixture()
def sim(tmp_path: Path) -> Iterator[Sim]:
    s = start_sim(tmp_path / "sim")
    try:
        yield s
    finally:
        _run("iosxe_sim.py", "stop", "--state-dir", str(s.state_dir))


@pytest.fixture()
def sim_factory(tmp_path: Path) -> Iterator[Any]:
    started: list[Sim] = []

    def factory(initial_text: str = "", minute_s: float | None = None) -> Sim:
        initial = tmp_path / "initial.cfg"
        initial.write_text(initial_text)
        s = start_sim(tmp_path / f"sim{len(started)}", initial, minute_s)
        started.append(s)
        return s

    yield factory
    for s in started:
        _run("iosxe_sim.py", "stop", "--state-dir", str(s.state_dir))


class Netconf:
    def __init__(self, state_dir: Path, port: int) -> None:
        self.state_dir = state_dir
        self.port = port

    def conn(self, password: str = NC_PASSWORD) -> ConnParams:
        return ConnParams(host="127.0.0.1", port=self.port, username=NC_USER, password=password, timeout=15)

    def manager(self) -> Any:
        from ncclient import manager

        return manager.connect(host="127.0.0.1", port=self.port, username=NC_USER, password=NC_PASSWORD,
                               hostkey_verify=False, allow_agent=False, look_for_keys=False, timeout=15)

    def running(self) -> str:
        m = self.manager()
        try:
            return m.get_config("running").data_xml
        finally:
            m.close_session()


@pytest.fixture()
def netconf(tmp_path: Path) -> Iterator[Netconf]:
    if os.geteuid() != 0:
        pytest.skip("the NETCONF target needs root (sshd, a local account)")
    state_dir = tmp_path / "nc"
    state = _run("netconf_iosxe.py", "start", "--port", "0", "--state-dir", str(state_dir))
    try:
        yield Netconf(state_dir, state["port"])
    finally:
        _run("netconf_iosxe.py", "stop", "--state-dir", str(state_dir))
