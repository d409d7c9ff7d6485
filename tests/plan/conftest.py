"""Shared data of the change-plan tests: a saved IOS-XE running configuration of a facility edge router that
already has an edge ACL on the WAN interface, a BGP process and an IKEv2 profile of its own."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "inventories" / "example"

RUNNING_IOSXE = """Building configuration...

Current configuration : 2210 bytes
!
! Last configuration change at 09:12:01 UTC Tue Nov 24 2026 by netadmin
!
version 17.9
hostname harbor-edge
!
archive
 path flash:archive-
 maximum 5
!
crypto ikev2 profile BRANCH-PEERS
 match identity remote address 203.0.113.9 255.255.255.255
 authentication remote pre-share
 authentication local pre-share
 keyring local BRANCH-KEYS
!
interface GigabitEthernet1
 description WAN
 ip address 198.51.100.24 255.255.255.0
 ip access-group EDGE-IN in
!
interface GigabitEthernet2
 description LAN
 ip address 10.20.0.1 255.255.255.0
!
ip access-list extended EDGE-IN
 permit tcp any any established
 permit udp any eq domain any
 deny   ip any any log
!
router bgp 65020
 bgp router-id 10.20.0.1
 bgp log-neighbor-changes
 neighbor 10.20.0.2 remote-as 65030
 !
 address-family ipv4
  network 10.20.0.0 mask 255.255.255.0
  neighbor 10.20.0.2 activate
 exit-address-family
!
end
"""


def ansible_env() -> dict[str, str]:
    return dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")


def playbook(name: str, inventory: Path | str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    cmd = [str(REPO / ".venv" / "bin" / "ansible-playbook"), str(REPO / "playbooks" / name), "-i", str(inventory),
           *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=ansible_env(), timeout=timeout)


# the example facility's IOS-XE edge router (inventories/example), rendered for the plan tests
HARBOR = {"site_name": "harbor-radiology", "gateway_platform": "cisco_iosxe", "cloud_provider": "aws_vpn",
          "cloud_params_file": "params/aws-vpn-bgp.xml", "wan_interface": "GigabitEthernet1",
          "wan_address": "198.51.100.24", "lan_interface": "GigabitEthernet2", "lan_cidrs": ["10.20.0.0/24"],
          "dicomweb_url": "https://dicom.vendor.example/dicomweb/studies", "dicomweb_cidrs": ["10.100.0.0/24"]}


def render_harbor(out: Path) -> dict[str, Any]:
    """The harbor-isr site model (secrets in clear), its configuration rendered into ``out``."""
    from ansible_collections.stowpath.core.plugins.module_utils.render import render_to
    from ansible_collections.stowpath.core.plugins.module_utils.site import load_site

    site = load_site(HARBOR, "harbor-isr", str(EXAMPLE))
    render_to(site, str(REPO / "templates"), str(out), False)
    return site
