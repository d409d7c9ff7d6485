"""Netmiko CLI transport against the IOS-XE CLI SIMULATOR (real SSH, real Netmiko cisco_ios driver).

The simulator is not IOS-XE: it checks CLI mechanics, our remediation and rollback, and the few IOS
semantic refusals it implements (see lab/vendor/iosxe_sim.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.platforms import cisco_iosxe as ios
from ansible_collections.stowpath.core.plugins.module_utils.site import site_secrets
from ansible_collections.stowpath.core.plugins.module_utils.transports import push as P
from ansible_collections.stowpath.core.plugins.module_utils.transports.state import PushState, device_id

from .conftest import make_site, render

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]


def _owned(running: str) -> str:
    """The stowpath part of a running config, normalised (to compare device states)."""
    cfg = ios.parse(running)
    keep = [c for c in cfg.children if "STOWPATH" in c.text or c.text.startswith(("interface Tunnel", "router bgp"))
            or c.text == "interface GigabitEthernet1"]
    return "\n".join(sorted(line for c in keep for line in c.lines()))


@pytest.fixture()
def arts(tmp_path: Path) -> dict:
    return {"two": render(make_site(), tmp_path / "two"), "one": render(make_site(tunnels=1), tmp_path / "one")}


def kw(tmp_path: Path, **extra: object) -> dict:
    return {"state_dir": str(tmp_path / "state"), "owner": "harbor-radiology", **extra}


def test_check_push_confirm_then_nothing_to_do(sim, arts, tmp_path):
    before = sim.running()
    cfg = str(arts["two"]["config.cfg"])
    check = P.push("cisco_iosxe", "netmiko", sim.conn(), cfg, check_mode=True, **kw(tmp_path))
    assert check["changed"] and check["token"] is None and sim.running() == before  # --check changes nothing
    assert "+ crypto ikev2 keyring STOWPATH-KEYRING" in check["diff"]
    for secret in site_secrets(make_site()):
        assert secret not in check["diff"] + "".join(check["commands"])
    pushed = P.push("cisco_iosxe", "netmiko", sim.conn(), cfg, **kw(tmp_path))
    assert pushed["changed"] and pushed["token"]
    assert pushed["commands"] == check["commands"]  # the dry run showed exactly what was sent
    assert "STOWPATH-KEYRING" in sim.running() and "STOWPATH" not in sim.startup()  # not saved before confirm
    done = P.finish("confirm", "cisco_iosxe", "netmiko", sim.conn(), pushed["token"], **kw(tmp_path))
    assert done["changed"] and "STOWPATH-KEYRING" in sim.startup()
    again = P.push("cisco_iosxe", "netmiko", sim.conn(), cfg, **kw(tmp_path))
    assert not again["changed"] and again["commands"] == [] and again["token"] is None


def _journal_key(tmp_path: Path) -> str:
    from cryptography.fernet import Fernet

    path = tmp_path / "journal.key"
    path.write_bytes(Fernet.generate_key())
    path.chmod(0o600)
    return str(path)


def test_update_removes_what_stowpath_added_and_rollback_restores(sim, arts, tmp_path):
    """With a journal key the rollback puts back the removed tunnel, its PSK included."""
    two, one = str(arts["two"]["config.cfg"]), str(arts["one"]["config.cfg"])
    opts = kw(tmp_path, journal_key=_journal_key(tmp_path))
    first = P.push("cisco_iosxe", "netmiko", sim.conn(), two, **opts)
    P.finish("confirm", "cisco_iosxe", "netmiko", sim.conn(), first["token"], **opts)
    with_two = _owned(sim.running())
    shrink = P.push("cisco_iosxe", "netmiko", sim.conn(), one, **opts)
    assert "no interface Tunnel2" in shrink["commands"]
    assert "interface Tunnel2" not in sim.running() and "169.254.173.41" not in sim.running()
    back = P.finish("rollback", "cisco_iosxe", "netmiko", sim.conn(), shrink["token"], **opts)
    assert "restored the pre-change configuration" in back["message"]
    assert _owned(sim.running()) == with_two


def test_update_removing_a_psk_cannot_roll_back_from_a_masked_journal(sim, arts, tmp_path):
    """Without a journal key the removed PSK is known only masked: the rollback refuses and sends nothing."""
    two, one = str(arts["two"]["config.cfg"]), str(arts["one"]["config.cfg"])
    first = P.push("cisco_iosxe", "netmiko", sim.conn(), two, **kw(tmp_path))
    P.finish("confirm", "cisco_iosxe", "netmiko", sim.conn(), first["token"], **kw(tmp_path))
    shrink = P.push("cisco_iosxe", "netmiko", sim.conn(), one, **kw(tmp_path))
    after_shrink = sim.running()
    with pytest.raises(P.PushError) as err:
        P.finish("rollback", "cisco_iosxe", "netmiko", sim.conn(), shrink["token"], **kw(tmp_path))
    assert "cannot be restored" in err.value.message and "Nothing was sent" in err.value.message
    assert "stowpath_journal_key" in err.value.message
    assert "********" in err.value.message
    for secret in site_secrets(make_site()):
        assert secret not in err.value.message
    assert sim.running() == after_shrink


def test_device_rejects_a_line_nothing_half_applied(sim, tmp_path):
    site = make_site()
    site["tcp_mss"] = 1500  # IOS-XE accepts 500..1460: the simulator answers "% Invalid input"
    cfg = render(site, tmp_path / "bad")["config.cfg"]
    before = _owned(sim.running())
    with pytest.raises(P.PushError) as err:
        P.push("cisco_iosxe", "netmiko", sim.conn(), str(cfg), **kw(tmp_path))
    assert err.value.result["failure"] == "rejected" and err.value.result["rolled_back"] is True
    assert "ip tcp adjust-mss 1500" in err.value.message and "% Invalid input" in err.value.message
    assert "restored the pre-change configuration" in err.value.message
    assert _owned(sim.running()) == before  # the lines before the bad one were rolled back
    assert PushState(str(tmp_path / "state"), device_id("127.0.0.1", sim.port)).pending() is None


def test_simulator_refuses_removing_a_transform_set_in_use(sim, arts, tmp_path):
    """The IOS rule our ordering rules exist for (so that a wrong order would fail this way)."""
    pushed = P.push("cisco_iosxe", "netmiko", sim.conn(), str(arts["two"]["config.cfg"]), **kw(tmp_path))
    P.finish("confirm", "cisco_iosxe", "netmiko", sim.conn(), pushed["token"], **kw(tmp_path))
    from netmiko import ConnectHandler

    c = sim.conn()
    cli = ConnectHandler(device_type="cisco_ios", host=c.host, port=c.port, username=c.username,
                         password=c.password, secret=c.enable_secret)
    try:
        cli.enable()
        out = cli.send_config_set(["no crypto ipsec transform-set STOWPATH-TS-TUN1"])
    finally:
        cli.disconnect()
    assert "is in use by crypto ipsec profile STOWPATH-IPSEC-TUN1" in out
    assert "crypto ipsec transform-set STOWPATH-TS-TUN1" in sim.running()


def test_connection_lost_mid_push_is_restored_by_the_next_run(sim, arts, tmp_path):
    cfg = str(arts["two"]["config.cfg"])
    before = _owned(sim.running())
    sim.fault(drop_after_config_lines=25)
    with pytest.raises(P.PushError) as err:
        P.push("cisco_iosxe", "netmiko", sim.conn(), cfg, **kw(tmp_path))
    assert err.value.result["failure"] == "connection_lost" and "next run" in err.value.message
    half = _owned(sim.running())
    assert half != before and "interface Tunnel2" not in sim.running()  # really half-applied
    again = P.push("cisco_iosxe", "netmiko", sim.conn(), cfg, check_mode=True, **kw(tmp_path))
    assert any("was interrupted" in n for n in again["notes"])  # --check only reports it
    nxt = P.push("cisco_iosxe", "netmiko", sim.conn(), cfg, **kw(tmp_path))
    assert "was interrupted; recovered: restored the pre-change configuration" in nxt["recovered"]
    assert nxt["changed"] and nxt["token"]
    P.finish("confirm", "cisco_iosxe", "netmiko", sim.conn(), nxt["token"], **kw(tmp_path))
    assert "interface Tunnel2" in sim.running()


def test_unconfirmed_push_is_undone_and_late_confirm_fails(sim, arts, tmp_path):
    cfg = str(arts["two"]["config.cfg"])
    before = _owned(sim.running())
    pushed = P.push("cisco_iosxe", "netmiko", sim.conn(), cfg, confirm_timeout=1, **kw(tmp_path))
    time.sleep(1.2)
    with pytest.raises(P.PushError) as err:
        P.finish("confirm", "cisco_iosxe", "netmiko", sim.conn(), pushed["token"], **kw(tmp_path))
    assert err.value.result["failure"] == "confirm_expired" and "rolled back" in err.value.message
    assert _owned(sim.running()) == before and "STOWPATH" not in sim.startup()


def test_pending_push_and_lock_keep_other_runs_out(sim, arts, tmp_path):
    cfg = str(arts["two"]["config.cfg"])
    pushed = P.push("cisco_iosxe", "netmiko", sim.conn(), cfg, **kw(tmp_path))
    with pytest.raises(P.PushError, match="waiting for its confirmation"):
        P.push("cisco_iosxe", "netmiko", sim.conn(), cfg, **kw(tmp_path))
    state = PushState(str(tmp_path / "state"), device_id("127.0.0.1", sim.port))
    with state.lock(), pytest.raises(P.PushError, match="locked by another stowpath run"):
        P.finish("confirm", "cisco_iosxe", "netmiko", sim.conn(), pushed["token"], **kw(tmp_path, lock_wait=0.3))
    P.finish("confirm", "cisco_iosxe", "netmiko", sim.conn(), pushed["token"], **kw(tmp_path))


def test_conflicting_objects_reported_and_replaced_only_on_request(sim_factory, arts, tmp_path):
    theirs = "crypto ikev2 proposal STOWPATH-IKEV2-PROP-TUN1\n encryption aes-cbc-128\n integrity sha1\n group 2\n"
    sim = sim_factory(theirs)
    cfg = str(arts["two"]["config.cfg"])
    with pytest.raises(P.PushError) as err:
        P.push("cisco_iosxe", "netmiko", sim.conn(), cfg, **kw(tmp_path))
    assert err.value.result["failure"] == "conflict"
    assert err.value.result["conflicts"] == ["crypto ikev2 proposal STOWPATH-IKEV2-PROP-TUN1"]
    assert "- encryption aes-cbc-128" in err.value.result["diff"]  # shown in the diff
    assert "aes-cbc-128" in sim.running() and "STOWPATH-KEYRING" not in sim.running()  # nothing pushed
    done = P.push("cisco_iosxe", "netmiko", sim.conn(), cfg, mode="replace", **kw(tmp_path))
    assert done["changed"] and "aes-cbc-128" not in sim.running()


def test_authentication_failure_is_clear_and_not_retried(sim, arts, tmp_path):
    with pytest.raises(P.PushError) as err:
        P.push("cisco_iosxe", "netmiko", sim.conn(password="wrong-password"), str(arts["two"]["config.cfg"]),
               **kw(tmp_path))
    assert err.value.result["failure"] == "authentication"
    assert "authentication failed for stowpath@127.0.0.1" in err.value.message
    assert "wrong-password" not in err.value.message
    assert sim.log().count("auth FAILED") == 1  # one attempt, no retry storm
