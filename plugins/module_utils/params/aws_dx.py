"""AWS Direct Connect: the answer of `aws directconnect describe-virtual-interfaces` (JSON)."""

from __future__ import annotations

import json
from typing import Any

from ..errors import SiteError
from .model import CloudParams, DxParams

FIX_DOWNLOAD = (
    "save the answer of `aws directconnect describe-virtual-interfaces --virtual-interface-id "
    "<dxvif-id> --output json` again, unchanged"
)
USABLE_STATES = {"confirming", "verifying", "pending", "available", "down"}


def _get(obj: dict[str, Any], key: str, kind: type | tuple, where: str, source: str) -> Any:
    if key not in obj or obj[key] in (None, ""):
        raise SiteError(source, f"{where}.{key}", "is missing or empty", FIX_DOWNLOAD)
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise SiteError(source, f"{where}.{key}", f"has the wrong type ({type(value).__name__})", FIX_DOWNLOAD)
    return value


def parse(text: str, source: str, vif_id: str | None = None) -> CloudParams:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        hint = " (this looks like XML: use cloud_provider aws_vpn)" if text.lstrip().startswith("<") else ""
        raise SiteError(source, "JSON document", f"malformed or truncated JSON: {exc}{hint}", FIX_DOWNLOAD) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("virtualInterfaces"), list):
        raise SiteError(source, "virtualInterfaces", "the document has no virtualInterfaces list",
                        FIX_DOWNLOAD)
    vifs = doc["virtualInterfaces"]
    if vif_id:
        chosen = [v for v in vifs if isinstance(v, dict) and v.get("virtualInterfaceId") == vif_id]
        if not chosen:
            raise SiteError(source, "virtualInterfaces", f"no virtual interface {vif_id!r} in the file",
                            "check dx_virtual_interface_id against the file")
    else:
        chosen = vifs
    if len(chosen) != 1:
        raise SiteError(source, "virtualInterfaces", f"expected exactly 1 virtual interface, found {len(chosen)}",
                        "set dx_virtual_interface_id to the VIF this gateway terminates")
    vif = chosen[0]
    index = vifs.index(vif)
    where = f"virtualInterfaces[{index}]"
    if not isinstance(vif, dict):
        raise SiteError(source, where, "is not an object", FIX_DOWNLOAD)
    vtype = _get(vif, "virtualInterfaceType", str, where, source)
    if vtype not in ("private", "transit"):
        raise SiteError(source, f"{where}.virtualInterfaceType", f"{vtype!r} cannot reach a private DICOMweb "
                        "endpoint", "use a private or transit virtual interface")
    state = vif.get("virtualInterfaceState")
    if state is not None and state not in USABLE_STATES:
        raise SiteError(source, f"{where}.virtualInterfaceState", f"the VIF is {state!r}",
                        "ask the vendor for a working virtual interface (state available, pending or down)")
    family = vif.get("addressFamily", "ipv4")
    if family != "ipv4":
        raise SiteError(source, f"{where}.addressFamily", f"{family!r} is not supported",
                        "stowpath onboards IPv4 virtual interfaces")
    # The BGP peer (if listed) is authoritative for addresses and key; fall back to the VIF fields.
    peers = [p for p in vif.get("bgpPeers") or [] if isinstance(p, dict) and p.get("addressFamily", "ipv4") == "ipv4"]
    peer = peers[0] if peers else vif
    pwhere = f"{where}.bgpPeers[0]" if peers else where
    auth_key = peer.get("authKey") or vif.get("authKey")
    if not auth_key:
        raise SiteError(source, f"{pwhere}.authKey", "no BGP MD5 authentication key",
                        "stowpath requires BGP MD5 on Direct Connect: set an authKey on the BGP peer")
    vlan = _get(vif, "vlan", int, where, source)
    mtu = vif.get("mtu", 1500)
    return CloudParams(
        source=source,
        connection_type="dx",
        connection_id=_get(vif, "virtualInterfaceId", str, where, source),
        routing="bgp",
        dx=DxParams(
            where=where,
            vif_id=_get(vif, "virtualInterfaceId", str, where, source),
            vlan=vlan,
            local_address=_get(peer, "customerAddress", str, pwhere, source),
            remote_address=_get(peer, "amazonAddress", str, pwhere, source),
            auth_key=str(auth_key),
            local_asn=_get(peer, "asn", int, pwhere, source),
            remote_asn=_get(vif, "amazonSideAsn", int, where, source),
            mtu=mtu if isinstance(mtu, int) else 1500,
            state=state,
            vif_type=vtype,
        ),
        expected_tunnels=(0, 0),
    )
