"""Router sessions verify the device's SSH host key: unknown and changed keys stop the session with a
message naming the host, the presented key and the fix; only the lab inventory relaxes anything."""

from __future__ import annotations

import configparser
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.stowpath.core.plugins.module_utils.platforms import get
from ansible_collections.stowpath.core.plugins.module_utils.transports import hostkeys
from ansible_collections.stowpath.core.plugins.module_utils.transports.ansible_args import DEVICE_ARGS, connection
from ansible_collections.stowpath.core.plugins.module_utils.transports.base import open_transport
from stowpath_testlib import REPO


def _known_hosts(path: Path, port: int, key: Any) -> Path:
    path.write_text(f"[127.0.0.1]:{port} {key.get_name()} {key.get_base64()}\n")
    return path


def _other_key() -> Any:
    import paramiko

    return paramiko.Ed25519Key.from_private_key_file(str(_gen_key()))


def _gen_key() -> Path:
    import subprocess
    import tempfile

    d = Path(tempfile.mkdtemp())
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "k")], check=True)
    return d / "k"


def _conn(sim: Any, **options: Any) -> Any:
    c = sim.conn()
    c.options.update(options)
    return c


# ---------------------------------------------------------------- defaults (no device)
def test_module_option_verifies_host_keys_by_default() -> None:
    assert DEVICE_ARGS["hostkey_verify"]["default"] is True
    _, _, conn = connection({"platform": "cisco_iosxe", "host": "r1", "username": "u"})
    assert conn.options["hostkey_verify"] is True


def test_ansible_cfg_checks_host_keys() -> None:
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(REPO / "ansible.cfg")
    assert cfg.get("defaults", "host_key_checking", fallback="True").lower() in ("true", "yes", "1")
    ssh_args = cfg.get("ssh_connection", "ssh_args", fallback="")
    assert "StrictHostKeyChecking=no" not in ssh_args and "UserKnownHostsFile=/dev/null" not in ssh_args


def test_only_the_lab_inventory_names_its_own_known_hosts() -> None:
    lab = yaml.safe_load((REPO / "inventories/lab/group_vars/lab_devices.yml").read_text())
    assert "StrictHostKeyChecking=yes" in lab["ansible_ssh_common_args"]
    assert "/run/stowpath-lab/ssh/known_hosts" in lab["ansible_ssh_common_args"]
    routers = yaml.safe_load((REPO / "inventories/lab/group_vars/lab_vendor_routers.yml").read_text())
    assert routers["gateway_hostkey_verify"] is True
    device = yaml.safe_load((REPO / "playbooks/group_vars/all/device.yml").read_text())["stowpath_device"]
    assert "default(true)" in device["hostkey_verify"]


# ---------------------------------------------------------------- netmiko against a private simulator
def test_cli_unknown_host_key_is_refused_with_fingerprint_and_fix(sim: Any, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(hostkeys.HostKeyError) as err:
        open_transport("cisco_iosxe", "netmiko", _conn(sim, hostkey_verify=True, known_hosts=str(empty)))
    msg = err.value.message
    key = hostkeys.presented_key("127.0.0.1", sim.port)
    assert f"[127.0.0.1]:{sim.port}" in msg and "unknown" in msg
    assert hostkeys.fingerprint(key) in msg
    assert f"ssh-keyscan -p {sim.port}" in msg and str(empty) in msg
    assert err.value.kind == "host_key"
    assert "auth ok" not in sim.log()  # refused before any credential was sent


def test_cli_changed_host_key_is_refused(sim: Any, tmp_path: Path) -> None:
    kh = _known_hosts(tmp_path / "known_hosts", sim.port, _other_key())
    with pytest.raises(hostkeys.HostKeyError) as err:
        open_transport("cisco_iosxe", "netmiko", _conn(sim, hostkey_verify=True, known_hosts=str(kh)))
    msg = err.value.message
    assert "HOST KEY CHANGED" in msg and f"ssh-keygen -R '[127.0.0.1]:{sim.port}' -f {kh}" in msg
    assert hostkeys.fingerprint(hostkeys.presented_key("127.0.0.1", sim.port)) in msg


def test_cli_recorded_host_key_connects(sim: Any, tmp_path: Path) -> None:
    kh = _known_hosts(tmp_path / "known_hosts", sim.port, hostkeys.presented_key("127.0.0.1", sim.port))
    with open_transport("cisco_iosxe", "netmiko", _conn(sim, hostkey_verify=True, known_hosts=str(kh))) as t:
        assert "hostname" in t.get_running()


# ---------------------------------------------------------------- NETCONF against a private netconfd
def test_netconf_unknown_and_changed_host_keys_are_refused(netconf: Any, tmp_path: Path) -> None:
    spec = get("cisco_iosxe")
    empty = tmp_path / "empty"
    empty.write_text("")
    c = netconf.conn()
    c.options.update(hostkey_verify=True, known_hosts=str(empty))
    with pytest.raises(hostkeys.HostKeyError, match="unknown"):
        open_transport(spec, "netconf", c)
    wrong = _known_hosts(tmp_path / "wrong", netconf.port, _other_key())
    c.options["known_hosts"] = str(wrong)
    with pytest.raises(hostkeys.HostKeyError, match="HOST KEY CHANGED"):
        open_transport(spec, "netconf", c)
    right = _known_hosts(tmp_path / "right", netconf.port, hostkeys.presented_key("127.0.0.1", netconf.port))
    c.options["known_hosts"] = str(right)
    open_transport(spec, "netconf", c).close()


def test_simulators_record_their_host_key(sim_factory: Any, tmp_path: Path) -> None:
    """`lab-up` passes --known-hosts: the lab inventory can verify the simulators like real routers."""
    import subprocess
    import sys

    kh = tmp_path / "kh"
    state = tmp_path / "simk"
    lab = REPO / "lab" / "vendor" / "iosxe_sim.py"
    out = subprocess.run([sys.executable, str(lab), "start", "--port", "0", "--state-dir", str(state), "--fresh",
                          "--known-hosts", str(kh)], capture_output=True, text=True, timeout=60)
    try:
        assert out.returncode == 0, out.stderr
        import json

        port = json.loads(out.stdout)["port"]
        key = hostkeys.presented_key("127.0.0.1", port)
        assert hostkeys.recorded_keys("127.0.0.1", port, [str(kh)])[key.get_name()].asbytes() == key.asbytes()
    finally:
        subprocess.run([sys.executable, str(lab), "stop", "--state-dir", str(state)], capture_output=True, timeout=60)
    assert os.stat(kh).st_mode & 0o022 == 0
