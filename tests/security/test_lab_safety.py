"""The lab is safe on a shared machine: no shell account with a known password, no world-writable
sockets, no secret on a command line, only its own namespaces deleted, no host services left enabled,
and its simulators are found and stopped from any checkout."""

from __future__ import annotations

import json
import os
import pwd
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from stowpath_testlib import REPO

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from lab.stowlab import lifecycle  # noqa: E402
from lab.stowlab.host import pid_alive  # noqa: E402

VENDOR = REPO / "lab" / "vendor"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (accounts, sshd)")


def test_dx_key_is_never_on_a_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    seen_files: list[str] = []

    def fake_exec(name: str, cmd: list[str], check: bool = False, timeout: float = 15.0) -> Any:
        calls.append(cmd)
        if "-f" in cmd:
            path = Path(cmd[cmd.index("-f") + 1])
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            seen_files.append(path.read_text())
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(lifecycle, "dev_exec", fake_exec)
    params = {"dx": {"customer_address": "169.254.1.2/30", "amazon_address": "169.254.1.1/30"}}
    monkeypatch.setattr(lifecycle, "dx_customer_ip", lambda p: "169.254.1.2")
    lifecycle._set_dx_key(params, "SeCrEtMd5KeyValue")
    assert calls and not any("SeCrEtMd5KeyValue" in " ".join(c) for c in calls)
    assert any("SeCrEtMd5KeyValue" in text for text in seen_files)
    assert not any(Path(c[c.index("-f") + 1]).exists() for c in calls if "-f" in c)  # removed afterwards


def test_only_the_labs_own_namespaces_are_deleted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifecycle, "netns_list", lambda: ["sp-cgw", "sp-aws", "sp-fgw-07", "sp-someone-else", "prod"])
    assert lifecycle.lab_namespaces() == ["sp-cgw", "sp-aws", "sp-fgw-07"]


def _start_sim(state_dir: Path) -> dict[str, Any]:
    out = subprocess.run([sys.executable, str(VENDOR / "iosxe_sim.py"), "start", "--port", "0", "--state-dir",
                          str(state_dir), "--fresh"], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_simulators_recorded_in_the_global_state_are_stopped_by_any_checkout(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    vendor = tmp_path / "vendor"
    state = _start_sim(vendor / "iosxe-sim")
    try:
        assert _port_open(state["port"])
        monkeypatch.setattr(lifecycle, "VENDOR_STATE", vendor)
        stopped = lifecycle.stop_simulators()
        assert any("iosxe-sim" in s for s in stopped)
        deadline = time.monotonic() + 5
        while _port_open(state["port"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _port_open(state["port"]) and not pid_alive(state["pid"])
    finally:
        subprocess.run([sys.executable, str(VENDOR / "iosxe_sim.py"), "stop", "--state-dir", str(vendor / "iosxe-sim")],
                       capture_output=True, timeout=60)


def test_simulators_default_to_the_global_lab_state() -> None:
    for script, name in (("iosxe_sim.py", "iosxe-sim"), ("netconf_iosxe.py", "netconf-iosxe")):
        text = (VENDOR / script).read_text()
        assert f'/ "vendor" / "{name}"' in text and '".lab" / "vendor" / "' + name not in text


@needs_root
def test_netconf_account_has_no_shell_its_socket_is_private_and_it_goes_on_stop(tmp_path: Path) -> None:
    user = f"stowpath-nct{os.getpid() % 10000}"
    state_dir = tmp_path / "nc"
    run = [sys.executable, str(VENDOR / "netconf_iosxe.py")]
    out = subprocess.run([*run, "start", "--port", "0", "--state-dir", str(state_dir), "--user", user,
                          "--password", "known-lab-password"], capture_output=True, text=True, timeout=120)
    try:
        assert out.returncode == 0, out.stderr
        state = json.loads(out.stdout)
        shell = pwd.getpwnam(user).pw_shell
        assert shell not in ("/bin/sh", "/bin/bash", "/usr/bin/bash", "/bin/dash")
        probe = subprocess.run([shell, "-c", "id"], capture_output=True, text=True, timeout=10)
        assert probe.returncode != 0  # the login shell runs the NETCONF relay and nothing else
        sneaky = subprocess.run([shell, "-c", f"/usr/bin/python3 {VENDOR}/netconf_oper_proxy.py relay ; id"],
                                capture_output=True, text=True, timeout=10)
        assert sneaky.returncode != 0 and "uid=" not in sneaky.stdout
        for key in ("socket", "state_socket"):
            mode = stat.S_IMODE(os.stat(state[key]).st_mode)
            assert mode & 0o077 == 0, f"{state[key]} is {oct(mode)}"
    finally:
        subprocess.run([*run, "stop", "--state-dir", str(state_dir)], capture_output=True, timeout=60)
    with pytest.raises(KeyError):
        pwd.getpwnam(user)


@needs_root
def test_make_setup_leaves_no_debian_service_enabled() -> None:
    subprocess.run(["make", "-s", "apt"], cwd=REPO, check=True, capture_output=True, timeout=600)
    enabled = []
    for service in ("nginx", "orthanc", "frr", "strongswan-starter", "strongswan"):
        out = subprocess.run(["systemctl", "is-enabled", f"{service}.service"], capture_output=True, text=True)
        if out.stdout.strip() == "enabled":
            enabled.append(service)
    assert not enabled
