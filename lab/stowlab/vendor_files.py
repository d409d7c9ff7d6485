"""The files the vendor hands over, as the vendor writes them, and the fleet's inventory.

``inventories/lab/files/aws-vpn.xml`` (AWS Site-to-Site VPN "Generic" configuration; ``--cloud aws``),
``aws-dx.json`` (``aws directconnect describe-virtual-interfaces``; every cloud: the DX router stays AWS),
the Azure or GCP files of ``cloud_files.py`` (``--cloud azure|gcp``), and with ``--fleet N`` (AWS only)
one ``fleet/fgw-NN-vpn.xml`` per fleet gateway plus ``fleet.yml`` (an inventory of the fleet).

Outside AWS mode the lab inventory picks the cloud through ``inventories/lab/host_vars/cgw/`` and
``group_vars/lab_vendor_routers/`` (git-ignored): Ansible reads a vars DIRECTORY instead of the file of the same
name when both exist, so the lab writes ``00-cgw.yml`` (a symlink to ``../cgw.yml``, the committed variables) and
``50-lab-cloud.yml`` (the cloud's variables, which win). ``--cloud aws`` removes the directories: the committed
files alone apply again.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from .cloud_files import AZURE_FILES, GCP_FILES, GCP_PSK_FILE, cgw_cloud_vars, cloud_param_vars, provider_files
from .configs import AZURE_CUSTOM_POLICY, CloudProfile, render
from .host import write
from .topology import CLOUD_ASN, CLOUD_CIDR, DICOMWEB_HOST, FILES, FLEET_LAN, KNOWN_HOSTS, SSH_KEY, fleet_mgmt


def aws_vpn_xml(p: dict[str, Any]) -> str:
    """The AWS Site-to-Site VPN "Generic" configuration, same structure as vpn-bgp-sample.xml."""
    return render("vendor/aws-vpn.xml.j2", p=p, cloud_asn=CLOUD_ASN)


def aws_dx_json(d: dict[str, Any]) -> str:
    """``aws directconnect describe-virtual-interfaces`` output, same structure as dx-vif-sample.json."""
    peer = {"bgpPeerId": d["peer_id"], "asn": d["customer_asn"], "authKey": d["auth_key"],
            "addressFamily": "ipv4", "amazonAddress": d["amazon_address"],
            "customerAddress": d["customer_address"], "bgpPeerState": "available", "bgpStatus": "down",
            "awsDeviceV2": "EqDC2-2k8yq3tz1v5c", "awsLogicalDeviceId": "EqDC2-3ab7c9d1e2f4g"}
    vif = {"ownerAccount": "111122223333", "virtualInterfaceId": d["vif_id"], "location": "EqDC2",
           "connectionId": d["connection_id"], "virtualInterfaceType": "private",
           "virtualInterfaceName": "lab-facility-dx", "vlan": d["vlan"], "asn": d["customer_asn"],
           "amazonSideAsn": CLOUD_ASN, "authKey": d["auth_key"], "amazonAddress": d["amazon_address"],
           "customerAddress": d["customer_address"], "addressFamily": "ipv4",
           "virtualInterfaceState": "available", "customerRouterConfig": "", "mtu": 1500,
           "jumboFrameCapable": True, "virtualGatewayId": "", "directConnectGatewayId": d["dxgw_id"],
           "routeFilterPrefixes": [], "bgpPeers": [peer], "region": "us-east-1",
           "awsDeviceV2": "EqDC2-2k8yq3tz1v5c", "awsLogicalDeviceId": "EqDC2-3ab7c9d1e2f4g",
           "tags": [{"key": "facility", "value": "lab-facility"}]}
    return json.dumps({"virtualInterfaces": [vif]}, indent=2) + "\n"


def fleet_inventory(fleet: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The inventory of the fleet gateways (``fgw-NN``), one linux_strongswan site each."""
    hosts = {}
    for name, p in sorted(fleet.items()):
        idx = int(name.split("-")[1])
        hosts[name] = {
            "ansible_host": fleet_mgmt(idx), "site_name": f"lab-fleet-{idx:02d}",
            "gateway_platform": "linux_strongswan", "cloud_provider": "aws_vpn",
            "cloud_params_file": f"fleet/{name}-vpn.xml", "wan_interface": "eth0",
            "wan_address": p["customer_outside"], "lan_interface": "eth1", "lan_cidrs": [FLEET_LAN],
            "dicomweb_url": f"https://{DICOMWEB_HOST}/dicomweb/studies", "dicomweb_cidrs": [CLOUD_CIDR],
            "linux_ipsec_dataplane": "libipsec", "tcp_mss": 1360}
    return {"all": {"vars": {"ansible_user": "root", "ansible_ssh_private_key_file": str(SSH_KEY),
                             "ansible_ssh_common_args": f"-o UserKnownHostsFile={KNOWN_HOSTS} "
                                                        "-o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes",
                             "ansible_python_interpreter": "/usr/bin/python3"},
                    "children": {"lab_fleet": {"hosts": hosts}}}}


CGW_CLOUD_VARS = FILES.parent / "host_vars" / "cgw"
ROUTERS_CLOUD_VARS = FILES.parent / "group_vars" / "lab_vendor_routers"


def lab_written_files() -> list[Path]:
    """The vendor files any lab writes (``down`` removes them even without a state file)."""
    return [FILES / "aws-vpn.xml", FILES / "aws-dx.json", GCP_PSK_FILE] + [FILES / f for f in AZURE_FILES + GCP_FILES]


def _remove(path: Path) -> bool:
    if path.is_symlink() or path.is_file():
        path.unlink()
        return True
    if path.is_dir():
        shutil.rmtree(path)
        return True
    return False


def remove_cloud_vars() -> list[str]:
    """Remove the generated ``host_vars/cgw/`` and ``group_vars/lab_vendor_routers/`` (the committed files then apply
    alone); returns what existed."""
    return [str(p) for p in (CGW_CLOUD_VARS, ROUTERS_CLOUD_VARS) if _remove(p)]


def _vars_dir(where: Path, cloud: str, variables: dict[str, Any]) -> str:
    """``where/00-<name>.yml -> ../<name>.yml`` (the committed file) and ``where/50-lab-cloud.yml`` (0600, wins)."""
    where.mkdir()
    (where / f"00-{where.name}.yml").symlink_to(Path("..") / f"{where.name}.yml")
    text = (f"---\n# generated by lab/lab.py up --cloud {cloud} (lab-down or lab-up --cloud aws removes it): the lab "
            f"cloud's\n# parameter files and credentials, over the committed {where.parent.name}/{where.name}.yml\n"
            + "".join(f"{k}: {json.dumps(v)}\n" for k, v in variables.items()))
    write(where / "50-lab-cloud.yml", text, 0o600)
    return str(where / "50-lab-cloud.yml")


def write_cloud_vars(cloud: str, oauth: dict[str, str] | None) -> list[str]:
    """The inventory's cloud variables for a non-AWS cloud: ``cgw`` (parameters, DICOMweb auth) and the vendor
    routers (parameters; they render from the same cloud files as cgw). Nothing for AWS."""
    remove_cloud_vars()
    if cloud == "aws":
        return []
    return [_vars_dir(CGW_CLOUD_VARS, cloud, cgw_cloud_vars(cloud, oauth)),
            _vars_dir(ROUTERS_CLOUD_VARS, cloud, cloud_param_vars(cloud))]


def write_vendor_files(params: dict[str, Any], oauth: dict[str, str] | None = None,
                       profile: CloudProfile | None = None) -> list[str]:
    """Write the current cloud's files (0600) and the inventory's cloud variables; returns the paths."""
    FILES.mkdir(parents=True, exist_ok=True)
    profile = profile or CloudProfile.from_env()
    cloud = params.get("cloud", "aws")
    written = []
    if cloud == "aws":
        write(FILES / "aws-vpn.xml", aws_vpn_xml(params["vpn"]), 0o600)
        written.append(str(FILES / "aws-vpn.xml"))
    policy = AZURE_CUSTOM_POLICY if profile.azure_policy == "custom" else None
    for name, text in provider_files(params, policy).items():
        write(FILES / name, text, 0o600)
        written.append(str(FILES / name))
    if cloud == "gcp":
        GCP_PSK_FILE.parent.mkdir(mode=0o700, exist_ok=True)
        write(GCP_PSK_FILE, json.dumps([t["psk"] for t in params["vpn"]["tunnels"]]) + "\n", 0o600)
        written.append(str(GCP_PSK_FILE))
    write(FILES / "aws-dx.json", aws_dx_json(params["dx"]), 0o600)
    written.append(str(FILES / "aws-dx.json"))
    written += write_cloud_vars(cloud, oauth)
    if params["fleet"]:
        fleet_dir = FILES / "fleet"
        fleet_dir.mkdir(exist_ok=True)
        for name, p in sorted(params["fleet"].items()):
            path = fleet_dir / f"{name}-vpn.xml"
            write(path, aws_vpn_xml(p), 0o600)
            written.append(str(path))
        inv = fleet_inventory(params["fleet"])
        write(FILES / "fleet.yml", "# generated by lab/lab.py up --fleet N\n" + json.dumps(inv, indent=2) + "\n", 0o644)
        written.append(str(FILES / "fleet.yml"))
    return written
