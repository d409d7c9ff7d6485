"""stowpath never clobbers what the facility owns: its ACLs on the WAN interface (IOS-XE), its zone
host-inbound services (Junos)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.platforms import cisco_iosxe as ios
from ansible_collections.stowpath.core.plugins.module_utils.platforms import junos
from ansible_collections.stowpath.core.plugins.module_utils.render import render_site
from ansible_collections.stowpath.core.plugins.module_utils.transports import push as P
from stowpath_testlib import REPO
from vendor.conftest import FACILITY_WAN_ACL, make_site, push_kw, render


def _wan(running: str) -> str:
    m = re.search(r"^interface GigabitEthernet1\n((?: .*\n)*)", running, re.M)
    return m.group(1) if m else ""


def test_iosxe_facility_wan_acl_stops_the_push_and_is_not_replaced(sim_factory: Any, tmp_path: Path) -> None:
    sim = sim_factory(FACILITY_WAN_ACL)
    cfg = str(render(make_site(), tmp_path / "a")["config.cfg"])
    before = sim.running()
    with pytest.raises(P.PushError) as err:
        P.push("cisco_iosxe", "netmiko", sim.conn(), cfg, **push_kw(tmp_path))
    assert "FACILITY-WAN-IN" in str(err.value) and "interface GigabitEthernet1" in str(err.value)
    assert sim.running() == before  # nothing was changed


def test_iosxe_replace_mode_keeps_the_facility_wan_acl(tmp_path: Path) -> None:
    cfg = render(make_site(), tmp_path / "a")["config.cfg"].read_text()
    rem = ios.remediation(FACILITY_WAN_ACL, cfg, "replace")
    sent = "\n".join(rem.commands)
    assert "ip access-group STOWPATH-ACL-WAN-IN in" not in sent
    assert "no ip access-group FACILITY-WAN-IN" not in sent and "no ip access-list extended FACILITY" not in sent
    assert "ip access-group STOWPATH-ACL-WAN-OUT out" in sent  # the direction the facility does not filter
    assert any("FACILITY-WAN-IN" in n for n in rem.notes)


def test_iosxe_without_facility_acl_binds_stowpaths(tmp_path: Path) -> None:
    cfg = render(make_site(), tmp_path / "a")["config.cfg"].read_text()
    bare = "hostname harbor-isr\ninterface GigabitEthernet1\n ip address 198.51.100.24 255.255.255.0\n!\n"
    rem = ios.remediation(bare, cfg, "merge")
    assert not rem.conflicts and "ip access-group STOWPATH-ACL-WAN-IN in" in "\n".join(rem.commands)
    # once bound by stowpath, its own binding is no conflict
    bound = bare.replace(" ip address 198.51.100.24 255.255.255.0\n", " ip address 198.51.100.24 255.255.255.0\n"
                         " ip access-group STOWPATH-ACL-WAN-IN in\n ip access-group STOWPATH-ACL-WAN-OUT out\n")
    assert not ios.remediation(bound, cfg, "merge", previous_text=cfg).conflicts


# ---------------------------------------------------------------- Junos
def _effective_wan_services(set_lines: list[str], zone: str, iface: str) -> set[str]:
    """Junos semantics: host-inbound-traffic on the interface replaces the zone's for that interface."""
    base = f"set security zones security-zone {zone} "
    on_iface = {ln.rsplit(" ", 1)[1] for ln in set_lines
                if ln.startswith(base + f"interfaces {iface} host-inbound-traffic system-services ")}
    on_zone = {ln.rsplit(" ", 1)[1] for ln in set_lines
               if ln.startswith(base + "host-inbound-traffic system-services ")}
    return on_iface if on_iface else on_zone


def test_junos_push_keeps_the_wan_zone_management_services() -> None:
    site = make_site("junos")
    arts = render_site(site, str(REPO / "templates"))
    facility = ["set security zones security-zone untrust interfaces ge-0/0/0.0",
                "set security zones security-zone untrust host-inbound-traffic system-services ssh",
                "set security zones security-zone untrust host-inbound-traffic system-services netconf"]
    ours = [ln for ln in arts["config.set"].splitlines() if ln.startswith("set ")]
    merged = facility + ours  # a set-merge adds, never deletes
    services = _effective_wan_services(merged, "untrust", "ge-0/0/0.0")
    assert {"ssh", "netconf", "ike"} <= services


def test_junos_replace_never_replaces_security_zones() -> None:
    assert not any("zones" in path for path in junos.OWNED)
    xml = render_site(make_site("junos"), str(REPO / "templates"))["netconf.xml"]
    wan = re.search(r"<security-zone>\s*<name>untrust</name>.*?</security-zone>", xml, re.S)
    assert wan is not None
    iface = re.search(r"<interfaces>.*?</interfaces>", wan.group(0), re.S)
    assert iface is not None and "host-inbound-traffic" not in iface.group(0)
    assert "<name>ike</name>" in wan.group(0)
