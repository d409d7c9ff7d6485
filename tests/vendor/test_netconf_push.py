"""NETCONF transport against netconfd (yuma123) loaded with Cisco's IOS-XE 16.9.1 native YANG models,
reached over real OpenSSH (Subsystem netconf). Payloads are validated against Cisco's schema; the
confirmed-commit timeout rollback is done by the server."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.site import site_secrets
from ansible_collections.stowpath.core.plugins.module_utils.transports import push as P
from lxml import etree

from .conftest import make_site, render

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]
NS = {"ios": "http://cisco.com/ns/yang/Cisco-IOS-XE-native", "cr": "http://cisco.com/ns/yang/Cisco-IOS-XE-crypto"}


def kw(tmp_path: Path, **extra: object) -> dict:
    return {"state_dir": str(tmp_path / "state"), "owner": "harbor-radiology", **extra}


def edited(src: Path, dest: Path, xpath: str, change: callable) -> Path:
    tree = etree.parse(str(src))
    for el in tree.getroot().xpath(xpath, namespaces=NS)[:1]:
        change(el)
    tree.write(str(dest))
    return dest


@pytest.fixture()
def xml(tmp_path: Path) -> Path:
    return render(make_site(), tmp_path / "art")["netconf.xml"]


def test_payload_accepted_by_cisco_schema_push_confirm_idempotent(netconf, xml, tmp_path):
    before = netconf.running()
    check = P.push("cisco_iosxe", "netconf", netconf.conn(), str(xml), check_mode=True, **kw(tmp_path))
    assert check["changed"] and netconf.running() == before  # --check: device's own diff, nothing committed
    assert "create native/crypto/ikev2/keyring[name=STOWPATH-KEYRING]" in check["commands"]
    assert "<key>********</key>" in check["diff"]
    for secret in site_secrets(make_site()):
        assert secret not in check["diff"] + "".join(check["commands"])
    pushed = P.push("cisco_iosxe", "netconf", netconf.conn(), str(xml), confirm_timeout=60, **kw(tmp_path))
    assert pushed["token"] and pushed["diff"] == check["diff"]
    P.finish("confirm", "cisco_iosxe", "netconf", netconf.conn(), pushed["token"], **kw(tmp_path))
    running = netconf.running()
    assert "STOWPATH-KEYRING" in running and "<adjust-mss>1379</adjust-mss>" in running
    again = P.push("cisco_iosxe", "netconf", netconf.conn(), str(xml), **kw(tmp_path))
    assert not again["changed"] and again["diff"] == "" and again["token"] is None


@pytest.mark.parametrize(("what", "xpath", "change", "expect"), [
    ("netmask rendered as a prefix length", "//ios:Tunnel/ios:ip/ios:address/ios:primary/ios:mask",
     lambda el: setattr(el, "text", "30"), "mask"),
    ("unknown leaf", "//cr:ikev2/cr:profile/cr:lifetime",
     lambda el: el.append(etree.Element(f"{{{NS['cr']}}}minutes")), "unknown"),
    ("MSS outside IOS-XE's 500..1460", "//ios:Tunnel/ios:ip/ios:tcp/ios:adjust-mss",
     lambda el: setattr(el, "text", "1500"), "range"),
])
def test_bad_payload_rejected_by_the_schema(netconf, xml, tmp_path, what, xpath, change, expect):
    bad = edited(xml, tmp_path / "bad.xml", xpath, change)
    before = netconf.running()
    with pytest.raises(P.PushError) as err:
        P.push("cisco_iosxe", "netconf", netconf.conn(), str(bad), **kw(tmp_path))
    assert err.value.result["failure"] == "rejected", what
    assert expect in err.value.message and "nothing was committed" in err.value.message
    assert netconf.running() == before


def test_unconfirmed_commit_is_rolled_back_by_the_server(netconf, xml, tmp_path):
    before = netconf.running()
    pushed = P.push("cisco_iosxe", "netconf", netconf.conn(), str(xml), confirm_timeout=2, **kw(tmp_path))
    assert "STOWPATH-KEYRING" in netconf.running()
    for _ in range(10):  # poll gently: back-to-back sessions starve yuma123's confirm timer
        time.sleep(2)
        if "STOWPATH-KEYRING" not in netconf.running():
            break
    assert netconf.running() == before  # netconfd restored the old running configuration by itself
    with pytest.raises(P.PushError) as err:
        P.finish("confirm", "cisco_iosxe", "netconf", netconf.conn(), pushed["token"], **kw(tmp_path))
    assert err.value.result["failure"] == "confirm_expired" and "rolled back" in err.value.message


def test_rollback_cancels_the_confirmed_commit(netconf, xml, tmp_path):
    before = netconf.running()
    pushed = P.push("cisco_iosxe", "netconf", netconf.conn(), str(xml), confirm_timeout=60, **kw(tmp_path))
    done = P.finish("rollback", "cisco_iosxe", "netconf", netconf.conn(), pushed["token"], **kw(tmp_path))
    assert "cancel-commit" in done["message"] and netconf.running() == before


def test_conflict_reported_in_merge_and_overwritten_in_replace(netconf, xml, tmp_path):
    theirs = edited(xml, tmp_path / "theirs.xml", "//cr:ikev2/cr:proposal[1]/cr:group",
                    lambda el: el.__setitem__(0, etree.Element(f"{{{NS['cr']}}}two")))
    m = netconf.manager()
    try:  # somebody else configured the same names earlier
        with m.locked("candidate"):
            m.edit_config(target="candidate", config=theirs.read_text())
            m.commit()
    finally:
        m.close_session()
    with pytest.raises(P.PushError) as err:
        P.push("cisco_iosxe", "netconf", netconf.conn(), str(xml), **kw(tmp_path))
    assert err.value.result["conflicts"] == ["native/crypto/ikev2/proposal[name=STOWPATH-IKEV2-PROP-TUN1]"]
    assert "+          <fourteen/>" in err.value.result["diff"]  # a merge would add a 2nd group beside theirs
    done = P.push("cisco_iosxe", "netconf", netconf.conn(), str(xml), mode="replace", **kw(tmp_path))
    P.finish("confirm", "cisco_iosxe", "netconf", netconf.conn(), done["token"], **kw(tmp_path))
    assert "<two/>" not in netconf.running()


def test_authentication_failure(netconf, xml, tmp_path):
    with pytest.raises(P.PushError) as err:
        P.push("cisco_iosxe", "netconf", netconf.conn(password="wrong-password"), str(xml), **kw(tmp_path))
    assert err.value.result["failure"] == "authentication"
    assert "NETCONF authentication failed for stowpath-nc@127.0.0.1" in err.value.message
    log = (netconf.state_dir / "sshd.log").read_text()
    assert log.count("Failed password for stowpath-nc") == 1  # one attempt, no retry storm
