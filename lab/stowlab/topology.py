"""Where the lab keeps its state, its addresses, and the devices (network namespaces) it is made of.

Every address is a documentation range (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) or link-local
(169.254.0.0/16). ``inventories/lab/`` repeats these values; the lab tests check that they agree.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("STOWPATH_LAB_STATE", "/run/stowpath-lab"))
LOCK = Path(str(STATE) + ".lock")
INVENTORY = REPO / "inventories" / "lab"
FILES = INVENTORY / "files"
SSH_KEY = STATE / "ssh" / "id_ed25519"
# host keys of the lab devices and simulators (written by `up` and the simulators' `start`)
KNOWN_HOSTS = STATE / "ssh" / "known_hosts"
VENDOR_STATE = STATE / "vendor"
TEMPLATES = REPO / "lab" / "templates"
PREFIX = "sp-"

MGMT_NET = ipaddress.ip_network("169.254.250.0/24")
MGMT_ROOT = "169.254.250.1"
MGMT_ROOT_IF = "sp-mgmt"
MGMT_PACS = "169.254.250.12"
# the facility's monitoring host (Prometheus, Alertmanager, blackbox, stowpath exporter) and a modality
MGMT_MON = "169.254.250.13"
MON_LAN = "203.0.113.20"
MODALITY_LAN = "203.0.113.30"
# facility LAN hosts (their LAN interface is eth0; the gateways' is eth1)
LAN_HOSTS = ("pacs", "mon", "modality")
FACILITY_LAN = "203.0.113.0/26"
CLOUD_CIDR = "203.0.113.128/26"
CLOUD_HOST = "203.0.113.140"
CLOUD_EDGE_VPC = "203.0.113.129"
DICOMWEB_HOST = "dicom.lab.example"
WAN_GW = "198.51.100.1"
CLOUD_NET_GW = "192.0.2.1"
VPN_ENDPOINTS = ("192.0.2.61", "192.0.2.188")
CLOUD_ASN = 64512  # AWS (the default cloud); the DX router keeps it in every mode
# The clouds the lab plays (``lab.py up --cloud``): the VPN side's BGP ASN of each. Azure VPN Gateway's
# default ASN is 65515; a GCP Cloud Router takes any private ASN (64514 here, as in Google's examples).
CLOUDS = ("aws", "azure", "gcp")
CLOUD_ASNS = {"aws": CLOUD_ASN, "azure": 65515, "gcp": 64514}
# Azure's custom APIPA BGP range (169.254.21.0-169.254.22.255)
AZURE_APIPA = ("169.254.21.0/24", "169.254.22.0/24")
FACILITY_ASN = 65020
DX_VLAN = 412
FLEET_LAN = "203.0.113.64/26"
MAX_FLEET = 99


@dataclass
class Device:
    """One namespace. ``managed`` devices get sshd (Ansible target); ``charon``/``frr`` daemons."""

    name: str
    mgmt: str | None = None
    charon: bool = False
    frr: bool = False
    managed: bool = False
    # interfaces: name -> list of CIDR addresses (empty = link only)
    addrs: dict[str, list[str]] = field(default_factory=dict)
    default_gw: str | None = None
    forward: bool = False

    @property
    def ns(self) -> str:
        return PREFIX + self.name

    @property
    def dir(self) -> Path:
        return STATE / "dev" / self.name

    @property
    def has_mountns(self) -> bool:
        return self.managed or self.charon or self.frr


def fleet_name(i: int) -> str:
    return f"fgw-{i:02d}"


def fleet_mgmt(i: int) -> str:
    return f"169.254.250.{100 + i}"


def fleet_wan(i: int) -> str:
    return f"198.51.100.{100 + i}"


def devices(fleet: int) -> list[Device]:
    devs = [
        Device("pacs", mgmt=MGMT_PACS, managed=True,
               addrs={"eth0": ["203.0.113.10/26"]}, default_gw="203.0.113.1"),
        Device("cgw", mgmt="169.254.250.10", charon=True, frr=True, managed=True, forward=True,
               addrs={"eth0": ["198.51.100.24/24"], "eth1": ["203.0.113.1/26"]}, default_gw=WAN_GW),
        Device("cgwdx", mgmt="169.254.250.11", charon=True, frr=True, managed=True, forward=True,
               addrs={"eth0": ["198.51.100.25/24"], "eth1": ["203.0.113.2/26"], "eth2": [],
                      f"eth2.{DX_VLAN}": []}, default_gw=WAN_GW),
        Device("mon", mgmt=MGMT_MON, managed=True, addrs={"eth0": [f"{MON_LAN}/26"]}, default_gw="203.0.113.1"),
        Device("modality", addrs={"eth0": [f"{MODALITY_LAN}/26"]}, default_gw="203.0.113.1"),
        Device("inet", forward=True),
        Device("aws", charon=True, frr=True, forward=True,
               addrs={"eth0": [f"{a}/24" for a in VPN_ENDPOINTS], "eth1": [f"{CLOUD_EDGE_VPC}/26"],
                      "dxport": [], f"vif{DX_VLAN}": []}, default_gw=CLOUD_NET_GW),
        Device("cloud", addrs={"eth0": [f"{CLOUD_HOST}/26"]}, default_gw=CLOUD_EDGE_VPC),
        Device("sw"),
    ]
    for i in range(1, fleet + 1):
        devs.append(Device(fleet_name(i), mgmt=fleet_mgmt(i), charon=True, frr=True,
                           managed=True, forward=True,
                           addrs={"eth0": [f"{fleet_wan(i)}/24"], "eth1": ["203.0.113.65/26"]},
                           default_gw=WAN_GW))
    return devs


def mgmt_addresses() -> dict[str, str]:
    """Management address of every managed device the lab can have (any fleet size)."""
    return {d.name: d.mgmt for d in devices(MAX_FLEET) if d.managed and d.mgmt}
