#!/usr/bin/env python3
"""stowpath network lab: a facility and a cloud in network namespaces (see lab/README.md).

    lab.py up [--cloud aws|azure|gcp] [--fleet N]
                              build the lab playing that cloud (default aws; idempotent:
                              a healthy lab of the same cloud is left alone, another one is rebuilt)
    lab.py down               kill every lab process by PID, delete namespaces and files (twice is fine)
    lab.py status [--json]    health of namespaces/processes + tunnel/BGP summary; exit 1 if unhealthy
    lab.py cloud-break vpn|dx / cloud-repair   make the cloud side refuse the facility (rollback tests)
    lab.py exec DEVICE -- CMD run CMD inside a lab device (its network, mount and UTS namespaces)

Python standard library, Jinja2 for the devices' configuration files (lab/templates/), and the
iproute2/util-linux/strongSwan/FRR/nftables/OpenSSH binaries. Every address is a documentation range
(192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) or link-local (169.254.0.0/16); nothing leaves the
machine. State lives in /run/stowpath-lab (global, so a lab left by another checkout is found and cleaned).
The implementation is the package lab/stowlab/; this file is its command line and re-exports the names
other code imports from it.
"""

from __future__ import annotations

import sys
from pathlib import Path

_LAB_DIR = Path(__file__).resolve().parent
# Run as a script, Python puts lab/ first on sys.path, where this file would answer to `import lab`:
# the checkout goes there instead, so that `lab` is the package directory (lab.stowlab, lab.services).
if sys.path and Path(sys.path[0] or ".").resolve() == _LAB_DIR:
    sys.path[0] = str(_LAB_DIR.parent)
elif str(_LAB_DIR.parent) not in sys.path:
    sys.path.insert(0, str(_LAB_DIR.parent))

from lab.stowlab import cli  # noqa: E402
from lab.stowlab.configs import boot_script, cloud_frr, cloud_nft, cloud_swanctl, sshd_config, strongswan_conf  # noqa: E402
from lab.stowlab.health import cloud_summary, health, status  # noqa: E402
from lab.stowlab.host import LabError, run, write  # noqa: E402
from lab.stowlab.lifecycle import cloud_break, cloud_repair, down, up  # noqa: E402
from lab.stowlab.netns import dev_exec  # noqa: E402
from lab.stowlab.params import make_params, random_inside, random_psk  # noqa: E402
from lab.stowlab.services import PACS_API_PASSWORD, PACS_API_USER, PACS_DIR  # noqa: E402
from lab.stowlab.state import load_params, load_state  # noqa: E402
from lab.stowlab.topology import (  # noqa: E402
    CLOUD_ASN,
    CLOUD_CIDR,
    CLOUD_HOST,
    DICOMWEB_HOST,
    DX_VLAN,
    FACILITY_ASN,
    FACILITY_LAN,
    FILES,
    FLEET_LAN,
    INVENTORY,
    MGMT_NET,
    MGMT_PACS,
    MGMT_ROOT,
    PREFIX,
    REPO,
    SSH_KEY,
    STATE,
    VPN_ENDPOINTS,
    Device,
    devices,
    fleet_name,
)
from lab.stowlab.vendor_files import aws_dx_json, aws_vpn_xml, write_vendor_files  # noqa: E402

__all__ = [
    "CLOUD_ASN", "CLOUD_CIDR", "CLOUD_HOST", "DICOMWEB_HOST", "DX_VLAN", "FACILITY_ASN", "FACILITY_LAN", "FILES",
    "FLEET_LAN", "INVENTORY", "MGMT_NET", "MGMT_PACS", "MGMT_ROOT", "PACS_API_PASSWORD", "PACS_API_USER", "PACS_DIR",
    "PREFIX", "REPO", "SSH_KEY", "STATE", "VPN_ENDPOINTS", "Device", "LabError", "aws_dx_json", "aws_vpn_xml",
    "boot_script", "cloud_break", "cloud_frr", "cloud_nft", "cloud_repair", "cloud_summary", "cloud_swanctl",
    "dev_exec", "devices", "down", "fleet_name", "health", "load_params", "load_state", "main", "make_params",
    "random_inside", "random_psk", "run", "sshd_config", "status", "strongswan_conf", "up", "write",
    "write_vendor_files",
]

def main(argv: list[str] | None = None) -> int:
    return cli.main(argv, description=__doc__)


if __name__ == "__main__":
    sys.exit(main())
