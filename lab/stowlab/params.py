"""Fresh vendor-side parameters: what the cloud configures and hands to the customer (new on every ``up``)."""

from __future__ import annotations

import ipaddress
import random
import secrets
import string
from typing import Any

from .topology import DX_VLAN, FACILITY_ASN, VPN_ENDPOINTS, fleet_name, fleet_wan

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


def random_id(rng: random.SystemRandom, prefix: str, n: int = 17, alphabet: str = "0123456789abcdef") -> str:
    return prefix + "".join(rng.choice(alphabet) for _ in range(n))


def make_params(fleet: int) -> dict[str, Any]:
    """Fresh vendor-side parameters: what the cloud configures and hands to the customer."""
    rng = random.SystemRandom()
    taken: list[ipaddress.IPv4Network] = []

    def vpn(cgw_ip: str, base_reqid: int) -> dict[str, Any]:
        tunnels = []
        for idx, remote in enumerate(VPN_ENDPOINTS, start=1):
            net = random_inside(rng, taken)
            tunnels.append({
                "name": f"tun{idx}", "reqid": base_reqid + idx, "cloud_outside": remote,
                "customer_outside": cgw_ip, "inside_cidr": str(net),
                "cloud_inside": str(net.network_address + 1),
                "customer_inside": str(net.network_address + 2), "psk": random_psk(rng)})
        return {"vpn_connection_id": random_id(rng, "vpn-"), "customer_gateway_id": random_id(rng, "cgw-"),
                "vpn_gateway_id": random_id(rng, "vgw-"), "customer_outside": cgw_ip,
                "customer_asn": FACILITY_ASN, "tunnels": tunnels}

    dxnet = random_inside(rng, taken)
    alnum = string.ascii_lowercase + string.digits
    params: dict[str, Any] = {
        "vpn": vpn("198.51.100.24", 0),
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
