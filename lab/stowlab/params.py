"""Fresh vendor-side parameters: what the cloud configures and hands to the customer (new on every ``up``)."""

from __future__ import annotations

import ipaddress
import random
import secrets
import string
from typing import Any

from .cloud_files import cloud_ids
from .topology import AZURE_APIPA, CLOUD_ASNS, CLOUDS, DX_VLAN, FACILITY_ASN, VPN_ENDPOINTS, fleet_name, fleet_wan

# AWS refuses these inside CIDRs; the rest avoid our own link-local uses.
RESERVED_INSIDE = [ipaddress.ip_network(n) for n in (
    "169.254.0.0/30", "169.254.1.0/30", "169.254.2.0/30", "169.254.3.0/30", "169.254.4.0/30",
    "169.254.5.0/30", "169.254.169.252/30", "169.254.169.0/24", "169.254.250.0/24")]
PSK_ALPHABET = string.ascii_letters + string.digits + "._"


def random_psk(rng: random.SystemRandom) -> str:
    first = rng.choice([c for c in PSK_ALPHABET if c != "0"])
    return first + "".join(rng.choice(PSK_ALPHABET) for _ in range(31))


def random_auth_key(rng: random.SystemRandom) -> str:
    """A Direct Connect BGP MD5 key."""
    return "".join(rng.choice(PSK_ALPHABET) for _ in range(24))


def random_inside(rng: random.SystemRandom, taken: list[ipaddress.IPv4Network]) -> ipaddress.IPv4Network:
    while True:
        net = ipaddress.ip_network(f"169.254.{rng.randrange(256)}.{rng.randrange(64) * 4}/30")
        if not any(net.overlaps(r) for r in RESERVED_INSIDE + taken):
            taken.append(net)
            return net


def random_apipa(rng: random.SystemRandom, taken: list[ipaddress.IPv4Network]) -> ipaddress.IPv4Network:
    """A /30 inside Azure's custom APIPA BGP range (169.254.21.0-169.254.22.255), not yet taken."""
    subnets = [s for n in AZURE_APIPA for s in ipaddress.ip_network(n).subnets(new_prefix=30)]
    while True:
        net = rng.choice(subnets)
        if not any(net.overlaps(t) for t in taken):
            taken.append(net)
            return net


def random_id(rng: random.SystemRandom, prefix: str, n: int = 17, alphabet: str = "0123456789abcdef") -> str:
    return prefix + "".join(rng.choice(alphabet) for _ in range(n))


def make_params(fleet: int, cloud: str = "aws") -> dict[str, Any]:
    """Fresh vendor-side parameters: what the cloud configures and hands to the customer.

    ``cloud`` (aws | azure | gcp) shapes the facility's VPN (``vpn``): Azure numbers the tunnels from its
    APIPA range, AWS and GCP from the rest of 169.254.0.0/16; the cloud's end is ``.1`` of each /30.
    """
    if cloud not in CLOUDS:
        raise ValueError(f"cloud {cloud!r}: use one of {', '.join(CLOUDS)}")
    rng = random.SystemRandom()
    taken: list[ipaddress.IPv4Network] = []

    def vpn(cgw_ip: str, base_reqid: int, inside_of: str = "aws") -> dict[str, Any]:
        tunnels = []
        for idx, remote in enumerate(VPN_ENDPOINTS, start=1):
            net = random_apipa(rng, taken) if inside_of == "azure" else random_inside(rng, taken)
            tunnels.append({
                "name": f"tun{idx}", "reqid": base_reqid + idx, "cloud_outside": remote,
                "customer_outside": cgw_ip, "inside_cidr": str(net),
                "cloud_inside": str(net.network_address + 1),
                "customer_inside": str(net.network_address + 2), "psk": random_psk(rng)})
        if inside_of == "azure":  # one shared key per Azure connection, for both instances' tunnels
            tunnels[1]["psk"] = tunnels[0]["psk"]
        return {"cloud_ids": cloud_ids(inside_of, rng), "vpn_connection_id": random_id(rng, "vpn-"),
                "customer_gateway_id": random_id(rng, "cgw-"), "vpn_gateway_id": random_id(rng, "vgw-"), "customer_outside": cgw_ip,
                "customer_asn": FACILITY_ASN, "tunnels": tunnels}

    dxnet = random_inside(rng, taken)
    alnum = string.ascii_lowercase + string.digits
    params: dict[str, Any] = {
        "cloud": cloud,
        "cloud_asn": CLOUD_ASNS[cloud],
        "vpn": vpn("198.51.100.24", 0, cloud),
        "dx": {
            "vif_id": random_id(rng, "dxvif-", 8, alnum), "connection_id": random_id(rng, "dxcon-", 8, alnum),
            "peer_id": random_id(rng, "dxpeer-", 8, alnum), "vlan": DX_VLAN, "customer_asn": FACILITY_ASN,
            "cidr": str(dxnet), "amazon_address": f"{dxnet.network_address + 1}/30",
            "customer_address": f"{dxnet.network_address + 2}/30",
            "auth_key": random_auth_key(rng),
            "dxgw_id": f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}-"
                       f"{secrets.token_hex(2)}-{secrets.token_hex(6)}"},
        "fleet": {fleet_name(i): vpn(fleet_wan(i), 100 + 2 * i) for i in range(1, fleet + 1)},
    }
    return params


def vpn_sites(params: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every VPN customer of the cloud: ("cgw", its VPN) first, then the fleet gateways by name."""
    return [("cgw", params["vpn"])] + sorted(params["fleet"].items())


def dx_customer_ip(params: dict[str, Any]) -> str:
    """The facility's address on the Direct Connect VIF (the cloud's BGP neighbor), no prefix length."""
    return params["dx"]["customer_address"].split("/")[0]


def cloud_of(params: dict[str, Any]) -> str:
    """The cloud the lab plays (parameters written before ``--cloud`` existed are AWS)."""
    return str(params.get("cloud", "aws"))


def cloud_asn_of(params: dict[str, Any]) -> int:
    """The BGP ASN of the cloud's VPN side (the ``router bgp`` of the cloud edge)."""
    return int(params.get("cloud_asn", CLOUD_ASNS[cloud_of(params)]))
