"""The parameter files Azure and Google Cloud hand over, in their CLI's JSON shapes, and the lab inventory's
per-cloud host variables.

Azure (``az ... -o json``, properties flattened as the CLI prints them): ``azure-vnet-gateway.json``
(``network vnet-gateway show``: active-active, two instances with their public IPs and custom APIPA BGP
addresses, ASN 65515), ``azure-vpn-connection.json`` (``network vpn-connection show``: IKEv2, BGP, custom
APIPA addresses per instance, the IPsec/IKE policy), ``azure-local-gateway.json`` (``network local-gateway
show``: the facility as Azure knows it) and ``azure-shared-key.json`` (``network vpn-connection shared-key
show``: one key for the connection).

Google Cloud (``gcloud compute ... describe --format=json``): ``gcp-vpn-gateway.json`` (the HA VPN gateway's
two interfaces), ``gcp-vpn-tunnel-1.json`` / ``-2.json`` (one per interface; GCP shows only the secret's
hash) and ``gcp-router.json`` (the Cloud Router: ASN, one interface and BGP peer per tunnel). The shared
secrets, which GCP never returns, are the site's own (``cloud_psk``): the lab keeps them in a 0600 file
outside the checkout, read by the inventory.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import uuid
from typing import Any

from .topology import STATE, VPN_ENDPOINTS

AZ_SUB = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network"
AZ_RG = "lab-facility-rg"
AZ_GATEWAY, AZ_CONNECTION, AZ_LOCAL = "lab-vpngw", "lab-facility-s2s", "lab-facility-lng"
# the GatewaySubnet's default BGP addresses (Azure's own, unused by the APIPA peering)
AZ_DEFAULT_BGP = ("203.0.113.228", "203.0.113.229")
GCP_PROJECT, GCP_REGION = "stowpath-lab", "us-central1"
GCP_GATEWAY, GCP_ROUTER, GCP_EXTERNAL = "lab-ha-vpn-gw", "lab-cloud-router", "lab-facility-gw"
GCP_PSK_FILE = STATE / "secrets" / "gcp-cloud-psk.json"
AZURE_FILES = ("azure-vnet-gateway.json", "azure-vpn-connection.json", "azure-local-gateway.json",
               "azure-shared-key.json")
GCP_FILES = ("gcp-vpn-gateway.json", "gcp-vpn-tunnel-1.json", "gcp-vpn-tunnel-2.json", "gcp-router.json")


def _dump(doc: Any) -> str:
    return json.dumps(doc, indent=2) + "\n"


# ---------------------------------------------------------------- Azure
def _az_base(vpn: dict[str, Any]) -> str:
    return AZ_SUB.format(sub=vpn["cloud_ids"]["subscription"], rg=AZ_RG)


def _az_ipconfig(vpn: dict[str, Any], index: int) -> str:
    return f"{_az_base(vpn)}/virtualNetworkGateways/{AZ_GATEWAY}/ipConfigurations/{('default', 'activeActive')[index]}"


def azure_vnet_gateway(vpn: dict[str, Any], asn: int) -> str:
    base = _az_base(vpn)
    instances, ipconfigs = [], []
    for i, t in enumerate(vpn["tunnels"]):
        instances.append({"customBgpIpAddresses": [t["cloud_inside"]], "defaultBgpIpAddresses": [AZ_DEFAULT_BGP[i]],
                          "ipconfigurationId": _az_ipconfig(vpn, i), "tunnelIpAddresses": [t["cloud_outside"]]})
        name = ("default", "activeActive")[i]
        ipconfigs.append({
            "etag": f'W/"{vpn["cloud_ids"]["etag"]}"', "id": _az_ipconfig(vpn, i), "name": name,
            "privateIPAllocationMethod": "Dynamic", "provisioningState": "Succeeded",
            "publicIPAddress": {"id": f"{base}/publicIPAddresses/{AZ_GATEWAY}-pip{i + 1}", "resourceGroup": AZ_RG},
            "resourceGroup": AZ_RG,
            "subnet": {"id": f"{base}/virtualNetworks/lab-vnet/subnets/GatewaySubnet", "resourceGroup": AZ_RG}})
    return _dump({
        "activeActive": True,
        "bgpSettings": {"asn": asn, "bgpPeeringAddress": ",".join(AZ_DEFAULT_BGP),
                        "bgpPeeringAddresses": instances, "peerWeight": 0},
        "disableIPSecReplayProtection": False, "enableBgp": True, "enableBgpRouteTranslationForNat": False,
        "enablePrivateIpAddress": False, "etag": f'W/"{vpn["cloud_ids"]["etag"]}"', "gatewayType": "Vpn",
        "id": f"{base}/virtualNetworkGateways/{AZ_GATEWAY}", "ipConfigurations": ipconfigs,
        "location": "westeurope", "name": AZ_GATEWAY, "provisioningState": "Succeeded", "resourceGroup": AZ_RG,
        "resourceGuid": vpn["cloud_ids"]["gateway_guid"],
        "sku": {"capacity": 2, "name": "VpnGw2AZ", "tier": "VpnGw2AZ"},
        "type": "Microsoft.Network/virtualNetworkGateways", "vpnGatewayGeneration": "Generation2",
        "vpnType": "RouteBased"})


def azure_vpn_connection(vpn: dict[str, Any], policy: dict[str, Any] | None) -> str:
    base = _az_base(vpn)
    return _dump({
        "connectionMode": "Default", "connectionProtocol": "IKEv2", "connectionStatus": "NotConnected",
        "connectionType": "IPsec", "dpdTimeoutSeconds": 45, "egressBytesTransferred": 0, "enableBgp": True,
        "etag": f'W/"{vpn["cloud_ids"]["etag"]}"', "expressRouteGatewayBypass": False,
        "gatewayCustomBgpIpAddresses": [{"customBgpIpAddress": t["cloud_inside"], "ipConfigurationId": _az_ipconfig(vpn, i)}
                                        for i, t in enumerate(vpn["tunnels"])],
        "id": f"{base}/connections/{AZ_CONNECTION}", "ingressBytesTransferred": 0,
        "ipsecPolicies": [policy] if policy else [],
        "localNetworkGateway2": {"id": f"{base}/localNetworkGateways/{AZ_LOCAL}", "resourceGroup": AZ_RG},
        "location": "westeurope", "name": AZ_CONNECTION, "provisioningState": "Succeeded", "resourceGroup": AZ_RG,
        "resourceGuid": vpn["cloud_ids"]["connection_guid"], "routingWeight": 0, "trafficSelectorPolicies": [],
        "type": "Microsoft.Network/connections", "useLocalAzureIpAddress": False,
        "usePolicyBasedTrafficSelectors": False,
        "virtualNetworkGateway1": {"id": f"{base}/virtualNetworkGateways/{AZ_GATEWAY}", "resourceGroup": AZ_RG}})


def azure_local_gateway(vpn: dict[str, Any]) -> str:
    base = _az_base(vpn)
    peer = vpn["tunnels"][0]["customer_inside"]
    return _dump({
        "bgpSettings": {"asn": vpn["customer_asn"], "bgpPeeringAddress": peer, "peerWeight": 0},
        "etag": f'W/"{vpn["cloud_ids"]["etag"]}"', "gatewayIpAddress": vpn["customer_outside"],
        "id": f"{base}/localNetworkGateways/{AZ_LOCAL}",
        "localNetworkAddressSpace": {"addressPrefixes": [f"{peer}/32"]}, "location": "westeurope",
        "name": AZ_LOCAL, "provisioningState": "Succeeded", "resourceGroup": AZ_RG,
        "resourceGuid": vpn["cloud_ids"]["local_guid"], "type": "Microsoft.Network/localNetworkGateways"})


def azure_shared_key(vpn: dict[str, Any]) -> str:
    return _dump({"id": f"{_az_base(vpn)}/connections/{AZ_CONNECTION}/sharedkey", "value": vpn["tunnels"][0]["psk"]})


# ---------------------------------------------------------------- Google Cloud
def _gcp(kind: str, name: str, scope: str = "region") -> str:
    where = f"regions/{GCP_REGION}" if scope == "region" else "global"
    return f"https://www.googleapis.com/compute/v1/projects/{GCP_PROJECT}/{where}/{kind}/{name}"


def _region() -> str:
    return f"https://www.googleapis.com/compute/v1/projects/{GCP_PROJECT}/regions/{GCP_REGION}"


def gcp_tunnel_name(index: int) -> str:
    return f"lab-tunnel-if{index}"


def gcp_vpn_gateway(vpn: dict[str, Any]) -> str:
    return _dump({
        "creationTimestamp": vpn["cloud_ids"]["created"], "id": vpn["cloud_ids"]["gateway_id"],
        "kind": "compute#vpnGateway", "labelFingerprint": "42WmSpB8rSM=", "name": GCP_GATEWAY,
        "network": _gcp("networks", "lab-vpc", "global"), "region": _region(),
        "selfLink": _gcp("vpnGateways", GCP_GATEWAY), "stackType": "IPV4_ONLY",
        "vpnInterfaces": [{"id": i, "ipAddress": ep} for i, ep in enumerate(VPN_ENDPOINTS)]})


def gcp_vpn_tunnel(vpn: dict[str, Any], index: int) -> str:
    t = vpn["tunnels"][index]
    secret_hash = hashlib.sha256(("stowpath-lab:" + t["psk"]).encode()).hexdigest()[:28]
    return _dump({
        "creationTimestamp": vpn["cloud_ids"]["created"], "description": "",
        "detailedStatus": "No incoming packets.", "id": str(int(vpn["cloud_ids"]["gateway_id"]) + 1 + index),
        "ikeVersion": 2, "kind": "compute#vpnTunnel", "labelFingerprint": "42WmSpB8rSM=",
        "localTrafficSelector": ["0.0.0.0/0"], "name": gcp_tunnel_name(index),
        "peerExternalGateway": _gcp("externalVpnGateways", GCP_EXTERNAL, "global"),
        "peerExternalGatewayInterface": 0, "peerIp": t["customer_outside"],
        "region": _region(), "remoteTrafficSelector": ["0.0.0.0/0"],
        "router": _gcp("routers", GCP_ROUTER), "selfLink": _gcp("vpnTunnels", gcp_tunnel_name(index)),
        "sharedSecret": "*************", "sharedSecretHash": secret_hash, "status": "NO_INCOMING_PACKETS",
        "vpnGateway": _gcp("vpnGateways", GCP_GATEWAY), "vpnGatewayInterface": index})


def gcp_router(vpn: dict[str, Any], asn: int) -> str:
    interfaces, peers = [], []
    for i, t in enumerate(vpn["tunnels"]):
        prefix = ipaddress.ip_network(t["inside_cidr"]).prefixlen
        iface = f"if-{gcp_tunnel_name(i)}"
        interfaces.append({"ipRange": f"{t['cloud_inside']}/{prefix}", "linkedVpnTunnel":
                           _gcp("vpnTunnels", gcp_tunnel_name(i)), "managementType": "MANAGED_BY_USER", "name": iface})
        peers.append({"advertiseMode": "DEFAULT", "enable": "TRUE", "enableIpv6": False, "interfaceName": iface,
                      "ipAddress": t["cloud_inside"], "managementType": "MANAGED_BY_USER",
                      "name": f"bgp-peer-{gcp_tunnel_name(i)}", "peerAsn": vpn["customer_asn"],
                      "peerIpAddress": t["customer_inside"]})
    return _dump({
        "bgp": {"advertiseMode": "DEFAULT", "asn": asn, "keepaliveInterval": 20}, "bgpPeers": peers,
        "creationTimestamp": vpn["cloud_ids"]["created"], "encryptedInterconnectRouter": False,
        "id": str(int(vpn["cloud_ids"]["gateway_id"]) + 7), "interfaces": interfaces, "kind": "compute#router",
        "name": GCP_ROUTER, "network": _gcp("networks", "lab-vpc", "global"),
        "region": _region(), "selfLink": _gcp("routers", GCP_ROUTER)})


# ---------------------------------------------------------------- ids, files, inventory
def cloud_ids(cloud: str, rng: Any) -> dict[str, str]:
    """Fresh resource identifiers of a build (GUIDs for Azure, numeric ids for GCP)."""
    if cloud == "azure":
        return {"subscription": str(uuid.uuid4()), "etag": str(uuid.uuid4()), "gateway_guid": str(uuid.uuid4()),
                "connection_guid": str(uuid.uuid4()), "local_guid": str(uuid.uuid4())}
    if cloud == "gcp":
        return {"gateway_id": str(rng.randrange(10 ** 18, 9 * 10 ** 18)),
                "created": "2026-01-05T09:00:00.000-08:00"}
    return {}


def provider_files(params: dict[str, Any], azure_policy: dict[str, Any] | None) -> dict[str, str]:
    """File name -> content of the current cloud's parameter files (empty for AWS: vendor_files writes those)."""
    vpn, cloud, asn = params["vpn"], params.get("cloud", "aws"), int(params.get("cloud_asn", 0))
    if cloud == "azure":
        return dict(zip(AZURE_FILES, (azure_vnet_gateway(vpn, asn), azure_vpn_connection(vpn, azure_policy),
                                      azure_local_gateway(vpn), azure_shared_key(vpn)), strict=True))
    if cloud == "gcp":
        return dict(zip(GCP_FILES, (gcp_vpn_gateway(vpn), gcp_vpn_tunnel(vpn, 0), gcp_vpn_tunnel(vpn, 1),
                                    gcp_router(vpn, asn)), strict=True))
    return {}


def _file_lookup(path: str, filt: str = "") -> str:
    """A Jinja expression reading a lab secret file when Ansible needs it (the value never sits in the tree)."""
    return "{{ lookup('ansible.builtin.file', '" + path + "')" + (f" | {filt}" if filt else "") + " }}"


def cloud_param_vars(cloud: str) -> dict[str, Any]:
    """The inventory variables that point a gateway at the cloud's files (every gateway on the cgw tunnels)."""
    if cloud == "azure":
        return {"cloud_provider": "azure_vpn", "cloud_params_file": [f"files/{f}" for f in AZURE_FILES]}
    if cloud == "gcp":
        return {"cloud_provider": "gcp_ha_vpn", "cloud_params_file": [f"files/{f}" for f in GCP_FILES],
                "vpn_connection_id": GCP_GATEWAY,
                # GCP never returns the shared secrets: the site's own (here a 0600 file of the lab; a vault)
                "cloud_psk": _file_lookup(str(GCP_PSK_FILE), "from_json")}
    return {}


def cgw_cloud_vars(cloud: str, oauth: dict[str, str] | None = None) -> dict[str, Any]:
    """The lab inventory's host variables of ``cgw`` for a non-AWS cloud (over host_vars/cgw.yml)."""
    out = cloud_param_vars(cloud)
    if cloud == "azure" and oauth:
        # Azure's DICOM service takes Entra ID tokens, no client certificate: the client-credentials
        # grant at the lab token endpoint, the client secret read from the lab's 0600 file
        out.update({
            "dicomweb_auth": "bearer", "dicomweb_client_cert_file": "", "dicomweb_client_key_file": "",
            "dicomweb_token_url": oauth["token_url"], "dicomweb_client_id": oauth["client_id"],
            "dicomweb_client_secret": _file_lookup(oauth["client_secret_file"]),
            "dicomweb_token_audience": oauth["audience"],
            "verify_dicomweb_token_ca_bundle": "/etc/stowpath/tls/ca-bundle.pem"})
    return out
