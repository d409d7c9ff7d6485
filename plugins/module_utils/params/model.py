"""What every vendor file is reduced to (still raw: validation happens in ``site.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class TunnelParams:
    where: str  # element path, for error messages: "vpn_connection/ipsec_tunnel[1]"
    remote_outside: str
    local_inside: str  # "169.254.21.6/30"
    remote_inside: str
    psk: str
    local_outside: str | None = None
    local_asn: int | None = None
    remote_asn: int | None = None
    hold_time: int | None = None
    ike: dict[str, Any] = field(default_factory=dict)  # encryption, integrity, dh_group, lifetime
    ipsec: dict[str, Any] = field(default_factory=dict)  # encryption, integrity, pfs_group, lifetime
    dpd_interval: int | None = None
    dpd_retries: int | None = None
    tcp_mss: int | None = None
    clear_df_bit: bool | None = None  # clear the DF bit of the inner packet before encapsulation
    fragment_before_encryption: bool | None = None


@dataclass
class DxParams:
    where: str
    vif_id: str
    vlan: int
    local_address: str  # "169.254.244.2/30"
    remote_address: str
    auth_key: str
    local_asn: int | None
    remote_asn: int | None
    mtu: int = 1500
    state: str | None = None
    vif_type: str = "private"
    hold_time: int | None = None


@dataclass
class CloudParams:
    source: str  # the file, as the user named it
    connection_type: str  # vpn | dx
    connection_id: str
    routing: str  # bgp | static
    tunnels: list[TunnelParams] = field(default_factory=list)
    dx: DxParams | None = None
    expected_tunnels: tuple[int, int] = (2, 2)  # (min, max) the connection type implies
    notes: list[str] = field(default_factory=list)
