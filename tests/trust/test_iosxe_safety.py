"""IOS-XE: the facility's WAN ACL receives stowpath's entries on request (``wan_acl_policy=merge``) and is
never replaced; NETCONF stops on a facility ACL like the CLI; a CLI push is entered with a device-side
revert timer, so a change nobody confirms is put back by the router itself."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.platforms import cisco_iosxe as ios
from ansible_collections.stowpath.core.plugins.module_utils.transports import netconf as nc
from ansible_collections.stowpath.core.plugins.module_utils.transports import push as P
from vendor.conftest import FACILITY_WAN_ACL, Netconf, make_site, push_kw, render

ARCHIVE = "archive\n path flash:stowpath-archive\n maximum 5\n!\n"


def _acl(sim: Any) -> list[tuple[int, str]]:
    from netmiko import ConnectHandler

    c = sim.conn()
    cli = ConnectHandler(device_type="cisco_ios", host=c.host, port=c.port, username=c.username, password=c.password,
                         secret=c.enable_secret, ssh_config_file=None, allow_agent=False, use_keys=False)
    try:
        cli.enable()
        return ios.parse_acl_entries(cli.send_command("show ip access-lists FACILITY-WAN-IN"))
    finally:
        cli.disconnect()


def _cli(sim: Any, command: str) -> str:
    from netmiko import ConnectHandler

    c = sim.conn()
    cli = ConnectHandler(device_type="cisco_ios", host=c.host, port=c.port, username=c.username, password=c.password,
                         secret=c.enable_secret, ssh_config_file=None, allow_agent=False, use_keys=False)
    try:
        cli.enable()
        return cli.send_command_timing(command)
    finally:
        cli.disconnect()


# -- planner (no device) -------------------------------------------------------------------------------------
def test_merge_puts_stowpath_entries_below_the_facility_first_sequence(tmp_path: Path) -> None:
    cfg = render(make_site(), tmp_path / "a")["config.cfg"].read_text()
    entries = [(10, "permit tcp 192.0.2.0 0.0.0.255 any eq 22"), (20, "deny ip any any log")]
    rem = ios.remediation(FACILITY_WAN_ACL, cfg, wan_acl_policy="merge", acl_entries={"FACILITY-WAN-IN": entries})
    assert not rem.conflicts
    acl = rem.commands[:rem.commands.index("exit") + 1]
    assert acl[0] == "ip access-list extended FACILITY-WAN-IN" and len(acl) == 2 + 8  # 4 entries per tunnel
    seqs = [int(line.split()[0]) for line in acl[1:-1]]
    assert seqs == list(range(1, 9)) and all(" permit ip any any" not in line for line in acl)
    sent = "\n".join(rem.commands)
    assert "ip access-group STOWPATH-ACL-WAN-IN in" not in sent and "no ip access-group" not in sent
    assert "ip access-list extended FACILITY-WAN-IN" in rem.scope  # a rollback restores it
    # no room below the facility's first entry: a conflict, nothing merged
    tight = [(3, "permit tcp any any eq 22")]
    rem = ios.remediation(FACILITY_WAN_ACL, cfg, wan_acl_policy="merge", acl_entries={"FACILITY-WAN-IN": tight})
    assert rem.conflicts and "resequence" in rem.conflicts[0] and "FACILITY-WAN-IN" not in rem.commands[0]
    # stop (the default) stays a conflict
    rem = ios.remediation(FACILITY_WAN_ACL, cfg)
    assert rem.conflicts and "wan_acl_policy=merge" in rem.conflicts[0]
    with pytest.raises(ValueError, match="wan_acl_policy"):
        ios.remediation(FACILITY_WAN_ACL, cfg, wan_acl_policy="replace")


def test_parse_acl_entries() -> None:
    out = ("Extended IP access list FACILITY-WAN-IN\n    10 permit tcp 192.0.2.0 0.0.0.255 any eq 22 (12 matches)\n"
           "    20 deny ip any any log\n")
    assert ios.parse_acl_entries(out) == [(10, "permit tcp 192.0.2.0 0.0.0.255 any eq 22"), (20, "deny ip any any log")]


NC_RUNNING = """<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><native xmlns="http://cisco.com/ns/yang/Cisco-IOS-XE-native">
<interface><GigabitEthernet><name>1</name><ip><access-group>
<in><acl><acl-name>FACILITY-WAN-IN</acl-name><in/></acl></in></access-group></ip></GigabitEthernet></interface>
</native></data>"""


def test_netconf_guard_takes_the_binding_out_of_the_payload(tmp_path: Path) -> None:
    xml = render(make_site(), tmp_path / "a")["netconf.xml"].read_text()
    payload, conflicts, notes = nc.guard_facility_acls(nc.as_config(xml), NC_RUNNING, None)
    assert conflicts == ["interface GigabitEthernet1: ip access-group FACILITY-WAN-IN in (the facility's ACL; "
                         "stowpath would bind STOWPATH-ACL-WAN-IN instead: add stowpath's entries from "
                         "STOWPATH-ACL-WAN-IN to FACILITY-WAN-IN, then push again)"]
    assert "<acl-name>STOWPATH-ACL-WAN-IN</acl-name>" not in payload  # never rebound, even in replace mode
    assert "<acl-name>STOWPATH-ACL-WAN-OUT</acl-name>" in payload  # the direction the facility does not filter
    again, conflicts, _ = nc.guard_facility_acls(nc.as_config(xml), NC_RUNNING.replace("FACILITY-WAN-IN",
                                                                                     "STOWPATH-ACL-WAN-IN"), None)
    assert not conflicts and "<acl-name>STOWPATH-ACL-WAN-IN</acl-name>" in again


# -- against the simulators ----------------------------------------------------------------------------------
@pytest.mark.lab
def test_cli_merge_inserts_into_the_facility_acl_and_keeps_its_binding(sim_factory: Any, tmp_path: Path) -> None:
    sim = sim_factory(FACILITY_WAN_ACL)
    cfg = str(render(make_site(), tmp_path / "a")["config.cfg"])
    with pytest.raises(P.PushError, match="wan_acl_policy=merge"):
        P.push("cisco_iosxe", "netmiko", sim.conn(), cfg, **push_kw(tmp_path))
    pushed = P.push("cisco_iosxe", "netmiko", sim.conn(wan_acl_policy="merge"), cfg, **push_kw(tmp_path))
    assert pushed["changed"] and any("merged into it before its own entries" in n for n in pushed["notes"])
    entries = _acl(sim)
    assert [n for n, _ in entries][-2:] == [10, 20] and len(entries) == 10
    assert entries[0][1].startswith("permit udp host ") and entries[0][1].endswith("eq isakmp")
    assert re.search(r"^interface GigabitEthernet1\n(?: .*\n)*? ip access-group FACILITY-WAN-IN in$", sim.running(),
                     re.M)
    P.finish("confirm", "cisco_iosxe", "netmiko", sim.conn(), pushed["token"], **push_kw(tmp_path))
    again = P.push("cisco_iosxe", "netmiko", sim.conn(wan_acl_policy="merge"), cfg, **push_kw(tmp_path))
    assert not again["changed"] and any("already in it" in n for n in again["notes"])


@pytest.mark.lab
def test_netconf_facility_acl_stops_the_push(netconf: Netconf, tmp_path: Path) -> None:
    m = netconf.manager()
    try:
        m.edit_config(target="candidate", config=(
            '<config><native xmlns="http://cisco.com/ns/yang/Cisco-IOS-XE-native"><interface><GigabitEthernet>'
            "<name>1</name><ip><access-group><in><acl><acl-name>FACILITY-WAN-IN</acl-name><in/></acl></in>"
            "</access-group></ip></GigabitEthernet></interface></native></config>"))
        m.commit()
    finally:
        m.close_session()
    before = netconf.running()
    xml = str(render(make_site(), tmp_path / "a")["netconf.xml"])
    with pytest.raises(P.PushError) as err:
        P.push("cisco_iosxe", "netconf", netconf.conn(), xml, **push_kw(tmp_path))
    assert err.value.result["failure"] == "conflict" and "FACILITY-WAN-IN" in err.value.message
    assert netconf.running() == before
    done = P.push("cisco_iosxe", "netconf", netconf.conn(), xml, mode="replace", confirm_timeout=60, **push_kw(tmp_path))
    assert done["changed"] and "FACILITY-WAN-IN" in netconf.running()
    P.finish("rollback", "cisco_iosxe", "netconf", netconf.conn(), done["token"], **push_kw(tmp_path))


@pytest.mark.lab
def test_cli_revert_timer_puts_an_unconfirmed_change_back_on_the_router(sim_factory: Any, tmp_path: Path) -> None:
    sim = sim_factory(ARCHIVE, minute_s=8.0)
    cfg = str(render(make_site(), tmp_path / "a")["config.cfg"])
    before = sim.running()
    pushed = P.push("cisco_iosxe", "netmiko", sim.conn(), cfg, confirm_timeout=30, **push_kw(tmp_path))
    assert "STOWPATH-KEYRING" in sim.running()
    assert "Timer value: 1 min" in _cli(sim, "show archive config rollback timer")
    deadline = time.monotonic() + 15  # nobody confirms: the router reverts by itself after "1 minute" (8 s)
    while "STOWPATH-KEYRING" in sim.running() and time.monotonic() < deadline:
        time.sleep(0.3)
    assert "STOWPATH-KEYRING" not in sim.running()
    assert "ROLLBK_CNFRM_TIMER_EXPIRED" in sim.log()
    with pytest.raises(P.PushError, match="confirm timeout|reverted|revert timer"):
        P.finish("confirm", "cisco_iosxe", "netmiko", sim.conn(), pushed["token"], **push_kw(tmp_path))
    # a confirmed change stays: configure confirm cancels the timer, write memory saves it
    pushed = P.push("cisco_iosxe", "netmiko", sim.conn(), cfg, confirm_timeout=30, **push_kw(tmp_path))
    P.finish("confirm", "cisco_iosxe", "netmiko", sim.conn(), pushed["token"], **push_kw(tmp_path))
    assert "No Rollback Confirmed Change pending" in _cli(sim, "show archive config rollback timer")
    time.sleep(8.5)
    assert "STOWPATH-KEYRING" in sim.running() and "STOWPATH-KEYRING" in sim.startup()
    assert before != sim.running()


@pytest.mark.lab
def test_cli_without_archive_says_there_is_no_device_side_timer(sim_factory: Any, tmp_path: Path) -> None:
    sim = sim_factory("")
    cfg = str(render(make_site(), tmp_path / "a")["config.cfg"])
    pushed = P.push("cisco_iosxe", "netmiko", sim.conn(), cfg, confirm_timeout=30, **push_kw(tmp_path))
    assert any("no configuration archive" in n for n in pushed["notes"])
    assert "No Rollback Confirmed Change pending" in _cli(sim, "show archive config rollback timer")
    P.finish("rollback", "cisco_iosxe", "netmiko", sim.conn(), pushed["token"], **push_kw(tmp_path))
    assert "STOWPATH-KEYRING" not in sim.running()
