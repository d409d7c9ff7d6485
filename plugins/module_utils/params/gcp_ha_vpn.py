"""Google Cloud HA VPN: what `gcloud compute ... describe` prints (YAML, or JSON with --format=json), or the
Compute API's REST answers (the same field names; list answers carry ``items``).

The files, each recognised by its ``kind`` (or ``selfLink``):

- ``gcloud compute vpn-tunnels describe`` -- one per tunnel: HA VPN gateway + interface, peer IP, IKE
  version, Cloud Router, optional ``cipherSuite``;
- ``gcloud compute routers describe`` -- the Cloud Router: ``bgp.asn``, ``interfaces[]`` (``ipRange``, the
  linked tunnel) and ``bgpPeers[]`` (``ipAddress``, ``peerIpAddress``, ``peerAsn``);
- ``gcloud compute vpn-gateways describe`` -- the HA VPN gateway's interface IPs (``vpnInterfaces[]``).

GCP never returns the shared secret (only ``sharedSecretHash``): ``cloud_psk`` supplies it. Tunnels are
ordered by HA VPN interface (interface 0 is ``tun1``). IKEv2 only.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ..errors import SiteError
from .documents import last_segment, load_structured
from .model import CloudParams, TunnelParams

FIX_FILES = (
    "save `gcloud compute vpn-tunnels describe <tunnel> --region <region> --format=json` for each tunnel, "
    "`gcloud compute routers describe <router> --region <region> --format=json` and `gcloud compute vpn-gateways "
    "describe <gateway> --region <region> --format=json`, unchanged, and list them in cloud_params_file "
    "(docs/cloud-parameters.md)"
)
KINDS = {"compute#vpnTunnel": "tunnel", "compute#router": "router", "compute#vpnGateway": "gateway",
         "compute#externalVpnGateway": "external_gateway"}
LINKS = {"/vpnTunnels/": "tunnel", "/routers/": "router", "/vpnGateways/": "gateway",
         "/externalVpnGateways/": "external_gateway"}
# Cloud VPN's IKE/ESP lifetimes (Phase 1 36000 s, Phase 2 10800 s) and the strong proposals it accepts.
DEFAULT_IKE = {"encryption": "aes-256-cbc", "integrity": "sha2-256", "dh_group": "14", "lifetime": 36000}
DEFAULT_IPSEC = {"encryption": "aes-256-cbc", "integrity": "sha2-256", "pfs_group": "14", "lifetime": 10800}
GCP_TCP_MSS = 1360
DEFAULT_KEEPALIVE = 20


def kind_of(doc: Any) -> str | None:
    if not isinstance(doc, dict):
        return None
    if doc.get("kind") in KINDS:
        return KINDS[doc["kind"]]
    link = str(doc.get("selfLink") or "")
    for part, kind in LINKS.items():
        if part in link:
            return kind
    if "vpnGatewayInterface" in doc or "sharedSecretHash" in doc:
        return "tunnel"
    if "bgpPeers" in doc or ("bgp" in doc and "interfaces" in doc):
        return "router"
    if "vpnInterfaces" in doc:
        return "gateway"
    return None


def _items(doc: Any) -> list[Any]:
    if isinstance(doc, list):  # gcloud ... list --format=json
        return doc
    if isinstance(doc, dict) and str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
        return doc["items"]  # REST list answer
    return [doc]


def _find(objs: list[tuple[str, dict]], ref: Any) -> tuple[str, dict] | None:
    """The object a URL (or a bare name) refers to: by selfLink's project/region/name path, else by name."""
    name = last_segment(ref)
    tail = str(ref or "").split("/projects/", 1)[-1]
    for source, obj in objs:
        link = str(obj.get("selfLink") or "")
        if link and tail and link.split("/projects/", 1)[-1] == tail:
            return source, obj
    for source, obj in objs:
        if obj.get("name") == name:
            return source, obj
    return None


CIPHERS = {"AES-CBC-128": "aes-128-cbc", "AES-CBC-192": "aes-192-cbc", "AES-CBC-256": "aes-256-cbc",
           "AES-GCM-8-128": "aes-128-gcm-8", "AES-GCM-16-128": "aes-128-gcm-16", "AES-GCM-16-256": "aes-256-gcm-16",
           "AES-GCM-16-192": "aes-192-gcm-16"}


def _suite(tunnel: dict[str, Any]) -> tuple[dict, dict]:
    suite = tunnel.get("cipherSuite")
    ike, ipsec = dict(DEFAULT_IKE), dict(DEFAULT_IPSEC)
    if not isinstance(suite, dict):
        return ike, ipsec

    def first(phase: str, key: str) -> str | None:
        values = (suite.get(phase) or {}).get(key) or []
        return str(values[0]) if isinstance(values, list) and values else None

    enc1, int1, dh1 = first("phase1", "encryption"), first("phase1", "integrity"), first("phase1", "dh")
    enc2, int2, pfs2 = first("phase2", "encryption"), first("phase2", "integrity"), first("phase2", "pfs")
    if enc1:
        ike["encryption"] = CIPHERS.get(enc1, enc1)
    if int1:
        ike["integrity"] = int1.lower()
    elif enc1 and "GCM" in enc1:
        ike["integrity"] = (first("phase1", "prf") or "PRF-HMAC-SHA2-256").lower().replace("prf-", "")
    if dh1:
        ike["dh_group"] = dh1.lower().replace("group-", "")
    if enc2:
        ipsec["encryption"] = CIPHERS.get(enc2, enc2)
    if int2:
        ipsec["integrity"] = int2.lower()
    if pfs2:
        ipsec["pfs_group"] = pfs2.lower().replace("group-", "")
    return ike, ipsec


def parse_documents(docs: list[tuple[str, str]], psk: list[str] | None = None,
                    vpn_connection_id: str | None = None) -> CloudParams:
    """``docs``: (file, text) pairs in any order; ``psk``: cloud_psk; ``vpn_connection_id``: the HA VPN gateway."""
    found: dict[str, list[tuple[str, dict]]] = {k: [] for k in ("tunnel", "router", "gateway", "external_gateway")}
    sources = [s for s, _ in docs]
    everywhere = ", ".join(sources)
    for source, text in docs:
        for doc in load_structured(text, source, FIX_FILES):
            for item in _items(doc):
                kind = kind_of(item)
                if kind is None:
                    raise SiteError(source, "document", "is not a GCP VPN tunnel, Cloud Router or HA VPN gateway "
                                    "(compute#vpnTunnel, compute#router, compute#vpnGateway)", FIX_FILES)
                found[kind].append((source, item))
    tunnels_raw = found["tunnel"]
    if vpn_connection_id:
        tunnels_raw = [(s, t) for s, t in tunnels_raw if last_segment(t.get("vpnGateway")) == vpn_connection_id]
    if not tunnels_raw:
        raise SiteError(everywhere, "vpn tunnel", "no HA VPN tunnel among the files"
                        + (f" on gateway {vpn_connection_id!r}" if vpn_connection_id else ""),
                        "add `gcloud compute vpn-tunnels describe <tunnel> --region <region> --format=json` for each "
                        "tunnel of the HA VPN gateway")
    gateway_names = {last_segment(t.get("vpnGateway")) for _, t in tunnels_raw}
    if len(gateway_names) > 1:
        raise SiteError(everywhere, "vpnGateway", f"the tunnels belong to several HA VPN gateways "
                        f"({', '.join(sorted(gateway_names))})", "set vpn_connection_id to the HA VPN gateway this "
                        "facility connects to, or list only its tunnels")

    def order(item: tuple[str, dict]) -> tuple[int, str]:
        iface = item[1].get("vpnGatewayInterface")
        return (iface if isinstance(iface, int) else 99, str(item[1].get("name")))

    tunnels_raw.sort(key=order)
    if psk is None or not psk:
        names = ", ".join(str(t.get("name")) for _, t in tunnels_raw)
        raise SiteError(everywhere, "cloud_psk", f"GCP never returns the shared secret of a tunnel (only its "
                        f"sharedSecretHash): no key for tunnel(s) {names}", "set cloud_psk (Ansible Vault) to the "
                        "shared secret given to `gcloud compute vpn-tunnels create --shared-secret`: one string, or "
                        "a list in tunnel order (interface 0 first)")
    if len(psk) not in (1, len(tunnels_raw)):
        raise SiteError(everywhere, "cloud_psk", f"lists {len(psk)} keys for {len(tunnels_raw)} tunnel(s)",
                        "give one key for every tunnel or one per tunnel, in tunnel order (interface 0 first)")
    keys = psk * len(tunnels_raw) if len(psk) == 1 else list(psk)
    tunnels: list[TunnelParams] = []
    notes: list[str] = []
    cloud_asns: set[int] = set()
    for i, (tsrc, t) in enumerate(tunnels_raw):
        tname = str(t.get("name") or f"tunnel{i}")
        where = f"vpnTunnel {tname}"
        if t.get("ikeVersion", 2) != 2:
            raise SiteError(tsrc, f"{where}.ikeVersion", f"IKEv{t.get('ikeVersion')} is not supported (stowpath "
                            "renders IKEv2 only)", "recreate the tunnel with --ike-version 2")
        if not t.get("vpnGateway"):
            raise SiteError(tsrc, f"{where}.vpnGateway", "this is a Classic VPN tunnel (targetVpnGateway), not HA VPN",
                            "cloud_provider gcp_ha_vpn needs the tunnels of an HA VPN gateway")
        router_ref = t.get("router")
        router_hit = _find(found["router"], router_ref)
        if not router_ref or router_hit is None:
            rname = last_segment(router_ref) or "?"
            raise SiteError(everywhere, f"{where}.router", f"the Cloud Router of tunnel {tname} ({rname}) is not among "
                            "the files", f"add `gcloud compute routers describe {rname} --region <region> "
                            "--format=json` to cloud_params_file")
        rsrc, router = router_hit
        rname = str(router.get("name") or last_segment(router_ref))
        ifaces = [f for f in router.get("interfaces") or [] if isinstance(f, dict)
                  and last_segment(f.get("linkedVpnTunnel")) == tname]
        if not ifaces:
            raise SiteError(rsrc, f"router {rname}.interfaces", f"no interface of the Cloud Router is linked to tunnel "
                            f"{tname}", f"gcloud compute routers add-interface {rname} --vpn-tunnel {tname} "
                            "--ip-address <169.254.x.y> --mask-length 30, then save the router again")
        iface = ifaces[0]
        peers = [p for p in router.get("bgpPeers") or [] if isinstance(p, dict)
                 and p.get("interfaceName") == iface.get("name")]
        if not peers:
            raise SiteError(rsrc, f"router {rname}.bgpPeers", f"no BGP peer on interface {iface.get('name')} (tunnel "
                            f"{tname})", f"gcloud compute routers add-bgp-peer {rname} --interface {iface.get('name')} "
                            "--peer-ip-address <169.254.x.y> --peer-asn <facility ASN>, then save the router again")
        peer = peers[0]
        pwhere = f"router {rname}.bgpPeers[{peer.get('name')}]"
        if str(peer.get("enable", "TRUE")).upper() == "FALSE":
            notes.append(f"tun{i + 1}: the Cloud Router's BGP peer {peer.get('name')} is disabled (enable: FALSE)")
        ip_range = str(iface.get("ipRange") or "")
        try:
            prefix = ipaddress.ip_interface(ip_range).network.prefixlen
        except ValueError:
            raise SiteError(rsrc, f"router {rname}.interfaces[{iface.get('name')}].ipRange", f"{ip_range!r} is not an "
                            "address/prefix", FIX_FILES) from None
        for key in ("ipAddress", "peerIpAddress", "peerAsn"):
            if peer.get(key) in (None, ""):
                raise SiteError(rsrc, f"{pwhere}.{key}", "is missing", FIX_FILES)
        bgp = router.get("bgp") if isinstance(router.get("bgp"), dict) else {}
        asn = bgp.get("asn")
        if asn in (None, ""):
            raise SiteError(rsrc, f"router {rname}.bgp.asn", "is missing", FIX_FILES)
        cloud_asns.add(int(asn))
        keepalive = bgp.get("keepaliveInterval", DEFAULT_KEEPALIVE)
        gw_hit = _find(found["gateway"], t.get("vpnGateway"))
        gname = last_segment(t.get("vpnGateway"))
        if gw_hit is None:
            raise SiteError(everywhere, f"{where}.vpnGateway", f"the HA VPN gateway of tunnel {tname} ({gname}) is not "
                            "among the files", f"add `gcloud compute vpn-gateways describe {gname} --region <region> "
                            "--format=json` to cloud_params_file")
        gsrc, gateway = gw_hit
        number = t.get("vpnGatewayInterface", 0)
        public = next((v.get("ipAddress") for v in gateway.get("vpnInterfaces") or []
                       if isinstance(v, dict) and v.get("id", 0) == number), None)
        if not public:
            raise SiteError(gsrc, f"vpnGateway {gname}.vpnInterfaces[{number}].ipAddress", "is missing", FIX_FILES)
        ike, ipsec = _suite(t)
        tunnels.append(TunnelParams(
            where=where,
            remote_outside=str(public),
            local_outside=str(t["peerIp"]) if t.get("peerIp") else None,
            local_inside=f"{peer['peerIpAddress']}/{prefix}",
            remote_inside=f"{peer['ipAddress']}/{prefix}",
            psk=keys[i],
            local_asn=int(peer["peerAsn"]),
            remote_asn=int(asn),
            hold_time=3 * keepalive if isinstance(keepalive, int) else None,
            ike=ike, ipsec=ipsec,
            tcp_mss=GCP_TCP_MSS,
        ))
    return CloudParams(source=everywhere, connection_type="vpn", connection_id=gateway_names.pop() or "gcp-ha-vpn",
                       routing="bgp", tunnels=tunnels, expected_tunnels=(1, 2), notes=notes)
