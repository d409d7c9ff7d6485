"""AWS Site-to-Site VPN: the connection's CustomerGatewayConfiguration XML ("Generic" download)."""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from ..errors import SiteError
from .model import CloudParams, TunnelParams

FIX_DOWNLOAD = (
    "download the configuration again from the AWS console (VPC > Site-to-Site VPN connections > "
    "Download configuration, vendor 'Generic') or with `aws ec2 describe-vpn-connections "
    "--query 'VpnConnections[0].CustomerGatewayConfiguration' --output text`"
)


def _text(node: Element, path: str, where: str, source: str, required: bool = True) -> str | None:
    found = node.find(path)
    if found is None or found.text is None or not found.text.strip():
        if required:
            raise SiteError(source, f"{where}/{path}", "element is missing or empty", FIX_DOWNLOAD)
        return None
    return found.text.strip()


def _int(node: Element, path: str, where: str, source: str, required: bool = True) -> int | None:
    text = _text(node, path, where, source, required)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise SiteError(source, f"{where}/{path}", f"{text!r} is not a whole number", FIX_DOWNLOAD) from None


def _bool(node: Element, path: str, where: str, source: str) -> bool | None:
    text = _text(node, path, where, source, False)
    if text is None:
        return None
    if text.strip().lower() not in ("true", "false"):
        raise SiteError(source, f"{where}/{path}", f"{text!r} is not true or false", FIX_DOWNLOAD)
    return text.strip().lower() == "true"


def _inside(node: Element, side: str, where: str, source: str) -> str:
    ip = _text(node, f"{side}/tunnel_inside_address/ip_address", where, source)
    cidr = _text(node, f"{side}/tunnel_inside_address/network_cidr", where, source)
    return f"{ip}/{cidr}"


def parse_text(text: str, source: str) -> CloudParams:
    """Parse the XML text (DTDs, entities and external references are refused)."""
    try:
        root = fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise SiteError(
            source, "XML document", f"refused unsafe XML ({type(exc).__name__}: DTDs, entities and "
            "external references are not allowed in a vendor file)", FIX_DOWNLOAD,
        ) from None
    except ParseError as exc:
        raise SiteError(source, "XML document", f"malformed or truncated XML ({exc})", FIX_DOWNLOAD) from None
    if root.tag != "vpn_connection":
        raise SiteError(
            source, root.tag, "this is not an AWS VPN connection configuration (root element must be "
            "<vpn_connection>)", FIX_DOWNLOAD,
        )
    conn_id = root.get("id") or "vpn-unknown"
    vtype = _text(root, "vpn_connection_type", "vpn_connection", source)
    if vtype != "ipsec.1":
        raise SiteError(source, "vpn_connection/vpn_connection_type", f"unsupported type {vtype!r}",
                        "stowpath supports AWS VPN connections of type ipsec.1")
    tunnels = []
    for i, node in enumerate(root.findall("ipsec_tunnel"), start=1):
        where = f"vpn_connection/ipsec_tunnel[{i}]"
        has_bgp = node.find("customer_gateway/bgp") is not None
        tunnels.append(
            TunnelParams(
                where=where,
                local_outside=_text(node, "customer_gateway/tunnel_outside_address/ip_address", where, source),
                remote_outside=_text(node, "vpn_gateway/tunnel_outside_address/ip_address", where, source),
                local_inside=_inside(node, "customer_gateway", where, source),
                remote_inside=_inside(node, "vpn_gateway", where, source),
                psk=_text(node, "ike/pre_shared_key", where, source),
                local_asn=_int(node, "customer_gateway/bgp/asn", where, source) if has_bgp else None,
                remote_asn=_int(node, "vpn_gateway/bgp/asn", where, source) if has_bgp else None,
                hold_time=_int(node, "vpn_gateway/bgp/hold_time", where, source, required=False)
                if has_bgp else None,
                ike={
                    "encryption": _text(node, "ike/encryption_protocol", where, source),
                    "integrity": _text(node, "ike/authentication_protocol", where, source),
                    "dh_group": _text(node, "ike/perfect_forward_secrecy", where, source),
                    "lifetime": _int(node, "ike/lifetime", where, source, required=False),
                },
                ipsec={
                    "encryption": _text(node, "ipsec/encryption_protocol", where, source),
                    "integrity": _text(node, "ipsec/authentication_protocol", where, source),
                    "pfs_group": _text(node, "ipsec/perfect_forward_secrecy", where, source),
                    "lifetime": _int(node, "ipsec/lifetime", where, source, required=False),
                },
                dpd_interval=_int(node, "ipsec/dead_peer_detection/interval", where, source, required=False),
                dpd_retries=_int(node, "ipsec/dead_peer_detection/retries", where, source, required=False),
                tcp_mss=_int(node, "ipsec/tcp_mss_adjustment", where, source, required=False),
                clear_df_bit=_bool(node, "ipsec/clear_df_bit", where, source),
                fragment_before_encryption=_bool(node, "ipsec/fragmentation_before_encryption", where, source),
            )
        )
    with_bgp = {t.local_asn is not None for t in tunnels}
    if len(with_bgp) > 1:
        raise SiteError(source, "vpn_connection/ipsec_tunnel/customer_gateway/bgp",
                        "some tunnels have BGP and some do not", FIX_DOWNLOAD)
    routing = "bgp" if with_bgp == {True} else "static"
    return CloudParams(source=source, connection_type="vpn", connection_id=conn_id, routing=routing,
                       tunnels=tunnels, expected_tunnels=(2, 2))


def parse(text: str, source: str) -> CloudParams:
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        raise SiteError(source, "file", "this is JSON, but cloud_provider aws_vpn expects the VPN connection "
                        "configuration XML", "use cloud_provider: aws_dx for a describe-virtual-interfaces "
                        "JSON, or point cloud_params_file at the VPN XML")
    return parse_text(text, source)
