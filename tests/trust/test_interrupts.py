"""ansible-playbook killed (SIGINT, SIGKILL of its process group) at several points of a push: the device is
always in the old or the new complete configuration, and the next run finishes the job and says how it
recovered. Two onboardings of one gateway at once never interleave.

Targets: the lab's Linux gateway ``cgw`` and private IOS-XE CLI and NETCONF simulators (free loopback ports).
The kill points come from the playbook's own output (task names). Every push here changes one thing
(``tcp_mss``: 1360 <-> 1350), so "old" and "new" are two known complete configurations.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml
from onboard.conftest import INVENTORY, dev, lab, lab_defaults
from vendor.conftest import CLI_ENABLE, CLI_PASSWORD, CLI_USER, NC_PASSWORD, NC_USER, REPO, _run, start_sim

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]

PLAYBOOK = [str(REPO / ".venv" / "bin" / "ansible-playbook"), str(REPO / "playbooks" / "onboard-site.yml")]
LAB_FILES = REPO / "inventories" / "lab" / "files"
# fast runs: no imaging half, short verification, a confirm window the test can wait out
FAST = ["-e", "stowpath_imaging=false", "-e", "verify_network_tunnel_timeout=20", "-e", "verify_network_bgp_timeout=20",
        "-e", "gateway_push_confirm_timeout=20"]
CONFIRM_S = 20
MSS = {"old": "1360", "new": "1350"}

BEFORE_PUSH = "TASK [Pre-flight"
DURING_PUSH = "gateway_push : Push the rendered configuration"
AFTER_PUSH = "TASK [Verify tunnels, BGP, path and firewall]"
DURING_CONFIRM = "gateway_push : Confirm the push"
LOCKED = re.compile(r"locked by another stowpath run|another stowpath run holds|waiting for its confirmation")


class Run:
    """One ansible-playbook in its own process group, its output read line by line."""

    def __init__(self, args: list[str]) -> None:
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                   PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([*PLAYBOOK, *args], cwd=REPO, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.lines: list[str] = []
        self.seen = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.seen:
                self.lines.append(line)
                self.seen.notify_all()
        with self.seen:
            self.seen.notify_all()

    @property
    def out(self) -> str:
        return "".join(self.lines)

    def wait_for(self, marker: str, timeout: float = 120) -> bool:
        deadline = time.monotonic() + timeout
        with self.seen:
            while marker not in self.out:
                if self.proc.poll() is not None and not self.reader.is_alive():
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.seen.wait(min(left, 0.2))
        return True

    def kill(self, sig: int) -> None:
        """``sig`` to the whole process group; a SIGINT'ed run gets 60 s to stop before SIGKILL."""
        try:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=60 if sig == signal.SIGINT else 15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)
        except ProcessLookupError:
            pass
        finally:
            with contextlib.suppress(ProcessLookupError):  # nothing of the run is left (ssh masters included)
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.reader.join(timeout=10)

    def finish(self, timeout: float = 300) -> int:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.reader.join(timeout=10)
        return self.proc.returncode


class Target:
    """A device to push to: how to run the onboarding, read its configuration and see a pending push."""

    name: str

    def args(self, which: str) -> list[str]:
        raise NotImplementedError

    def config(self) -> str:
        raise NotImplementedError

    def pending(self) -> list[str]:
        raise NotImplementedError

    def settle(self) -> None:
        return None


class Cgw(Target):
    name = "cgw"
    OWNED = ("cat /etc/swanctl/conf.d/stowpath.conf /etc/frr/frr.conf /etc/nftables.d/stowpath.nft; "
             "echo RUNTIME; nft --stateless list table inet stowpath")

    def args(self, which: str) -> list[str]:
        return ["-i", str(INVENTORY), "-l", "cgw", *FAST, "-e", f"tcp_mss={MSS[which]}"]

    def config(self) -> str:
        return dev("cgw", "sh", "-c", self.OWNED)

    def pending(self) -> list[str]:
        out = dev("cgw", "sh", "-c", "ls /var/lib/stowpath/push/cgw.pending.json /var/lib/stowpath/applying.json "
                                     "2>/dev/null; true")
        return out.split()

    def settle(self) -> None:
        """The module on the gateway outlives a killed controller (it ignores SIGHUP while applying)."""
        for _ in range(300):
            if "AnsiballZ" not in dev("cgw", "sh", "-c", "ps -eo args | grep AnsiballZ_gateway_push | grep -v grep; true"):
                return
            time.sleep(0.2)


class Router(Target):
    def __init__(self, name: str, base: Path, host: dict[str, Any], running: Callable[[], str]) -> None:
        self.name = name
        self.base = base
        self.running = running
        inv = base / "inventory"
        inv.mkdir(parents=True, exist_ok=True)
        host = {
            "site_name": name, "gateway_platform": "cisco_iosxe", "cloud_provider": "aws_vpn",
            "cloud_params_file": str(LAB_FILES / "aws-vpn.xml"), "wan_interface": "GigabitEthernet1",
            "wan_address": "198.51.100.24", "lan_interface": "GigabitEthernet2", "lan_cidrs": ["203.0.113.0/26"],
            "dicomweb_url": "https://dicom.lab.example/dicomweb/studies", "dicomweb_cidrs": ["203.0.113.128/26"],
            "gateway_mgmt_host": "127.0.0.1", "ansible_connection": "local",
            "ansible_python_interpreter": "{{ ansible_playbook_python }}", **host}
        (inv / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {name: host}}}))
        self.state = base / "push"

    def args(self, which: str) -> list[str]:
        return ["-i", str(self.base / "inventory"), "-e", f"stowpath_build_dir={self.base / 'build'}",
                "-e", f"gateway_push_state_dir={self.state}", "-e", f"report_dest={self.base / 'reports'}",
                *FAST, "-e", f"tcp_mss={MSS[which]}"]

    def config(self) -> str:
        return owned(self.running())

    def pending(self) -> list[str]:
        return [str(p) for p in self.state.glob("*.pending.json")]


def owned(running: str) -> str:
    """stowpath's part of a router's running configuration (CLI text or NETCONF XML), without volatile lines."""
    lines = [ln for ln in running.splitlines() if not re.match(r"^\s*!|.*(Last configuration change|NVRAM config)", ln)]
    return "\n".join(lines)


def recover(target: Target, which: str) -> str:
    """Onboard until the device is done: a push still inside its confirm window is refused cleanly (said so),
    then, after its deadline, recovered. Returns every run's output."""
    outs = []
    for _ in range(3):
        run = Run(target.args(which))
        rc = run.finish()
        outs.append(run.out)
        if rc == 0:
            return "\n".join(outs)
        assert "Traceback" not in run.out
        busy = re.search(r"waiting for its confirmation \((\d+) s left\)", run.out)
        if busy:  # the journal's confirm window
            time.sleep(int(busy.group(1)) + 2)
            continue
        # a router holding a confirmed commit refuses to be read until its own timer rolls it back
        assert "an earlier push is still pending on the device" in " ".join(run.out.split()), run.out[-4000:]
        time.sleep(CONFIRM_S + 2)
    raise AssertionError("\n".join(outs)[-6000:])


def interrupt(target: Target, configs: dict[str, str], frm: str, to: str, marker: str, sig: int,
              delay: float = 0.0) -> str:
    """Push ``to`` over ``frm``, kill at ``marker``; the device holds one complete configuration; the next
    run finishes and names the recovery when a push was left pending."""
    assert target.config() == configs[frm]
    run = Run(target.args(to))
    assert run.wait_for(marker), run.out[-4000:]
    time.sleep(delay)
    run.kill(sig)
    target.settle()
    after_kill = target.config()
    assert after_kill in (configs[frm], configs[to]), f"{target.name}: a partial configuration after {marker}"
    left = target.pending()
    out = recover(target, to)
    assert target.config() == configs[to], out[-4000:]
    if left:
        said = " ".join(out.split())  # the callback folds long messages
        assert re.search(r"(was interrupted|was never confirmed)[^\]]{0,400}recovered:", said), out[-4000:]
    assert not target.pending()
    return out


@pytest.fixture(scope="module")
def cgw() -> Iterator[tuple[Cgw, dict[str, str]]]:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    assert lab("status").returncode == 0 or lab("up").returncode == 0
    lab_defaults("cgw")
    target = Cgw()
    configs = {}
    for which in ("new", "old"):
        recover(target, which)
        configs[which] = target.config()
    assert configs["old"] != configs["new"]
    yield target, configs
    if target.config() != configs["old"] or target.pending():
        recover(target, "old")


@pytest.fixture(scope="module")
def cli_router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Router, dict[str, str]]]:
    base = tmp_path_factory.mktemp("iosxe-cli")
    sim = start_sim(base / "sim")
    try:
        target = Router("lab-iosxe-interrupts", base, {
            "gateway_mgmt_port": sim.port, "gateway_transport": "netmiko", "gateway_username": CLI_USER,
            "gateway_password": CLI_PASSWORD, "gateway_enable_secret": CLI_ENABLE,
            "gateway_known_hosts": str(sim.known_hosts)}, sim.running)
        yield target, _two_configs(target)
    finally:
        _run("iosxe_sim.py", "stop", "--state-dir", str(sim.state_dir))


@pytest.fixture(scope="module")
def nc_router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Router, dict[str, str]]]:
    if os.geteuid() != 0:
        pytest.skip("the NETCONF target needs root (sshd, a local account)")
    base = tmp_path_factory.mktemp("iosxe-nc")
    known = base / "nc.known_hosts"
    state = _run("netconf_iosxe.py", "start", "--port", "0", "--state-dir", str(base / "nc"), "--known-hosts", str(known))
    try:
        from ncclient import manager

        def running() -> str:
            m = manager.connect(host="127.0.0.1", port=state["port"], username=NC_USER, password=NC_PASSWORD,
                                hostkey_verify=False, allow_agent=False, look_for_keys=False, timeout=15)
            try:
                return m.get_config("running").data_xml
            finally:
                m.close_session()

        target = Router("lab-iosxe-nc-interrupts", base, {
            "gateway_mgmt_port": state["port"], "gateway_transport": "netconf", "gateway_username": NC_USER,
            "gateway_password": NC_PASSWORD, "gateway_known_hosts": str(known)}, running)
        yield target, _two_configs(target)
    finally:
        _run("netconf_iosxe.py", "stop", "--state-dir", str(base / "nc"))


def _two_configs(target: Target) -> dict[str, str]:
    configs = {}
    for which in ("new", "old"):
        run = Run(target.args(which))
        assert run.finish() == 0, run.out[-4000:]
        configs[which] = target.config()
    assert configs["old"] != configs["new"]
    return configs


# -- the Linux gateway


def test_cgw_sigint_before_the_push_changes_nothing(cgw: tuple[Cgw, dict[str, str]]) -> None:
    target, configs = cgw
    interrupt(target, configs, "old", "new", BEFORE_PUSH, signal.SIGINT)


def test_cgw_sigkill_during_the_push(cgw: tuple[Cgw, dict[str, str]]) -> None:
    target, configs = cgw
    interrupt(target, configs, "new", "old", DURING_PUSH, signal.SIGKILL, delay=2.5)


def test_cgw_sigkill_after_the_push_before_the_confirmation(cgw: tuple[Cgw, dict[str, str]]) -> None:
    target, configs = cgw
    out = interrupt(target, configs, "old", "new", AFTER_PUSH, signal.SIGKILL)
    assert "waiting for its confirmation" in out and "was never confirmed" in out, out[-4000:]


def test_cgw_sigint_during_the_confirmation(cgw: tuple[Cgw, dict[str, str]]) -> None:
    target, configs = cgw
    interrupt(target, configs, "new", "old", DURING_CONFIRM, signal.SIGINT, delay=0.2)


def test_cgw_two_onboardings_at_once_never_interleave(cgw: tuple[Cgw, dict[str, str]]) -> None:
    target, configs = cgw
    assert target.config() == configs["old"]
    runs = [Run(target.args("new")), Run(target.args("new"))]
    rcs = [r.finish() for r in runs]
    assert 0 in rcs, runs[0].out[-3000:] + runs[1].out[-3000:]
    for run, rc in zip(runs, rcs, strict=True):
        if rc != 0:
            assert LOCKED.search(run.out), run.out[-4000:]
            assert "Traceback" not in run.out
    if rcs.count(0) == 2:  # the second waited for the first one's lock, then had nothing left to push
        assert sum("changed: [cgw]" in r.out.split("TASK [gateway_push : Push")[-1].split("TASK [")[0]
                   for r in runs) <= 1, runs[0].out[-3000:] + runs[1].out[-3000:]
    target.settle()
    assert target.config() == configs["new"]
    assert not target.pending()
    recover(target, "old")
    assert target.config() == configs["old"]


# -- IOS-XE simulators (CLI over netmiko, NETCONF commit-confirmed)


def test_iosxe_cli_sigkill_during_and_after_the_push(cli_router: tuple[Router, dict[str, str]]) -> None:
    target, configs = cli_router
    interrupt(target, configs, "old", "new", DURING_PUSH, signal.SIGKILL, delay=1.5)
    out = interrupt(target, configs, "new", "old", AFTER_PUSH, signal.SIGKILL)
    assert "was never confirmed" in out, out[-4000:]


def test_iosxe_netconf_sigkill_during_the_push_and_sigint_during_the_confirmation(
        nc_router: tuple[Router, dict[str, str]]) -> None:
    target, configs = nc_router
    interrupt(target, configs, "old", "new", DURING_PUSH, signal.SIGKILL, delay=1.0)
    interrupt(target, configs, "new", "old", DURING_CONFIRM, signal.SIGINT, delay=0.2)
