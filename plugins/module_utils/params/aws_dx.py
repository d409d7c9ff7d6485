"""AWS Direct Connect: the answer of `aws directconnect describe-virtual-interfaces` (JSON).

Every shape AWS has printed is accepted: older answers have no ``bgpPeers``, ``amazonSideAsn``, ``mtu``
or ``addressFamily`` (the embedded ``customerRouterConfig`` XML then carries the Amazon ASN and can fill
other gaps), newer ones add ``asnLong`` for 4-byte customer ASNs.
"""

from __future__ import annotations

import json
from typing import Any
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

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


def _router_config(vif: dict[str, Any], where: str, source: str) -> dict[str, str]:
    """The fields of the embedded ``customerRouterConfig`` XML (``{}`` when absent or empty)."""
    raw = vif.get("customerRouterConfig")
    if not isinstance(raw, str) or not raw.strip():
        return {}
    try:
        root = fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise SiteError(source, f"{where}.customerRouterConfig", f"refused unsafe XML ({type(exc).__name__})",
                        FIX_DOWNLOAD) from None
    except ParseError as exc:
        raise SiteError(source, f"{where}.customerRouterConfig", f"malformed XML ({exc})", FIX_DOWNLOAD) from None
    return {child.tag: (child.text or "").strip() for child in root if (child.text or "").strip()}


def _asn(obj: dict[str, Any], where: str, source: str) -> int | None:
    """``asnLong`` (4-byte ASNs) wins over ``asn``; both are missing on some answers."""
    for key in ("asnLong", "asn"):
        value = obj.get(key)
        if value in (None, 0, ""):
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise SiteError(source, f"{where}.{key}", f"has the wrong type ({type(value).__name__})", FIX_DOWNLOAD)
        return value
    return None


def _config_int(config: dict[str, str], key: str, where: str, source: str) -> int | None:
    if key not in config:
        return None
    try:
        return int(config[key])
    except ValueError:
        raise SiteError(source, f"{where}.customerRouterConfig/{key}", f"{config[key]!r} is not a whole number",
                        FIX_DOWNLOAD) from None


def parse(text: str, source: str, vif_id: str | None = None) -> CloudParams:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        hint = " (this looks like XML: use cloud_provider aws_vpn)" if text.lstrip().startswith("<") else ""
        raise SiteError(source, "JSON document", f"malformed or truncated JSON: {exc}{hint}", FIX_DOWNLOAD) from None
    if isinstance(doc, dict) and "virtualInterfaceId" in doc:  # --query 'virtualInterfaces[0]'
        doc = {"virtualInterfaces": [doc]}
    elif isinstance(doc, list) and all(isinstance(v, dict) and "virtualInterfaceId" in v for v in doc):
        doc = {"virtualInterfaces": doc}  # --query 'virtualInterfaces'
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
    config = _router_config(vif, where, source)
    # The BGP peer (if listed) is authoritative for addresses and key; fall back to the VIF fields, then to
    # the embedded router configuration (older answers).
    peers = [p for p in vif.get("bgpPeers") or [] if isinstance(p, dict) and p.get("addressFamily", "ipv4") == "ipv4"]
    peer = peers[0] if peers else vif
    pwhere = f"{where}.bgpPeers[0]" if peers else where
    auth_key = peer.get("authKey") or vif.get("authKey") or config.get("bgp_auth_key")
    if not auth_key:
        raise SiteError(source, f"{pwhere}.authKey", "no BGP MD5 authentication key",
                        "stowpath requires BGP MD5 on Direct Connect: set an authKey on the BGP peer")

    def address(key: str, config_key: str) -> str:
        value = peer.get(key) or vif.get(key) or config.get(config_key)
        if not value:
            raise SiteError(source, f"{pwhere}.{key}", "is missing or empty", FIX_DOWNLOAD)
        if not isinstance(value, str):
            raise SiteError(source, f"{pwhere}.{key}", f"has the wrong type ({type(value).__name__})", FIX_DOWNLOAD)
        return value

    local_asn = _asn(peer, pwhere, source) or _asn(vif, where, source) or _config_int(config, "bgp_asn", where, source)
    if local_asn is None:
        raise SiteError(source, f"{pwhere}.asn", "no customer BGP ASN (asn / asnLong)", FIX_DOWNLOAD)
    amazon_asn = vif.get("amazonSideAsn")
    config_amazon = _config_int(config, "amazon_bgp_asn", where, source)
    if amazon_asn in (None, 0):
        amazon_asn = config_amazon
        if amazon_asn is None:
            raise SiteError(source, f"{where}.amazonSideAsn", "is missing, and no customerRouterConfig gives "
                            "amazon_bgp_asn", FIX_DOWNLOAD)
    elif isinstance(amazon_asn, bool) or not isinstance(amazon_asn, int):
        raise SiteError(source, f"{where}.amazonSideAsn", f"has the wrong type ({type(amazon_asn).__name__})",
                        FIX_DOWNLOAD)
    elif config_amazon is not None and config_amazon != amazon_asn:
        raise SiteError(source, f"{where}.customerRouterConfig/amazon_bgp_asn", f"{config_amazon} differs from "
                        f"amazonSideAsn {amazon_asn}", FIX_DOWNLOAD)
    vlan = vif.get("vlan", _config_int(config, "vlan", where, source))
    if vlan is None:
        raise SiteError(source, f"{where}.vlan", "is missing or empty", FIX_DOWNLOAD)
    if isinstance(vlan, bool) or not isinstance(vlan, int):
        raise SiteError(source, f"{where}.vlan", f"has the wrong type ({type(vlan).__name__})", FIX_DOWNLOAD)
    mtu = vif.get("mtu", 1500)
    conn_id = _get(vif, "virtualInterfaceId", str, where, source)
    return CloudParams(
        source=source,
        connection_type="dx",
        connection_id=conn_id,
        routing="bgp",
        dx=DxParams(
            where=where,
            vif_id=conn_id,
            vlan=vlan,
            local_address=address("customerAddress", "customer_address"),
            remote_address=address("amazonAddress", "amazon_address"),
            auth_key=str(auth_key),
            local_asn=local_asn,
            remote_asn=amazon_asn,
            mtu=mtu if isinstance(mtu, int) and not isinstance(mtu, bool) else 1500,
            state=state,
            vif_type=vtype,
        ),
        expected_tunnels=(0, 0),
    )
