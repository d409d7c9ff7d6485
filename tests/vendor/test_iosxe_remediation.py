"""hier_config remediation of the IOS-XE snippet against device configurations (no device needed)."""

from __future__ import annotations

import re

from ansible_collections.stowpath.core.plugins.module_utils.platforms import cisco_iosxe as ios
from ansible_collections.stowpath.core.plugins.module_utils.render import render_site

from .conftest import REPO, make_site

BASE = """\
hostname edge
!
interface GigabitEthernet1
 ip address 198.51.100.24 255.255.255.0
!
interface GigabitEthernet2
 ip address 10.20.0.1 255.255.255.0
!
"""


def cfg(site: dict) -> str:
    return render_site(site, str(REPO / "templates"))["config.cfg"]


def device(*texts: str) -> str:
    """What a device shows after these snippets were entered (sections merged, as IOS does)."""
    merged = ios.parse(texts[0])
    for text in texts[1:]:
        merged.merge(ios.parse(text))
    return "\n".join(c.cisco_style_text(style="without_comments") for c in merged.all_children()) + "\n"


def test_identical_running_needs_nothing():
    intended = cfg(make_site())
    rem = ios.remediation(device(BASE, intended), intended)
    assert rem.commands == [] and rem.diff == [] and rem.conflicts == []


def test_first_push_creates_everything_in_dependency_order():
    intended = cfg(make_site())
    rem = ios.remediation(BASE, intended)
    tops = [c for c in rem.commands if not c.startswith(" ")]
    assert tops.index("crypto ikev2 proposal STOWPATH-IKEV2-PROP-TUN1") < tops.index("crypto ikev2 policy STOWPATH-IKEV2-POLICY")
    assert tops.index("crypto ipsec profile STOWPATH-IPSEC-TUN1") < tops.index("interface Tunnel1")
    assert "router bgp 65020" in tops
    assert [c.strip() for c in rem.commands if c.strip().startswith("no ")] == ["no shutdown", "no shutdown"]


def test_changed_transform_set_is_modified_in_place_not_removed():
    """IOS refuses `no crypto ipsec transform-set X` while a profile uses it: re-enter it instead."""
    site = make_site()
    before = cfg(site)
    for t in site["tunnels"]:
        t["ipsec"]["encryption"], t["ipsec"]["integrity"] = "aes256gcm16", None
    rem = ios.remediation(device(BASE, before), cfg(site), previous_text=before)
    assert "crypto ipsec transform-set STOWPATH-TS-TUN1 esp-gcm 256" in rem.commands
    assert not any("no crypto ipsec transform-set" in c for c in rem.commands)


def test_removed_tunnel_is_torn_down_references_first():
    two, one = cfg(make_site()), cfg(make_site(tunnels=1))
    rem = ios.remediation(device(BASE, two), one, previous_text=two)
    # the tunnel's crypto chain goes references first (route-maps of the removed neighbor may go any time)
    order = [c for c in rem.commands if c.startswith(("no interface", "no crypto"))]
    assert order[:5] == [
        "no interface Tunnel2",
        "no crypto ipsec profile STOWPATH-IPSEC-TUN2",
        "no crypto ikev2 profile STOWPATH-IKEV2-TUN2",
        "no crypto ipsec transform-set STOWPATH-TS-TUN2 esp-aes 256 esp-sha256-hmac",
        "no crypto ikev2 proposal STOWPATH-IKEV2-PROP-TUN2",
    ]
    bgp = rem.commands[rem.commands.index("router bgp 65020"):]
    neighbor_lines = [c.strip() for c in bgp if "169.254.173.41" in c]
    # after `no neighbor X remote-as` IOS rejects any further `no neighbor X ...`
    assert neighbor_lines == ["no neighbor 169.254.173.41 remote-as 64512"]


def test_merge_keeps_the_facilitys_own_lines_in_shared_sections():
    intended = cfg(make_site())
    running = device(BASE, intended.replace(
        "router bgp 65020\n", "router bgp 65020\n neighbor 192.0.2.99 remote-as 65099\n"))
    merge = ios.remediation(running, intended, "merge")
    assert merge.commands == []
    replace = ios.remediation(running, intended, "replace")
    assert "  no neighbor 192.0.2.99 remote-as 65099" in replace.commands


def test_same_name_different_content_is_a_conflict_unless_stowpath_wrote_it():
    intended = cfg(make_site())
    theirs = "crypto ikev2 proposal STOWPATH-IKEV2-PROP-TUN1\n encryption aes-cbc-128\n integrity sha1\n group 2\n"
    rem = ios.remediation(device(BASE, theirs), intended, "merge")
    assert rem.conflicts == ["crypto ikev2 proposal STOWPATH-IKEV2-PROP-TUN1"]
    previous = theirs  # stowpath applied exactly this last time: an update, not a conflict
    assert ios.remediation(device(BASE, theirs), intended, "merge", previous_text=previous).conflicts == []
    assert ios.remediation(device(BASE, theirs), intended, "replace").conflicts == []


def test_type7_secrets_compare_by_value_and_type6_is_reported():
    site = make_site()
    intended = cfg(site)
    psk1 = site["tunnels"][0]["psk"]
    enc7 = "02" + "".join(f"{ord(c) ^ ord(ios.TYPE7_XLAT[(2 + i) % len(ios.TYPE7_XLAT)]):02X}" for i, c in enumerate(psk1))
    assert ios.type7_decode(enc7) == psk1
    as7 = intended.replace(f"pre-shared-key {psk1}", f"pre-shared-key 7 {enc7}")
    assert ios.remediation(device(BASE, as7), intended).commands == []
    as6 = intended.replace(f"pre-shared-key {psk1}", "pre-shared-key 6 FJTPGEVdJBAcUWFeP_QVLZ^BEKFOC^ASFfAAB")
    rem = ios.remediation(device(BASE, as6), intended)
    assert rem.commands == [] and any("type 6" in n for n in rem.notes)


def test_secrets_never_in_masked_output():
    site = make_site()
    rem = ios.remediation(BASE, cfg(site))
    shown = ios.mask("\n".join(rem.commands + rem.diff))
    for secret in (t["psk"] for t in site["tunnels"]):
        assert secret not in shown
    assert re.search(r"pre-shared-key \*{8}", shown)


def test_restore_commands_bring_back_the_saved_sections():
    two, one = cfg(make_site()), cfg(make_site(tunnels=1))
    saved = device(BASE, two)
    current = device(BASE, one)
    scope = [ln for ln in saved.splitlines() if ln and not ln.startswith((" ", "!"))]
    cmds = ios.restore_commands(current, saved, scope, one)
    assert "interface Tunnel2" in cmds and "crypto ipsec profile STOWPATH-IPSEC-TUN2" in cmds
    assert ios.restore_commands(saved, saved, scope, one) == []
