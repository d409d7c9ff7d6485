"""AWS Site-to-Site VPN as the API answers it: ``aws ec2 describe-vpn-connections`` (JSON, also boto3's
``describe_vpn_connections``) or the EC2 Query API's ``DescribeVpnConnectionsResponse`` (XML).

The connection's configuration XML lives in the string field ``CustomerGatewayConfiguration``
(``customerGatewayConfiguration`` in the Query API); it is parsed by :mod:`.aws_vpn` like the XML download.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from ..errors import SiteError
from . import aws_vpn
from .documents import load_structured
from .model import CloudParams

FIX_JSON = (
    "save the answer again with `aws ec2 describe-vpn-connections --vpn-connection-ids <vpn-id> --output json`, "
    "unchanged (the connection must be pending or available)"
)
USABLE_STATES = {"pending", "available"}


def _connections(doc: Any, source: str) -> tuple[str, list[Any]]:
    """(path prefix, connections) for every shape the CLI and SDKs print."""
    if isinstance(doc, dict) and "VpnConnections" in doc:
        conns = doc["VpnConnections"]
        if isinstance(conns, dict):  # the aws-cli reference example prints a single object here
            return "VpnConnections", [conns]
        if isinstance(conns, list):
            return "VpnConnections", conns
        raise SiteError(source, "VpnConnections", "is not a list of connections", FIX_JSON)
    if isinstance(doc, dict) and "VpnConnectionId" in doc:  # --query 'VpnConnections[0]'
        return "", [doc]
    if isinstance(doc, list) and all(isinstance(c, dict) and "VpnConnectionId" in c for c in doc):
        return "", doc  # --query 'VpnConnections'
    if isinstance(doc, dict) and "virtualInterfaces" in doc:
        raise SiteError(source, "file", "this is JSON of Direct Connect virtual interfaces, but cloud_provider aws_vpn "
                        "expects a VPN connection", "use cloud_provider: aws_dx for a describe-virtual-interfaces "
                        "JSON, or point cloud_params_file at the VPN connection's XML or describe-vpn-connections JSON")
    raise SiteError(source, "VpnConnections", "this is JSON without VPN connections (not the answer of "
                    "describe-vpn-connections)", FIX_JSON)


def _pick(conns: list[Any], prefix: str, wanted: str | None, source: str, id_key: str) -> tuple[int, dict[str, Any]]:
    good = [(i, c) for i, c in enumerate(conns) if isinstance(c, dict)]
    if wanted:
        good = [(i, c) for i, c in good if c.get(id_key) == wanted]
        if not good:
            listed = ", ".join(str(c.get(id_key)) for c in conns if isinstance(c, dict)) or "none"
            raise SiteError(source, prefix or "document", f"no VPN connection {wanted!r} in the file (it lists "
                            f"{listed})", "check vpn_connection_id against the file")
    if len(good) != 1:
        raise SiteError(source, prefix or "document", f"the file lists {len(good)} VPN connections",
                        "set vpn_connection_id to the connection this gateway terminates")
    return good[0]


def _from_config(xml_text: Any, conn_id: str, state: Any, where: str, source: str) -> CloudParams:
    if state is not None and state not in USABLE_STATES:
        raise SiteError(source, f"{where}.State", f"the connection is {state!r}",
                        "use a connection that is pending or available (AWS drops the configuration of deleted ones)")
    if not isinstance(xml_text, str) or not xml_text.strip():
        raise SiteError(source, f"{where}.CustomerGatewayConfiguration", "is missing (AWS returns it only while the "
                        "connection is pending or available, and not to callers filtered by --query)", FIX_JSON)
    if not xml_text.lstrip().startswith("<"):
        raise SiteError(source, f"{where}.CustomerGatewayConfiguration", "does not hold the connection's "
                        "configuration XML (it was shortened or replaced)", FIX_JSON)
    try:
        params = aws_vpn.parse_text(xml_text, source)
    except SiteError as exc:
        raise SiteError(source, f"{where}.CustomerGatewayConfiguration: {exc.field}", exc.problem, exc.fix) from None
    if conn_id and params.connection_id not in ("vpn-unknown", conn_id):
        raise SiteError(source, f"{where}.CustomerGatewayConfiguration", f"describes {params.connection_id}, not "
                        f"{conn_id}", FIX_JSON)
    if conn_id:
        params.connection_id = conn_id
    return params


def parse(text: str, source: str, vpn_connection_id: str | None = None) -> CloudParams:
    """The JSON answer of describe-vpn-connections (CLI or SDK), one connection chosen."""
    docs = load_structured(text, source, FIX_JSON)
    if len(docs) != 1:
        raise SiteError(source, "document", "holds several documents", FIX_JSON)
    prefix, conns = _connections(docs[0], source)
    index, conn = _pick(conns, prefix, vpn_connection_id, source, "VpnConnectionId")
    where = f"{prefix}[{index}]" if prefix else f"[{index}]"
    ctype = conn.get("Type")
    if ctype not in (None, "ipsec.1"):
        raise SiteError(source, f"{where}.Type", f"unsupported type {ctype!r}", "stowpath supports ipsec.1 connections")
    return _from_config(conn.get("CustomerGatewayConfiguration"), str(conn.get("VpnConnectionId") or ""),
                        conn.get("State"), where, source)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_query_xml(text: str, source: str, vpn_connection_id: str | None = None) -> CloudParams:
    """The EC2 Query API's ``DescribeVpnConnectionsResponse`` (what boto3 receives on the wire)."""
    try:
        root = fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise SiteError(source, "XML document", f"refused unsafe XML ({type(exc).__name__})", FIX_JSON) from None
    except ParseError as exc:
        raise SiteError(source, "XML document", f"malformed or truncated XML ({exc})", FIX_JSON) from None
    items = [item for vpn_set in root if _local(vpn_set.tag) in ("vpnConnectionSet", "vpnSet") for item in vpn_set
             if _local(item.tag) == "item"]
    conns = []
    for item in items:
        fields = {_local(child.tag): (child.text or "") for child in item}
        conns.append({"VpnConnectionId": fields.get("vpnConnectionId"), "State": fields.get("state"),
                      "Type": fields.get("type"), "CustomerGatewayConfiguration": fields.get("customerGatewayConfiguration")})
    index, conn = _pick(conns, "vpnConnectionSet", vpn_connection_id, source, "VpnConnectionId")
    where = f"DescribeVpnConnectionsResponse/vpnConnectionSet/item[{index + 1}]"
    return _from_config(conn["CustomerGatewayConfiguration"], str(conn["VpnConnectionId"] or ""), conn["State"],
                        where, source)


def is_query_response(text: str) -> bool:
    head = text.lstrip()[:400]
    return head.startswith("<") and "DescribeVpnConnectionsResponse" in head
