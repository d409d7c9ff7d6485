"""Push state: persistent, outside the checkout, keyed by inventory_hostname; no secret at rest."""

from __future__ import annotations

import json
import multiprocessing
import time
from pathlib import Path

import pytest
import yaml
from ansible_collections.stowpath.core.plugins.module_utils import redact
from ansible_collections.stowpath.core.plugins.module_utils.platforms import get
from ansible_collections.stowpath.core.plugins.module_utils.transports import push as P
from ansible_collections.stowpath.core.plugins.module_utils.transports.base import Change, ConnParams, Transport
from ansible_collections.stowpath.core.plugins.module_utils.transports.state import (
    DeviceBusyError,
    PushState,
    default_state_dir,
    forget,
)

REPO = Path(__file__).resolve().parents[2]
PSK = "Xq7.vpnPsk_secret42"
BEFORE = f"""crypto ikev2 keyring KR
 peer aws
  pre-shared-key local {PSK}
enable secret 9 $9$abcdefghijkl
snmp-server community hospitalRO RO
"""


class Fake(Transport):
    name = "netmiko"

    def __init__(self, spec, conn, secrets=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(spec, conn, secrets)

    def get_running(self) -> str:
        return BEFORE

    def diff(self, intended, mode="merge", previous=None):  # type: ignore[no-untyped-def]
        return Change(text_diff="", commands=["x"], payload=["x"], running=BEFORE, scope=["crypto ikev2 keyring KR"])

    def apply(self, change, confirm_timeout, token):  # type: ignore[no-untyped-def]
        return {}

    def confirm(self, pending) -> None:  # type: ignore[no-untyped-def]
        return None

    def rollback(self, pending) -> str:  # type: ignore[no-untyped-def]
        return "restored"

    def close(self) -> None:
        return None


def opener(platform, transport, conn, secrets=None):  # type: ignore[no-untyped-def]
    return Fake(get("cisco_iosxe"), conn, secrets)


CONN = ConnParams(host="127.0.0.1", port=8022, username="u", password="devpass")
INTENDED = f"crypto ikev2 keyring KR\n peer aws\n  pre-shared-key local {PSK}Z\n"


def test_default_state_dir_is_outside_the_checkout(monkeypatch, tmp_path):
    assert default_state_dir(euid=0) == "/var/lib/stowpath/controller"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_state_dir(euid=1000) == str(tmp_path / "stowpath")
    assert not default_state_dir().startswith(str(REPO))
    defaults = yaml.safe_load((REPO / "roles/gateway_push/defaults/main.yml").read_text())
    assert "role_path" not in defaults["gateway_push_state_dir"]
    assert "stowpath_state_dir" in defaults["gateway_push_state_dir"]
    drift = yaml.safe_load((REPO / "roles/drift_check/defaults/main.yml").read_text())
    assert "backups/push" not in drift["drift_check_push_state_dir"]
    tasks = (REPO / "roles/gateway_push/tasks/main.yml").read_text()
    calls = tasks.count("stowpath.core.gateway_push:")
    assert calls >= 3 and tasks.count('device_key: "{{ inventory_hostname }}"') == calls  # every call of the module
    assert 'device_key: "{{ inventory_hostname }}"' in (REPO / "roles/drift_check/tasks/check.yml").read_text()


def test_make_clean_and_lab_down_never_delete_push_state():
    make = (REPO / "Makefile").read_text()
    for target in ("clean:", "lab-down:"):
        body = make.split(f"\n{target}", 1)[1].split("\n\n", 1)[0]
        assert "backups/push" not in body and "stowpath_state" not in body and "/var/lib/stowpath" not in body


def test_forget_drops_only_the_named_devices(tmp_path):
    for key in ("iosxe-cli", "cgw"):
        PushState(str(tmp_path), key)._write("applied.json", {"owner": "x"})
    forget(str(tmp_path), ["iosxe-cli"])
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["cgw.applied.json"]


def _hold(state_dir: str, key: str, ready, seconds: float) -> None:  # type: ignore[no-untyped-def]
    with PushState(state_dir, key).lock(1):
        ready.set()
        time.sleep(seconds)


def test_two_checkouts_exclude_each_other_by_inventory_hostname(tmp_path):
    """Two jobs (each its own checkout, same state dir) pushing one gateway: the second fails cleanly."""
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(str(tmp_path), "iosxe-cli", ready, 3))
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(P.PushError, match="locked by another stowpath run"):
            P.push("cisco_iosxe", "netmiko", CONN, None, intended=INTENDED, state_dir=str(tmp_path), owner="s",
                   key="iosxe-cli", opener=opener, lock_wait=0.5)
        with pytest.raises(DeviceBusyError):
            with PushState(str(tmp_path), "iosxe-cli").lock(0.2):
                pass
    finally:
        holder.join()
    r = P.push("cisco_iosxe", "netmiko", CONN, None, intended=INTENDED, state_dir=str(tmp_path), owner="s",
               key="iosxe-cli", opener=opener)
    assert r["token"] and (tmp_path / "iosxe-cli.pending.json").exists()


def test_drift_check_takes_the_same_lock(tmp_path):
    from ansible_collections.stowpath.core.plugins.module_utils.drift.vendor import collect

    art = tmp_path / "config.cfg"
    art.write_text(INTENDED)
    with PushState(str(tmp_path), "iosxe-cli").lock(1):
        r = collect("cisco_iosxe", "netmiko", CONN, str(art), state_dir=str(tmp_path), owner="s", key="iosxe-cli",
                    opener=opener, lock_wait=0.3)
    assert r["errors"] and "locked by another stowpath run" in r["errors"][0]


def test_journal_and_last_applied_hold_no_secret(tmp_path):
    r = P.push("cisco_iosxe", "netmiko", CONN, None, intended=INTENDED, state_dir=str(tmp_path), owner="s",
               key="iosxe-cli", opener=opener)
    raw = (tmp_path / "iosxe-cli.pending.json").read_text()
    for secret in (PSK, "$9$abcdefghijkl", "hospitalRO", "devpass"):
        assert secret not in raw
    data = json.loads(raw)
    assert data["masked"] and data["sha256"]["running_before"] == redact.sha256(BEFORE)
    P.finish("confirm", "cisco_iosxe", "netmiko", CONN, r["token"], state_dir=str(tmp_path), owner="s",
             key="iosxe-cli", opener=opener)
    applied = (tmp_path / "iosxe-cli.applied.json").read_text()
    assert PSK not in applied and json.loads(applied)["sha256"]["intended"] == redact.sha256(INTENDED)


def test_journal_encrypted_with_a_user_key(tmp_path):
    from cryptography.fernet import Fernet

    key = tmp_path / "journal.key"
    key.write_bytes(Fernet.generate_key())
    P.push("cisco_iosxe", "netmiko", CONN, None, intended=INTENDED, state_dir=str(tmp_path / "s"), owner="s",
           key="r1", opener=opener, journal_key=str(key))
    assert PSK not in (tmp_path / "s" / "r1.pending.json").read_text()
    clear = PushState(str(tmp_path / "s"), "r1", key_file=str(key)).pending()
    assert clear["running_before"] == BEFORE and clear["intended"] == INTENDED


def test_a_secret_that_cannot_be_masked_stops_the_journal(tmp_path):
    state = PushState(str(tmp_path), "r1", mask=lambda text: text)  # masking that misses everything
    with pytest.raises(redact.UnmaskedSecretError, match="look like secrets"):
        state.write_pending({"running_before": BEFORE})
    assert not (tmp_path / "r1.pending.json").exists()


def test_cli_restore_takes_secrets_from_the_device_never_sends_a_mask(tmp_path):
    from ansible_collections.stowpath.core.plugins.module_utils.transports.netmiko_cli import NetmikoTransport

    t = NetmikoTransport.__new__(NetmikoTransport)
    Transport.__init__(t, get("cisco_iosxe"), CONN)
    t.planner = get("cisco_iosxe").cli
    masked = get("cisco_iosxe").mask(BEFORE, [])
    state = PushState(str(tmp_path), "r1", mask=get("cisco_iosxe").mask)
    sealed = state.seal({"running_before": BEFORE})
    assert sealed["running_before"] == masked
    before, _ = t._saved(dict(sealed, intended=""), BEFORE)
    assert f"pre-shared-key local {PSK}" in before
    sent: list[list[str]] = []
    t.get_running = lambda: BEFORE.replace(PSK, "rotatedPSK9")  # type: ignore[method-assign]
    t._send = sent.append  # type: ignore[method-assign]
    with pytest.raises(Exception, match="cannot be restored"):
        t._restore(dict(sealed, scope=["crypto ikev2 keyring KR"], intended=""))
    assert sent == []
