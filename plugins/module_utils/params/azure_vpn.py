"""Azure VPN Gateway (site-to-site, route-based): what `az network ...` prints, or the ARM REST answers.

The files, each recognised by its content (``cloud_params_file`` takes a list):

- ``az network vnet-gateway show`` -- the cloud side: instances (``bgpSettings.bgpPeeringAddresses[]`` with
  ``tunnelIpAddresses``, default and custom APIPA BGP addresses), the Azure ASN, active-active;
- ``az network vpn-connection show`` -- protocol, IPsec/IKE policy, ``enableBgp``, DPD timeout and the
  custom APIPA address per gateway instance (``gatewayCustomBgpIpAddresses``);
- ``az network vpn-connection shared-key show`` -- ``{"value": "..."}`` (or ``cloud_psk`` from the vault);
- optionally ``az network local-gateway show`` -- the on-prem side as Azure knows it (public IP, ASN,
  BGP peer address).

The CLI flattens ``properties`` into the object; the REST API (ARM) nests them under ``properties``:
both are read. One tunnel per gateway instance (active-active: two), in the gateway's order.
Each tunnel's link is the /30 around Azure's APIPA BGP address: Azure's end is that address (validated
inside Azure's APIPA range 169.254.21.0-169.254.22.255), the on-prem end is the local network
gateway's BGP peer address when it lies in that /30, else the other host address of the /30.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ..errors import SiteError
from .documents import last_segment, load_structured
from .model import CloudParams, TunnelParams

FIX_FILES = (
    "save the answers with `az network vnet-gateway show -g <rg> -n <gateway> -o json`, `az network vpn-connection "
    "show -g <rg> -n <connection> -o json` and `az network vpn-connection shared-key show -g <rg> "
    "--connection-name <connection> -o json`, unchanged, and list them in cloud_params_file (docs/cloud-parameters.md)"
)
APIPA_FIRST = ipaddress.ip_address("169.254.21.0")
APIPA_LAST = ipaddress.ip_address("169.254.22.255")
AZURE_DEFAULT_ASN = 65515
# Azure's default IPsec/IKE policy (no custom policy on the connection), as rendered by stowpath before the
# crypto policy applies: IKEv2 AES256/SHA256/DHGroup2, ESP AES256/SHA256, SA lifetimes 28800 s / 27000 s.
# Azure's default set answers PFS group 14 as responder, so PFS is rendered at group 14.
DEFAULT_IKE = {"encryption": "aes-256-cbc", "integrity": "sha2-256", "dh_group": "2", "lifetime": 28800}
DEFAULT_IPSEC = {"encryption": "aes-256-cbc", "integrity": "sha2-256", "pfs_group": "14", "lifetime": 27000}
DEFAULT_DPD_TIMEOUT = 45
AZURE_TCP_MSS = 1350

ENC = {"DES": "des-cbc", "DES3": "3des-cbc", "AES128": "aes-128-cbc", "AES192": "aes-192-cbc",
       "AES256": "aes-256-cbc", "GCMAES128": "aes-128-gcm-16", "GCMAES256": "aes-256-gcm-16"}
INTEG = {"MD5": "md5", "SHA1": "sha1", "SHA256": "sha2-256", "SHA384": "sha2-384",
         # ESP integrity with a GCM cipher names the cipher: the integrity is part of the AEAD
         "GCMAES128": "sha2-256", "GCMAES192": "sha2-256", "GCMAES256": "sha2-256"}
DH = {"DHGroup1": "1", "DHGroup2": "2", "DHGroup14": "14", "DHGroup2048": "14", "ECP256": "19", "ECP384": "20",
      "DHGroup24": "24"}
PFS = {"PFS1": "1", "PFS2": "2", "PFS14": "14", "PFS2048": "14", "ECP256": "19", "ECP384": "20", "PFS24": "24"}


def _props(obj: dict[str, Any]) -> dict[str, Any]:
    """ARM nests the resource's fields under ``properties``; the CLI prints them flat."""
    inner = obj.get("properties")
    return {**obj, **inner} if isinstance(inner, dict) else obj


def kind_of(doc: Any) -> str | None:
    """gateway | connection | local_gateway | shared_key, or None when the document is not Azure's."""
    if not isinstance(doc, dict):
        return None
    rtype = str(doc.get("type") or "").lower()
    p = _props(doc)
    if rtype.endswith("/virtualnetworkgateways") or ("bgpSettings" in p and ("gatewayType" in p or "ipConfigurations" in p)):
        return "gateway"
    if rtype.endswith("/connections") or "virtualNetworkGateway1" in p or "connectionType" in p:
        return "connection"
    if rtype.endswith("/localnetworkgateways") or ("gatewayIpAddress" in p and "localNetworkAddressSpace" in p):
        return "local_gateway"
    if isinstance(doc.get("value"), str) and set(doc) <= {"value", "id"}:
        return "shared_key"
    return None


def _same(a: Any, b: Any) -> bool:
    return bool(a) and bool(b) and str(a).lower() == str(b).lower()


def _apipa(value: Any, field: str, source: str) -> ipaddress.IPv4Address:
    try:
        addr = ipaddress.ip_address(str(value))
    except ValueError:
        raise SiteError(source, field, f"{value!r} is not an IPv4 address", FIX_FILES) from None
    if not isinstance(addr, ipaddress.IPv4Address) or not APIPA_FIRST <= addr <= APIPA_LAST:
        raise SiteError(source, field, f"{addr} is outside Azure's APIPA BGP range 169.254.21.0-169.254.22.255",
                        "give the gateway and connection custom Azure APIPA BGP addresses from 169.254.21.0-"
                        "169.254.22.255")
    return addr


def _link(azure: ipaddress.IPv4Address, field: str, source: str) -> ipaddress.IPv4Network:
    net = ipaddress.ip_network(f"{azure}/30", strict=False)
    if azure in (net.network_address, net.broadcast_address):
        raise SiteError(source, field, f"{azure} is the network or broadcast address of {net}: stowpath numbers each "
                        "tunnel as a /30 around Azure's APIPA address", "use an APIPA address that is a host "
                        "address of its /30 (e.g. 169.254.21.1 or 169.254.21.5)")
    return net


def _policy(conn: dict[str, Any], where: str, source: str, notes: list[str]) -> tuple[dict, dict]:
    policies = conn.get("ipsecPolicies") or []
    if not isinstance(policies, list):
        raise SiteError(source, f"{where}.ipsecPolicies", "is not a list", FIX_FILES)
    if not policies:
        notes.append("Azure default IPsec/IKE policy (no custom policy on the connection): rendered from Azure's "
                     "default set, whose main mode offers DH group 2 only: when the crypto policy upgrades it "
                     "(to group 14) the gateway may refuse the proposal, so set a custom IPsec/IKE policy on the "
                     "connection (az network vpn-connection ipsec-policy add ... --dh-group DHGroup14 --pfs-group "
                     "PFS2048 ...) to pin strong algorithms, or allow_legacy_crypto: true to keep Azure's defaults")
        return dict(DEFAULT_IKE), dict(DEFAULT_IPSEC)
    pol = policies[0]
    pwhere = f"{where}.ipsecPolicies[0]"
    if not isinstance(pol, dict):
        raise SiteError(source, pwhere, "is not an object", FIX_FILES)

    def pick(key: str, table: dict[str, str]) -> str:
        value = pol.get(key)
        if value in table:
            return table[value]
        if value in (None, "None"):
            raise SiteError(source, f"{pwhere}.{key}", f"is {value!r}: stowpath always encrypts and always uses "
                            "(perfect forward secrecy) Diffie-Hellman", f"set {key} on the connection's IPsec/IKE "
                            "policy (e.g. ikeEncryption AES256, dhGroup DHGroup14, pfsGroup PFS2048)")
        return str(value)  # unknown names are reported by the crypto policy with this element's path

    def lifetime(key: str, default: int) -> int:
        value = pol.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else default

    ike = {"encryption": pick("ikeEncryption", ENC), "integrity": pick("ikeIntegrity", INTEG),
           "dh_group": pick("dhGroup", DH), "lifetime": 28800}
    ipsec = {"encryption": pick("ipsecEncryption", ENC), "integrity": pick("ipsecIntegrity", INTEG),
             "pfs_group": pick("pfsGroup", PFS), "lifetime": lifetime("saLifeTimeSeconds", 27000)}
    return ike, ipsec


def _choose(items: list[tuple[str, dict]], kind: str, wanted: str | None, sources: list[str]) -> tuple[str, dict]:
    if wanted:
        chosen = [(s, d) for s, d in items if wanted in (d.get("name"), d.get("id"), last_segment(d.get("id")))]
        if not chosen:
            raise SiteError(", ".join(sources), kind, f"no {kind} named {wanted!r} in the files",
                            "check vpn_connection_id against the connection names")
        items = chosen
    if len(items) != 1:
        raise SiteError(", ".join(sources), kind, f"the files hold {len(items)} {kind}s",
                        "set vpn_connection_id to the connection this gateway terminates")
    return items[0]


def parse_documents(docs: list[tuple[str, str]], psk: list[str] | None = None,
                    vpn_connection_id: str | None = None) -> CloudParams:
    """``docs``: (file, text) pairs, in any order. ``psk``: cloud_psk (one key or one per tunnel)."""
    found: dict[str, list[tuple[str, dict]]] = {"gateway": [], "connection": [], "local_gateway": [],
                                                "shared_key": []}
    sources = [s for s, _ in docs]
    for source, text in docs:
        for doc in load_structured(text, source, FIX_FILES):
            for item in doc if isinstance(doc, list) else [doc]:  # `az ... list` prints arrays
                kind = kind_of(item)
                if kind is None:
                    raise SiteError(source, "document", "is not an Azure virtual network gateway, VPN connection, "
                                    "local network gateway or shared key", FIX_FILES)
                found[kind].append((source, item))
    conn_src, conn_raw = _choose(found["connection"], "connection", vpn_connection_id, sources) \
        if found["connection"] else (None, None)
    if conn_raw is None:
        raise SiteError(", ".join(sources), "connection", "no VPN connection among the files",
                        "add the answer of `az network vpn-connection show -g <rg> -n <connection> -o json`")
    conn = _props(conn_raw)
    cname = str(conn.get("name") or last_segment(conn.get("id")) or "azure-connection")
    cwhere = f"connection {cname}"
    gw_ref = conn.get("virtualNetworkGateway1") or {}
    gw_id = gw_ref.get("id") if isinstance(gw_ref, dict) else None
    gateways = [(s, g) for s, g in found["gateway"] if not gw_id or _same(g.get("id"), gw_id)
                or (not g.get("id") and _same(g.get("name"), last_segment(gw_id)))]
    if not gateways:
        named = last_segment(gw_id) or "?"
        raise SiteError(", ".join(sources), "virtual network gateway", f"the virtual network gateway of connection "
                        f"{cname} ({named}) is not among the files", f"add the answer of `az network vnet-gateway "
                        f"show -g <rg> -n {named} -o json` to cloud_params_file")
    gw_src, gw_raw = gateways[0]
    gw = _props(gw_raw)
    gname = str(gw.get("name") or "gateway")
    gwhere = f"virtualNetworkGateway {gname}"
    if conn.get("connectionType", "IPsec") != "IPsec":
        raise SiteError(conn_src, f"{cwhere}.connectionType", f"{conn.get('connectionType')!r} is not a site-to-site "
                        "IPsec connection", "use the IPsec connection to the facility's local network gateway")
    protocol = conn.get("connectionProtocol") or "IKEv2"
    if protocol != "IKEv2":
        raise SiteError(conn_src, f"{cwhere}.connectionProtocol", f"{protocol} is not supported (stowpath renders "
                        "IKEv2 only)", f"az network vpn-connection update -g <rg> -n {cname} --set "
                        "connectionProtocol=IKEv2 (or recreate the connection with IKEv2)")
    if conn.get("usePolicyBasedTrafficSelectors"):
        raise SiteError(conn_src, f"{cwhere}.usePolicyBasedTrafficSelectors", "policy-based traffic selectors are "
                        "not supported (stowpath builds route-based tunnels)", "disable policy-based traffic selectors "
                        "on the connection")
    if gw.get("vpnType", "RouteBased") != "RouteBased":
        raise SiteError(gw_src, f"{gwhere}.vpnType", f"{gw.get('vpnType')!r} gateways are not supported",
                        "use a route-based VPN gateway")
    bgp_settings = gw.get("bgpSettings") or {}
    instances = bgp_settings.get("bgpPeeringAddresses") if isinstance(bgp_settings, dict) else None
    if not isinstance(instances, list) or not instances:
        raise SiteError(gw_src, f"{gwhere}.bgpSettings.bgpPeeringAddresses", "is missing: the answer does not list "
                        "the gateway's instances and their public IPs", FIX_FILES)
    if gw.get("activeActive") and len(instances) != 2:
        raise SiteError(gw_src, f"{gwhere}.bgpSettings.bgpPeeringAddresses", f"an active-active gateway lists "
                        f"{len(instances)} instance(s), not 2", FIX_FILES)
    cloud_asn = bgp_settings.get("asn", AZURE_DEFAULT_ASN)
    custom_by_config = {str(c.get("ipConfigurationId") or "").lower(): c.get("customBgpIpAddress")
                        for c in conn.get("gatewayCustomBgpIpAddresses") or [] if isinstance(c, dict)}
    # The on-prem side as Azure knows it: local network gateway file(s), or the connection's embedded copy.
    lngs = [_props(d) for _, d in found["local_gateway"]]
    embedded = conn.get("localNetworkGateway2")
    if isinstance(embedded, dict) and isinstance(embedded.get("properties"), dict) and embedded["properties"]:
        lngs.append(_props(embedded))
    lng_ref = last_segment(embedded.get("id")) if isinstance(embedded, dict) else ""
    lngs = [g for g in lngs if not lng_ref or not g.get("name") or _same(g.get("name"), lng_ref)] or lngs
    local_outside = next((g["gatewayIpAddress"] for g in lngs if g.get("gatewayIpAddress")), None)
    lng_bgp = [g.get("bgpSettings") for g in lngs if isinstance(g.get("bgpSettings"), dict)]
    local_asn = next((b["asn"] for b in lng_bgp if b.get("asn")), None)
    lng_peers = [b.get("bgpPeeringAddress") for b in lng_bgp if b.get("bgpPeeringAddress")]
    bgp = bool(conn.get("enableBgp"))
    notes: list[str] = []
    ike, ipsec = _policy(conn, cwhere, conn_src, notes)
    dpd_timeout = conn.get("dpdTimeoutSeconds") or DEFAULT_DPD_TIMEOUT
    keys = _shared_keys(found["shared_key"], conn, psk, len(instances), conn_src)
    tunnels = []
    used_peers: set[str] = set()
    for i, inst in enumerate(instances):
        iwhere = f"{gwhere}.bgpSettings.bgpPeeringAddresses[{i}]"
        if not isinstance(inst, dict):
            raise SiteError(gw_src, iwhere, "is not an object", FIX_FILES)
        config_id = str(inst.get("ipconfigurationId") or "")
        public = (inst.get("tunnelIpAddresses") or [None])[0]
        if not public:
            raise SiteError(gw_src, f"{iwhere}.tunnelIpAddresses", "no public IP for this gateway instance",
                            FIX_FILES)
        chosen = custom_by_config.get(config_id.lower())
        field = f"{cwhere}.gatewayCustomBgpIpAddresses[{config_id}]"
        if not chosen:
            custom = [a for a in inst.get("customBgpIpAddresses") or [] if a]
            if not custom:
                default = ", ".join(inst.get("defaultBgpIpAddresses") or []) or "none"
                raise SiteError(gw_src, f"{iwhere}.customBgpIpAddresses", f"instance {last_segment(config_id)} has no "
                                f"custom APIPA BGP address (default BGP address: {default}); stowpath links each "
                                "tunnel through an APIPA /30", "add a custom Azure APIPA BGP IP address "
                                "(169.254.21.0-169.254.22.255) to this gateway IP configuration (portal: "
                                "Configuration > Custom Azure APIPA BGP IP address) and save the answers again")
            chosen, field = custom[0], f"{iwhere}.customBgpIpAddresses[0]"
        azure = _apipa(chosen, field, conn_src if "gatewayCustom" in field else gw_src)
        net = _link(azure, field, conn_src if "gatewayCustom" in field else gw_src)
        given = [p for p in lng_peers if _in(p, net)]
        if given:
            onprem = given[0]
        else:
            onprem = str(next(h for h in net.hosts() if h != azure))
            if bgp:
                notes.append(f"tun{i + 1}: the on-prem BGP address {onprem} is the other host of Azure's {azure}/30: "
                             "make it the BGP peer address of the local network gateway Azure uses for this tunnel")
        used_peers.update(given[:1])
        tunnels.append(TunnelParams(
            where=iwhere,
            remote_outside=str(public),
            local_outside=str(local_outside) if local_outside else None,
            local_inside=f"{onprem}/30",
            remote_inside=f"{azure}/30",
            psk=keys[i],
            local_asn=local_asn if bgp else None,
            remote_asn=cloud_asn if bgp else None,
            ike=dict(ike), ipsec=dict(ipsec),
            dpd_interval=max(1, int(dpd_timeout) // 3) if isinstance(dpd_timeout, int) else None,
            dpd_retries=3,
            tcp_mss=AZURE_TCP_MSS,
        ))
    stray = [p for p in lng_peers if p not in used_peers]
    if bgp and stray:
        raise SiteError(", ".join(sources), "localNetworkGateway.bgpSettings.bgpPeeringAddress", f"{stray[0]} lies in "
                        "none of the tunnels' /30s around Azure's APIPA addresses "
                        f"({', '.join(t.remote_inside for t in tunnels)})", "set the local network gateway's BGP peer "
                        "address to the other host address of the /30 of Azure's APIPA address")
    return CloudParams(source=", ".join(sources), connection_type="vpn", connection_id=cname,
                       routing="bgp" if bgp else "static", tunnels=tunnels, expected_tunnels=(1, 2), notes=notes)


def _in(addr: Any, net: ipaddress.IPv4Network) -> bool:
    try:
        return ipaddress.ip_address(str(addr)) in net
    except ValueError:
        return False


def _shared_keys(key_docs: list[tuple[str, dict]], conn: dict[str, Any], psk: list[str] | None, count: int,
                 conn_src: str | None) -> list[str]:
    from_files = [d["value"] for _, d in key_docs] + ([conn["sharedKey"]] if isinstance(conn.get("sharedKey"), str)
                                                      and conn["sharedKey"].strip("*") else [])
    if len(set(from_files)) > 1:
        raise SiteError(", ".join(s for s, _ in key_docs) or str(conn_src), "shared key",
                        "the files give different shared keys", "keep only the answer of `az network vpn-connection "
                        "shared-key show` for this connection")
    if from_files and psk and any(k != from_files[0] for k in psk):
        raise SiteError(", ".join(s for s, _ in key_docs) or str(conn_src), "shared key",
                        "cloud_psk differs from the connection's shared key in the files",
                        "remove cloud_psk or the shared-key file (one source for the key)")
    if from_files:
        return [from_files[0]] * count
    if not psk:
        raise SiteError(str(conn_src), "shared key", "no shared key: the connection answer does not carry it",
                        "add the answer of `az network vpn-connection shared-key show -g <rg> --connection-name "
                        "<connection> -o json` to cloud_params_file, or set cloud_psk (vault)")
    if len(psk) not in (1, count):
        raise SiteError(str(conn_src), "cloud_psk", f"lists {len(psk)} keys for {count} tunnel(s)",
                        "give one key for every tunnel or one per tunnel, in tunnel order")
    return psk * count if len(psk) == 1 else list(psk)
