"""stowpath's vendor-neutral YAML (cloud_provider: manual): any vendor's parameters entered by hand.

Documented in docs/manual-params.md; an example is inventories/example/params/manual-vpn.yml.
"""

from __future__ import annotations

from typing import Any

import yaml

from ..errors import SiteError
from .model import CloudParams, DxParams, TunnelParams

FIX = "see docs/manual-params.md for the format"
TUNNEL_KEYS = {"local_outside", "remote_outside", "local_inside", "remote_inside", "psk", "ike", "ipsec",
               "dpd", "bgp_hold_time"}
TOP_KEYS = {"stowpath_params_version", "connection_type", "connection_id", "routing", "cloud_asn",
            "local_asn", "tcp_mss", "tunnels", "dx"}
DX_KEYS = {"vlan", "local_address", "remote_address", "auth_key", "mtu", "bgp_hold_time", "vif_id"}


def _req(obj: dict, key: str, kinds: type | tuple, where: str, source: str) -> Any:
    if key not in obj or obj[key] in (None, ""):
        raise SiteError(source, f"{where}.{key}", "is required", FIX)
    return _typed(obj[key], kinds, f"{where}.{key}", source)


def _opt(obj: dict, key: str, kinds: type | tuple, where: str, source: str) -> Any:
    if obj.get(key) is None:
        return None
    return _typed(obj[key], kinds, f"{where}.{key}", source)


def _typed(value: Any, kinds: type | tuple, where: str, source: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise SiteError(source, where, f"has the wrong type ({type(value).__name__})", FIX)
    return value


def _unknown(obj: dict, allowed: set[str], where: str, source: str) -> None:
    extra = sorted(set(obj) - allowed)
    if extra:
        raise SiteError(source, f"{where}.{extra[0]}", "unknown key (a typo?)", f"allowed keys: {', '.join(sorted(allowed))}")


def parse(text: str, source: str) -> CloudParams:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SiteError(source, "YAML document", f"malformed YAML ({exc.__class__.__name__})", FIX) from None
    if not isinstance(doc, dict):
        raise SiteError(source, "YAML document", "must be a mapping", FIX)
    _unknown(doc, TOP_KEYS, "params", source)
    if doc.get("stowpath_params_version") != 1:
        raise SiteError(source, "stowpath_params_version", "must be 1", FIX)
    ctype = doc.get("connection_type")
    if ctype not in ("vpn", "dx"):
        raise SiteError(source, "connection_type", f"{ctype!r} is not vpn or dx", FIX)
    conn_id = str(_opt(doc, "connection_id", (str, int), "params", source) or f"manual-{ctype}")
    cloud_asn = _opt(doc, "cloud_asn", int, "params", source)
    local_asn = _opt(doc, "local_asn", int, "params", source)
    if ctype == "dx":
        dx = _req(doc, "dx", dict, "params", source)
        _unknown(dx, DX_KEYS, "dx", source)
        if cloud_asn is None:
            raise SiteError(source, "cloud_asn", "is required for a dx connection", FIX)
        return CloudParams(
            source=source, connection_type="dx", connection_id=conn_id, routing="bgp",
            dx=DxParams(
                where="dx",
                vif_id=str(dx.get("vif_id") or conn_id),
                vlan=_req(dx, "vlan", int, "dx", source),
                local_address=_req(dx, "local_address", str, "dx", source),
                remote_address=_req(dx, "remote_address", str, "dx", source),
                auth_key=str(_req(dx, "auth_key", str, "dx", source)),
                local_asn=local_asn, remote_asn=cloud_asn,
                mtu=_opt(dx, "mtu", int, "dx", source) or 1500,
                hold_time=_opt(dx, "bgp_hold_time", int, "dx", source),
            ),
            expected_tunnels=(0, 0),
        )
    routing = doc.get("routing", "bgp")
    if routing not in ("bgp", "static"):
        raise SiteError(source, "routing", f"{routing!r} is not bgp or static", FIX)
    if routing == "bgp" and cloud_asn is None:
        raise SiteError(source, "cloud_asn", "is required when routing is bgp", FIX)
    raw_tunnels = _req(doc, "tunnels", list, "params", source)
    tcp_mss = _opt(doc, "tcp_mss", int, "params", source)
    tunnels = []
    for i, t in enumerate(raw_tunnels, start=1):
        where = f"tunnels[{i}]"
        if not isinstance(t, dict):
            raise SiteError(source, where, "must be a mapping", FIX)
        _unknown(t, TUNNEL_KEYS, where, source)
        ike = _opt(t, "ike", dict, where, source) or {}
        ipsec = _opt(t, "ipsec", dict, where, source) or {}
        dpd = _opt(t, "dpd", dict, where, source) or {}
        tunnels.append(TunnelParams(
            where=where,
            local_outside=_opt(t, "local_outside", str, where, source),
            remote_outside=_req(t, "remote_outside", str, where, source),
            local_inside=_req(t, "local_inside", str, where, source),
            remote_inside=_req(t, "remote_inside", str, where, source),
            psk=str(_req(t, "psk", str, where, source)),
            local_asn=local_asn if routing == "bgp" else None,
            remote_asn=cloud_asn if routing == "bgp" else None,
            hold_time=_opt(t, "bgp_hold_time", int, where, source),
            ike={"encryption": str(ike.get("encryption", "aes-256-cbc")),
                 "integrity": str(ike.get("integrity", "sha2-256")),
                 "dh_group": str(ike.get("dh_group", 14)),
                 "lifetime": ike.get("lifetime", 28800)},
            ipsec={"encryption": str(ipsec.get("encryption", "aes-256-cbc")),
                   "integrity": str(ipsec.get("integrity", "sha2-256")),
                   "pfs_group": str(ipsec.get("pfs_group", 14)),
                   "lifetime": ipsec.get("lifetime", 3600)},
            dpd_interval=dpd.get("interval", 10),
            dpd_retries=dpd.get("retries", 3),
            tcp_mss=tcp_mss,
        ))
    return CloudParams(source=source, connection_type="vpn", connection_id=conn_id, routing=routing,
                       tunnels=tunnels, expected_tunnels=(1, 2))
