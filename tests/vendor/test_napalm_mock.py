"""NAPALM transport against NAPALM's own mock driver with recorded answers (no live Junos/IOS target
can run here). The answers, incl. failures, are in fixtures/napalm/<scenario>/<method>.<n>."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.site import site_secrets
from ansible_collections.stowpath.core.plugins.module_utils.transports import push as P
from ansible_collections.stowpath.core.plugins.module_utils.transports.base import ConnParams

from .conftest import FIXTURES, make_site, render


def conn(scenario: str, **optional: object) -> ConnParams:
    return ConnParams(host="srx.lab.example", port=830, username="stowpath", password="not-used",
                      options={"napalm_driver": "mock",
                               "optional_args": {"path": str(FIXTURES / "napalm" / scenario), **optional}})


@pytest.fixture()
def setfile(tmp_path: Path) -> Path:
    return render(make_site("junos", tunnels=1), tmp_path / "art")["config.set"]


def kw(tmp_path: Path) -> dict:
    return {"state_dir": str(tmp_path / "state"), "owner": "hillside-clinic"}


def test_push_commit_confirmed_then_confirm(setfile, tmp_path):
    check = P.push("junos", "napalm", conn("junos_ok"), str(setfile), check_mode=True, **kw(tmp_path))
    assert check["changed"] and check["token"] is None
    assert "+    proposal stowpath-ike-tun1 {" in check["commands"]
    assert '"$9$' not in check["diff"] and 'ascii-text "********"' in check["diff"]  # Junos secrets normalised
    for secret in site_secrets(make_site("junos", tunnels=1)):
        assert secret not in check["diff"]
    pushed = P.push("junos", "napalm", conn("junos_ok"), str(setfile), confirm_timeout=300, **kw(tmp_path))
    assert pushed["token"] and pushed["transport"] == "napalm"
    done = P.finish("confirm", "junos", "napalm", conn("junos_ok"), pushed["token"], **kw(tmp_path))
    assert done["changed"] and done["message"] == "confirmed"


def test_no_change(setfile, tmp_path):
    r = P.push("junos", "napalm", conn("junos_nochange"), str(setfile), **kw(tmp_path))
    assert not r["changed"] and r["commands"] == [] and r["token"] is None


def test_commit_error_is_reported_and_nothing_stays_pending(setfile, tmp_path):
    with pytest.raises(P.PushError) as err:
        P.push("junos", "napalm", conn("junos_commit_error"), str(setfile), **kw(tmp_path))
    assert err.value.result["failure"] == "rejected" and err.value.result["rolled_back"] is True
    assert "must be in a security zone" in err.value.message and "running unchanged" in err.value.message
    with pytest.raises(P.PushError, match="no pending push"):
        P.finish("rollback", "junos", "napalm", conn("junos_ok"), "0123", **kw(tmp_path))


def test_load_error(setfile, tmp_path):
    with pytest.raises(P.PushError) as err:
        P.push("junos", "napalm", conn("junos_rejected"), str(setfile), **kw(tmp_path))
    assert err.value.result["failure"] == "rejected" and "syntax error: group99" in err.value.message


def test_connection_lost_during_commit_leaves_the_device_to_revert(setfile, tmp_path):
    with pytest.raises(P.PushError) as err:
        P.push("junos", "napalm", conn("junos_lost"), str(setfile), confirm_timeout=120, **kw(tmp_path))
    assert err.value.result["failure"] == "connection_lost"
    assert "reverts by itself after 120 s" in err.value.message


def test_confirm_after_the_device_reverted(setfile, tmp_path):
    pushed = P.push("junos", "napalm", conn("junos_ok"), str(setfile), **kw(tmp_path))
    with pytest.raises(P.PushError) as err:
        P.finish("confirm", "junos", "napalm", conn("junos_expired"), pushed["token"], **kw(tmp_path))
    assert err.value.result["failure"] == "confirm_expired" and "rolled back" in err.value.message


def test_conflict_needs_replace(setfile, tmp_path):
    with pytest.raises(P.PushError) as err:
        P.push("junos", "napalm", conn("junos_conflict"), str(setfile), **kw(tmp_path))
    assert err.value.result["failure"] == "conflict"
    assert err.value.result["conflicts"][0] == "[edit security ike proposal stowpath-ike-tun1] dh-group group2;"
    xml = setfile.with_name("netconf.xml")
    done = P.push("junos", "napalm", conn("junos_conflict"), str(xml), mode="replace", **kw(tmp_path))
    assert done["changed"] and done["token"]


def test_unreachable_device(setfile, tmp_path):
    with pytest.raises(P.PushError) as err:
        P.push("junos", "napalm", conn("junos_ok", fail_on_open=True), str(setfile), **kw(tmp_path))
    assert err.value.result["failure"] == "connect" and "cannot connect to srx.lab.example" in err.value.message
