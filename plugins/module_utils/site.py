"""The site model: a facility's gateway host variables + the vendor's file -> one validated dict.

``load_site`` is the only way in: it validates every variable, reads and parses the vendor file,
cross-checks both, applies the crypto policy and returns the template context described in
docs/ARCHITECTURE.md. Every problem is a :class:`SiteError` naming the host or file, the field and
the fix; all problems of one stage are reported together (:class:`SiteErrors`).
"""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from . import crypto_policy as cp
from .dicomweb.auth_policy import check_auth
from .errors import SiteError, SiteErrors
from .params import ParseOptions, params_file_warnings, parse_documents
from .params.model import CloudParams, DxParams, TunnelParams
from .platforms import UnknownPlatformError, get
from .platforms import names as platform_names
from .redact import mask_structure

PLATFORMS = platform_names()
PROVIDERS = ("aws_vpn", "aws_dx", "azure_vpn", "gcp_ha_vpn", "manual")
VPN_PROVIDERS = ("aws_vpn", "azure_vpn", "gcp_ha_vpn")
# Providers whose answers carry no shared keys (or may not): cloud_psk supplies them.
PSK_PROVIDERS = ("azure_vpn", "gcp_ha_vpn")
# cloud_params_source: api -- the site variables that name what the provider's API is asked for.
API_PROVIDERS: dict[str, tuple[str, ...]] = {
    "aws_vpn": ("vpn_connection_id",), "aws_dx": ("dx_virtual_interface_id",),
    "azure_vpn": ("azure_resource_group", "azure_vpn_connection"),
    "gcp_ha_vpn": ("gcp_project", "gcp_region", "gcp_vpn_tunnels")}
# Names passed to a cloud CLI as arguments: never starting with '-' (no option injection), no spaces.
AZURE_NAME_RE = re.compile(r"^[A-Za-z0-9_.()][A-Za-z0-9_.()-]{0,89}$")
AZURE_SUBSCRIPTION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")
GCP_NAME_RE = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
GCP_PROJECT_RE = re.compile(r"^[a-z][-a-z0-9.:]{4,61}[a-z0-9]$")
SITE_NAME_RE = re.compile(r"^[a-z0-9-]{1,40}$")
IFACE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_./:-]{0,63}$")
ZONE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# AWS Site-to-Site VPN: 8-64 characters of [A-Za-z0-9._], not starting with 0.
PSK_RE = re.compile(r"^[A-Za-z1-9._][A-Za-z0-9._]{7,63}$")
# AWS Direct Connect BGP key: 6-80 characters; we accept the characters every platform quotes safely.
AUTH_KEY_RE = re.compile(r"^[A-Za-z0-9._~+=@^-]{6,80}$")
URL_RE = re.compile(r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/%-]*)?$")
# IPsec data planes of a gateway that runs its own IKE daemon: the kernel's XFRM (production) or a
# userspace ESP (strongSwan kernel-libipsec, for kernels without ESP/XFRM such as the lab's).
IPSEC_DATAPLANES = ("kernel", "libipsec")
LINK_LOCAL = ipaddress.ip_network("169.254.0.0/16")
# AWS refuses these tunnel inside CIDRs; a file naming one is not from AWS or was edited.
AWS_RESERVED_INSIDE = {ipaddress.ip_network(n) for n in (
    "169.254.0.0/30", "169.254.1.0/30", "169.254.2.0/30", "169.254.3.0/30", "169.254.4.0/30",
    "169.254.5.0/30", "169.254.169.252/30")}
ASN_MIN, ASN_MAX = 1, 4294967294
MAX_FILE_BYTES = 1024 * 1024
MSS_DEFAULT_VPN = 1379
# Shortest supernet of a DICOMweb range accepted from the cloud by default (AWS VPC CIDRs are /16-/28).
ACCEPT_MIN_PREFIXLEN = 16
# Inner MTU of a tunnel interface sized for ESP in UDP with AES-CBC + SHA-2 (AWS's samples use 1436).
TUNNEL_MTU = 1436
# AWS's IPsec replay window (packets).
REPLAY_WINDOW = 1024
# Symmetric return traffic: the preferred tunnel gets this local preference, the others this AS-path prepend.
PREFERRED_LOCAL_PREF = 200
BACKUP_PREPEND = 2
SECRET_PATHS = (("tunnels", "psk"), ("dx", "auth_key"))

IPNet = ipaddress.IPv4Network


class _Collector:
    """Collects errors for one source so that all of them are reported at once."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.errors: list[SiteError] = []

    def add(self, field: str, problem: str, fix: str) -> None:
        self.errors.append(SiteError(self.source, field, problem, fix))

    def raise_if_any(self) -> None:
        if self.errors:
            raise SiteErrors(self.errors) if len(self.errors) > 1 else self.errors[0]


# ---------------------------------------------------------------- small pure parsers

def parse_ipv4(value: Any, field: str, col: _Collector, what: str = "an IPv4 address") -> ipaddress.IPv4Address | None:
    try:
        addr = ipaddress.ip_address(str(value).strip()) if isinstance(value, str) else None
    except ValueError:
        addr = None
    if not isinstance(addr, ipaddress.IPv4Address):
        col.add(field, f"{value!r} is not {what}", "write a dotted-quad IPv4 address, e.g. 198.51.100.24")
        return None
    return addr


def parse_unicast(value: Any, field: str, col: _Collector) -> ipaddress.IPv4Address | None:
    addr = parse_ipv4(value, field, col)
    if addr is not None and (addr.is_loopback or addr.is_multicast or addr.is_unspecified
                             or addr.is_link_local or addr.is_reserved or str(addr).endswith(".255")):
        col.add(field, f"{addr} is not a usable unicast address", "use the public IPv4 address of the interface")
        return None
    return addr


def parse_cidr(value: Any, field: str, col: _Collector) -> IPNet | None:
    if not isinstance(value, str) or "/" not in value:
        col.add(field, f"{value!r} is not a CIDR", "write a network with its prefix length, e.g. 203.0.113.0/26")
        return None
    try:
        net = ipaddress.ip_network(value.strip(), strict=True)
    except ValueError as exc:
        hint = ""
        try:
            hint = f" (did you mean {ipaddress.ip_network(value.strip(), strict=False)}?)"
        except ValueError:
            pass
        col.add(field, f"{value!r} is not a valid IPv4 network: {exc}{hint}",
                "write the network address with its prefix length, e.g. 203.0.113.0/26")
        return None
    if not isinstance(net, ipaddress.IPv4Network):
        col.add(field, f"{value} is IPv6", "stowpath onboards IPv4 paths; give IPv4 networks")
        return None
    return net


def parse_cidr_list(value: Any, field: str, col: _Collector) -> list[IPNet]:
    if not isinstance(value, list) or not value:
        col.add(field, "must be a non-empty list of CIDRs", f"e.g. {field}: [203.0.113.0/26]")
        return []
    nets = [parse_cidr(v, f"{field}[{i}]", col) for i, v in enumerate(value)]
    good = [n for n in nets if n is not None]
    for i, a in enumerate(good):
        for b in good[i + 1:]:
            if a.overlaps(b):
                col.add(field, f"{a} and {b} overlap", "list each network once, without overlaps")
    return good


def check_asn(value: Any, field: str, col: _Collector) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value).strip()) if isinstance(value, str) and "." not in value else value
        except ValueError:
            pass
    if isinstance(value, str) and re.fullmatch(r"\d+\.\d+", value):  # asdot notation 1.10 -> 65546
        hi, lo = (int(x) for x in value.split("."))
        value = hi * 65536 + lo
    if isinstance(value, bool) or not isinstance(value, int) or not ASN_MIN <= value <= ASN_MAX or value == 23456:
        col.add(field, f"{value!r} is not a valid BGP ASN",
                "use 1-4294967294 (2- or 4-byte; 23456 is AS_TRANS and not allowed)")
        return None
    return value


def check_int(value: Any, field: str, col: _Collector, lo: int, hi: int, unit: str = "") -> int | None:
    if isinstance(value, str) and value.strip().isdigit():  # "-e tcp_mss=1350" arrives as a string
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        col.add(field, f"{value!r} is out of range", f"use a whole number from {lo} to {hi}{unit}")
        return None
    return value


def check_bool(value: Any, field: str, col: _Collector) -> bool:
    """true/false (also the strings "-e name=true" passes: true/false/yes/no)."""
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "false", "no"):
        return value.strip().lower() in ("true", "yes")
    if not isinstance(value, bool):
        col.add(field, f"{value!r} is not true/false", f"set {field}: true or false")
        return False
    return value


def check_name(value: Any, field: str, col: _Collector, regex: re.Pattern, example: str) -> str | None:
    if not isinstance(value, str) or not regex.fullmatch(value):
        col.add(field, f"{value!r} is not allowed here (only letters, digits and {example}; no spaces, quotes, "
                "newlines, ';' or braces)", f"rename it to match {regex.pattern}")
        return None
    return value


def platform_vars(platform: Any, hv: Mapping[str, Any], col: _Collector) -> dict[str, Any]:
    """The variables only this host's platform has (its spec's ``site_vars``), validated, as
    ``{site_section: {key: value}}`` for the templates (``site.linux.tunnel_interface``)."""
    try:
        spec = get(platform)
    except UnknownPlatformError:
        return {}
    kinds = {"interface": (IFACE_RE, "'_./:-'"), "zone": (ZONE_RE, "'_-'")}
    section: dict[str, Any] = {}
    for name, var in spec.site_vars.items():
        value = hv.get(name, var.default)
        if value is None and var.default is None:
            section[var.key] = None
        elif var.kind == "bool":
            section[var.key] = check_bool(value, name, col)
        elif var.kind == "dataplane":
            if value not in IPSEC_DATAPLANES:
                col.add(name, f"{value!r} is not an IPsec data plane", f"use one of {', '.join(IPSEC_DATAPLANES)}")
            section[var.key] = value
        else:
            section[var.key] = check_name(value, name, col, *kinds[var.kind])
    return {spec.site_section: section} if spec.site_section else {}


def parse_url(value: Any, field: str, col: _Collector) -> dict[str, Any] | None:
    if not isinstance(value, str) or not value.startswith("https://"):
        col.add(field, f"{value!r} is not an https URL", "use https://<vendor-host>/dicomweb/studies (https only)")
        return None
    parts = urlsplit(value)
    if parts.username or parts.password or "@" in parts.netloc:
        col.add(field, "the URL carries credentials", "remove user:password@ from the URL; set the credentials in "
                "the PACS destination variables (Basic auth) instead")
        return None
    if not URL_RE.fullmatch(value) or parts.query or parts.fragment:
        col.add(field, f"{value!r} has characters stowpath does not accept", "use scheme, host, optional port and a "
                "plain path, e.g. https://dicom.vendor.example/dicomweb/studies")
        return None
    try:
        port = parts.port or 443
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        col.add(field, "port out of range", "use a port from 1 to 65535 (normally 443)")
        return None
    return {"url": value, "host": parts.hostname, "port": port, "path": parts.path or "/"}


# ---------------------------------------------------------------- host variables

def _site_vars(hv: Mapping[str, Any], col: _Collector) -> dict[str, Any]:
    """Validate the host variables that do not depend on the vendor file."""
    out: dict[str, Any] = {}

    def need(name: str) -> Any:
        if hv.get(name) in (None, "", []):
            col.add(name, "is required", f"set {name} in the host's inventory variables (see README, site variables)")
            return None
        return hv[name]

    site_name = need("site_name")
    if site_name is not None:
        out["site_name"] = check_name(site_name, "site_name", col, SITE_NAME_RE, "'-' (lower case, at most 40)")
    platform = need("gateway_platform")
    if platform is not None and platform not in PLATFORMS:
        col.add("gateway_platform", f"{platform!r} is not supported", f"use one of {', '.join(PLATFORMS)}")
    out["gateway_platform"] = platform
    provider = need("cloud_provider")
    if provider is not None and provider not in PROVIDERS:
        col.add("cloud_provider", f"{provider!r} is not supported", f"use one of {', '.join(PROVIDERS)}")
    out["cloud_provider"] = provider
    out.update(_params_source_vars(hv, provider, col))
    for name in ("lan_interface",):
        v = need(name)
        out[name] = check_name(v, name, col, IFACE_RE, "'_./:-'") if v is not None else None
    lan = need("lan_cidrs")
    out["lan_cidrs"] = parse_cidr_list(lan, "lan_cidrs", col) if lan is not None else []
    dicomweb_cidrs = need("dicomweb_cidrs")
    out["dicomweb_cidrs"] = parse_cidr_list(dicomweb_cidrs, "dicomweb_cidrs", col) if dicomweb_cidrs is not None else []
    url = need("dicomweb_url")
    out["dicomweb"] = parse_url(url, "dicomweb_url", col) if url is not None else None
    auth, problems = check_auth(hv)
    for p in problems:
        col.add(p.field, p.problem, p.fix)
    out["dicomweb_auth"] = auth.as_dict()
    # WAN: required for VPN (the tunnels' outside address); optional for Direct Connect.
    for name in ("wan_interface", "wan_address"):
        if hv.get(name) in (None, "") and provider in VPN_PROVIDERS:
            col.add(name, "is required for a VPN gateway", f"set {name} (the internet-facing interface / its public IPv4)")
    out["wan_interface"] = (check_name(hv["wan_interface"], "wan_interface", col, IFACE_RE, "'_./:-'")
                            if hv.get("wan_interface") else None)
    out["wan_address"] = parse_unicast(hv["wan_address"], "wan_address", col) if hv.get("wan_address") else None
    out["local_asn"] = check_asn(hv["local_asn"], "local_asn", col) if hv.get("local_asn") not in (None, "") else None
    out["allow_legacy_crypto"] = check_bool(hv.get("allow_legacy_crypto", False), "allow_legacy_crypto", col)
    out["allow_icmp_diagnostics"] = check_bool(hv.get("allow_icmp_diagnostics", True), "allow_icmp_diagnostics", col)
    out["tcp_mss"] = (check_int(hv["tcp_mss"], "tcp_mss", col, 536, 1460)
                      if hv.get("tcp_mss") is not None else None)
    out["accept_prefixes"] = (parse_cidr_list(hv["accept_prefixes"], "accept_prefixes", col)
                              if hv.get("accept_prefixes") is not None else None)
    out["accept_min_prefixlen"] = check_int(hv.get("accept_min_prefixlen", ACCEPT_MIN_PREFIXLEN),
                                            "accept_min_prefixlen", col, 8, 32)
    out["preferred_tunnel"] = check_int(hv.get("preferred_tunnel", 1), "preferred_tunnel", col, 0, 2)
    out["bgp_router_id"] = (parse_ipv4(hv["bgp_router_id"], "bgp_router_id", col)
                            if hv.get("bgp_router_id") else None)
    out["tunnel_id_base"] = check_int(hv.get("tunnel_id_base", 0), "tunnel_id_base", col, 0, 9000)
    out["platform_vars"] = platform_vars(platform, hv, col)
    out["dx_interface"] = (check_name(hv["dx_interface"], "dx_interface", col, IFACE_RE, "'_./:-'")
                           if hv.get("dx_interface") else None)
    out["dx_vlan_interface"] = (check_name(hv["dx_vlan_interface"], "dx_vlan_interface", col, IFACE_RE, "'_./:-'")
                                if hv.get("dx_vlan_interface") else None)
    out["dx_virtual_interface_id"] = hv.get("dx_virtual_interface_id")
    if provider == "aws_dx" and not out["dx_interface"]:
        col.add("dx_interface", "is required for a Direct Connect gateway",
                "set dx_interface to the port facing the Direct Connect cross-connect (e.g. GigabitEthernet0/0/2)")
    # Overlaps that need no vendor file.
    for lan in out["lan_cidrs"]:
        for dw in out["dicomweb_cidrs"]:
            if lan.overlaps(dw):
                col.add("lan_cidrs", f"{lan} overlaps dicomweb_cidrs {dw}",
                        "the facility LAN and the vendor's DICOMweb range must be distinct networks")
    if out["wan_address"] is not None:
        for net in out["lan_cidrs"] + out["dicomweb_cidrs"]:
            if out["wan_address"] in net:
                col.add("wan_address", f"{out['wan_address']} lies inside {net}",
                        "wan_address is the gateway's public address, outside the LAN and the cloud range")
    if out["accept_prefixes"] is not None:
        for dw in out["dicomweb_cidrs"]:
            if not any(dw.subnet_of(ap) for ap in out["accept_prefixes"]):
                col.add("accept_prefixes", f"no accepted prefix covers dicomweb_cidrs {dw}",
                        "add the cloud network that contains the DICOMweb range to accept_prefixes")
    return out


def accept_filter(dicomweb: list[IPNet], accept_prefixes: list[IPNet] | None,
                  min_prefixlen: int = ACCEPT_MIN_PREFIXLEN) -> list[dict[str, Any]]:
    """The inbound route filter, as ordered entries ``{prefix, exact}`` (``exact`` false: "or longer").

    With ``accept_prefixes`` set: those prefixes or longer. Otherwise what covers or lies inside a
    DICOMweb range: each supernet of the range down to ``min_prefixlen`` (exact: a VPC CIDR that
    contains the range, never a sibling network inside that supernet), then the range or longer. A
    default route is never accepted unless ``accept_prefixes`` names ``0.0.0.0/0``.
    """
    if accept_prefixes is not None:
        return [{"prefix": str(n), "exact": False} for n in accept_prefixes]
    entries: list[dict[str, Any]] = []
    seen: set[str] = set()
    for net in dicomweb:
        for length in range(max(1, min_prefixlen), net.prefixlen):
            sup = str(net.supernet(new_prefix=length))
            if sup not in seen:
                seen.add(sup)
                entries.append({"prefix": sup, "exact": True})
    for net in dicomweb:
        entries.append({"prefix": str(net), "exact": False})
    return entries


def _params_source_vars(hv: Mapping[str, Any], provider: Any, col: _Collector) -> dict[str, Any]:
    """cloud_params_source / cloud_params_file (one path or a list) / cloud_psk / vpn_connection_id."""
    out: dict[str, Any] = {}
    source = hv.get("cloud_params_source") or "file"
    if source not in ("file", "api"):
        col.add("cloud_params_source", f"{source!r} is not file or api", "use file (default) or api")
    out["cloud_params_source"] = source
    files = hv.get("cloud_params_file")
    if source == "api":
        id_vars = API_PROVIDERS.get(provider) if isinstance(provider, str) else None
        if provider in PROVIDERS and id_vars is None:
            col.add("cloud_params_source", f"api is not available for {provider}",
                    "save the answers as files and list them in cloud_params_file (docs/cloud-parameters.md)")
        for id_var in id_vars or ():
            if hv.get(id_var) in (None, "", []):
                col.add(id_var, "is required with cloud_params_source: api",
                        f"set {id_var} to what the {provider} API is asked for (docs/cloud-parameters.md)")
        if files not in (None, "", []):
            col.add("cloud_params_file", "is set although cloud_params_source is api",
                    "remove cloud_params_file, or set cloud_params_source: file")
        files = []
    elif files in (None, "", []):
        col.add("cloud_params_file", "is required", "set cloud_params_file in the host's inventory variables (see "
                "README, site variables): one file, or a list for providers whose answers come as several files")
        files = None
    elif isinstance(files, str):
        files = [files]
    elif not isinstance(files, list) or not all(isinstance(f, str) and f for f in files):
        col.add("cloud_params_file", "must be a path or a list of paths", "e.g. cloud_params_file: [gw.json, "
                "connection.json, shared-key.json]")
        files = None
    out["cloud_params_file"] = files
    psk = hv.get("cloud_psk")
    if psk in (None, "", []):
        out["cloud_psk"] = None
    elif isinstance(psk, str) or (isinstance(psk, list) and psk and all(isinstance(k, str) for k in psk)):
        out["cloud_psk"] = [psk] if isinstance(psk, str) else list(psk)
        if provider in PROVIDERS and provider not in PSK_PROVIDERS:
            col.add("cloud_psk", f"is set, but {provider}'s file carries the keys",
                    "remove cloud_psk (the vendor file's keys are used)")
    else:  # never echo the value: it is a secret
        col.add("cloud_psk", "must be a string or a list of strings", "one key for every tunnel, or a list in "
                "tunnel order (Ansible Vault)")
        out["cloud_psk"] = None
    vpn_id = hv.get("vpn_connection_id")
    out["vpn_connection_id"] = (check_name(str(vpn_id), "vpn_connection_id", col, ID_RE, "'._-'")
                                if vpn_id not in (None, "") else None)
    region = hv.get("cloud_api_region")
    out["cloud_api_region"] = (check_name(str(region), "cloud_api_region", col, ID_RE, "'._-'")
                               if region not in (None, "") else None)
    out["cloud_api_ids"] = _cli_api_ids(hv, col)
    return out


def _cli_api_ids(hv: Mapping[str, Any], col: _Collector) -> dict[str, Any]:
    """The Azure / GCP resource names of cloud_params_source: api, validated (they become CLI arguments)."""
    ids: dict[str, Any] = {}
    for name, regex, example in (("azure_resource_group", AZURE_NAME_RE, "'_.()-'"),
                                 ("azure_vpn_connection", AZURE_NAME_RE, "'_.()-'"),
                                 ("azure_subscription", AZURE_SUBSCRIPTION_RE, "' _.-'"),
                                 ("gcp_project", GCP_PROJECT_RE, "'-.:' (lower case)"),
                                 ("gcp_region", GCP_NAME_RE, "'-' (lower case)")):
        if hv.get(name) not in (None, ""):
            ids[name] = check_name(str(hv[name]), name, col, regex, example)
    tunnels = hv.get("gcp_vpn_tunnels")
    if tunnels not in (None, "", []):
        tunnels = [tunnels] if isinstance(tunnels, str) else tunnels
        if not isinstance(tunnels, list) or not 1 <= len(tunnels) <= 4:
            col.add("gcp_vpn_tunnels", "must be a list of 1-4 tunnel names", "e.g. gcp_vpn_tunnels: [tunnel-0, tunnel-1]")
        else:
            ids["gcp_vpn_tunnels"] = [check_name(t, f"gcp_vpn_tunnels[{i}]", col, GCP_NAME_RE, "'-' (lower case)")
                                      for i, t in enumerate(tunnels)]
    return ids


# ---------------------------------------------------------------- the vendor file

def resolve_params_file(path: str, inventory_dir: str) -> str:
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(inventory_dir or ".", path))


def read_params_file(path: str, host: str) -> str:
    from .params import check_text

    if not os.path.isfile(path):
        raise SiteError(f"host {host}", "cloud_params_file", f"{path} does not exist or is not a file",
                        "give the path of the file the vendor handed over (relative paths are relative to the "
                        "inventory directory)")
    size = os.path.getsize(path)
    if size == 0:
        raise SiteError(path, "file", "is empty", "download the vendor file again")
    if size > MAX_FILE_BYTES:
        raise SiteError(path, "file", f"is {size} bytes, more than any vendor parameter file", "check the path")
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        return check_text(raw.decode("utf-8-sig"), path)
    except UnicodeDecodeError:
        raise SiteError(path, "file", "is not UTF-8 text", "download the vendor file again") from None


def _tunnel(t: TunnelParams, index: int, sv: dict[str, Any], col: _Collector, notes: list[str],
            warnings: list[str]) -> dict[str, Any] | None:
    w = t.where
    ok = True
    remote_outside = parse_unicast(t.remote_outside, f"{w}/vpn_gateway/tunnel_outside_address", col)
    local_outside = sv["wan_address"]
    if t.local_outside is not None:
        lo = parse_unicast(t.local_outside, f"{w}/customer_gateway/tunnel_outside_address", col)
        if lo is not None and local_outside is not None and lo != local_outside:
            col.add(f"{w}/customer_gateway/tunnel_outside_address",
                    f"the vendor configured customer gateway {lo}, but the host's wan_address is {local_outside}",
                    "fix wan_address, or ask the vendor for a configuration for this gateway's public address")
        local_outside = local_outside or lo
    if local_outside is None:
        col.add("wan_address", "is required for a VPN tunnel", "set wan_address to the gateway's public IPv4")
    insides = []
    for side, value in (("customer_gateway", t.local_inside), ("vpn_gateway", t.remote_inside)):
        field = f"{w}/{side}/tunnel_inside_address"
        try:
            iface = ipaddress.ip_interface(value)
        except ValueError:
            col.add(field, f"{value!r} is not an address/prefix", "e.g. 169.254.21.6/30")
            ok = False
            continue
        net = iface.network
        if not isinstance(iface, ipaddress.IPv4Interface) or net.prefixlen != 30 or not net.subnet_of(LINK_LOCAL):
            col.add(field, f"{value} is not a /30 inside 169.254.0.0/16",
                    "tunnel inside addresses are a /30 from 169.254.0.0/16 (as the cloud vendor assigns them)")
            ok = False
            continue
        if net in AWS_RESERVED_INSIDE and sv["cloud_provider"] not in PSK_PROVIDERS:
            col.add(field, f"{net} is reserved by AWS and cannot be a tunnel inside CIDR",
                    "choose another /30 in 169.254.0.0/16")
            ok = False
        if iface.ip in (net.network_address, net.broadcast_address):
            col.add(field, f"{iface.ip} is the network or broadcast address of {net}", "use a host address of the /30")
            ok = False
        insides.append(iface)
    if len(insides) == 2:
        if insides[0].network != insides[1].network:
            col.add(f"{w}/tunnel_inside_address", f"customer {insides[0]} and vendor {insides[1]} are in different /30s",
                    "both ends of a tunnel share one /30")
            ok = False
        elif insides[0].ip == insides[1].ip:
            col.add(f"{w}/tunnel_inside_address", "both ends have the same address", "each end needs its own address")
            ok = False
    if not isinstance(t.psk, str) or not PSK_RE.fullmatch(t.psk):
        col.add(f"{w}/ike/pre_shared_key", "the pre-shared key does not match the vendor's rules "
                "(8-64 characters of letters, digits, '.' and '_', not starting with 0)",
                "generate a new key with the vendor (AWS: modify-vpn-tunnel-options) and download the file again")
        ok = False
    algos: dict[str, Any] = {}
    for phase, key, kind, canon in (
        ("ike", "encryption", "encryption", cp.canonical_encryption),
        ("ike", "integrity", "integrity", cp.canonical_integrity),
        ("ike", "dh_group", "dh_group", cp.canonical_dh),
        ("ipsec", "encryption", "encryption", cp.canonical_encryption),
        ("ipsec", "integrity", "integrity", cp.canonical_integrity),
        ("ipsec", "pfs_group", "dh_group", cp.canonical_dh),
    ):
        raw = (t.ike if phase == "ike" else t.ipsec).get(key)
        value = canon(str(raw)) if raw is not None else None
        if value is None:
            col.add(f"{w}/{phase}/{key}", f"unknown algorithm {raw!r}", "use an algorithm the platforms support "
                    "(e.g. aes-256-cbc, sha2-256, group14)")
            ok = False
            continue
        res = cp.apply_policy(kind, value, sv["allow_legacy_crypto"])
        if res.upgraded_from is not None:
            notes.append(f"tun{index} {phase.upper()} {key} {res.upgraded_from} -> {res.value}")
        if res.legacy:
            warnings.append(f"tun{index} {phase.upper()} {key} {value} is legacy crypto, rendered only because "
                            "allow_legacy_crypto is true")
        algos[f"{phase}.{key}"] = res.value
    lifetimes = {}
    for phase, default, hi in (("ike", 28800, 86400), ("ipsec", 3600, 86400)):
        raw = (t.ike if phase == "ike" else t.ipsec).get("lifetime")
        lifetimes[phase] = check_int(raw if raw is not None else default, f"{w}/{phase}/lifetime", col, 300, hi, " seconds")
    dpd_interval = check_int(t.dpd_interval if t.dpd_interval is not None else 10, f"{w}/dead_peer_detection/interval",
                             col, 1, 300, " seconds")
    dpd_retries = check_int(t.dpd_retries if t.dpd_retries is not None else 3, f"{w}/dead_peer_detection/retries",
                            col, 1, 20)
    bgp = None
    if t.remote_asn is not None or t.local_asn is not None:
        hold = check_int(t.hold_time if t.hold_time is not None else 30, f"{w}/bgp/hold_time", col, 3, 65535)
        bgp = {"hold_time": hold, "keepalive": max(1, (hold or 30) // 3)}
    if not ok or None in (remote_outside, local_outside) or len(insides) != 2:
        return None
    net = insides[0].network
    ike_enc, esp_enc = algos.get("ike.encryption"), algos.get("ipsec.encryption")
    return {
        "name": f"tun{index}",
        "index": index,
        "if_index": (sv["tunnel_id_base"] or 0) + index,
        "reqid": index,
        "local_outside": str(local_outside),
        "remote_outside": str(remote_outside),
        "local_inside": str(insides[0].ip),
        "remote_inside": str(insides[1].ip),
        "inside_prefixlen": 30,
        "inside_cidr": str(net),
        "inside_netmask": str(net.netmask),
        "psk": t.psk,
        "ike": {"version": 2, "encryption": ike_enc, "integrity": algos.get("ike.integrity"),
                "dh_group": algos.get("ike.dh_group"), "lifetime": lifetimes["ike"]},
        "ipsec": {"encryption": esp_enc,
                  "integrity": None if esp_enc and cp.is_aead(esp_enc) else algos.get("ipsec.integrity"),
                  "pfs_group": algos.get("ipsec.pfs_group"), "lifetime": lifetimes["ipsec"]},
        "dpd": {"interval": dpd_interval, "retries": dpd_retries,
                "timeout": (dpd_interval or 10) * (dpd_retries or 3),
                "retry_interval": max(2, ((dpd_interval or 10) * (dpd_retries or 3) - (dpd_interval or 10)) // 5)},
        "clear_df_bit": t.clear_df_bit is not False,
        "fragment_before_encryption": t.fragment_before_encryption is not False,
        "replay_window": REPLAY_WINDOW,
        "st0_mtu": TUNNEL_MTU,
        "bgp": bgp,
    }


def _dx(d: DxParams, sv: dict[str, Any], col: _Collector) -> dict[str, Any] | None:
    w = d.where
    vlan = check_int(d.vlan, f"{w}.vlan", col, 1, 4094)
    addrs = []
    for name, value in (("customerAddress", d.local_address), ("amazonAddress", d.remote_address)):
        try:
            iface = ipaddress.ip_interface(value)
        except ValueError:
            col.add(f"{w}.{name}", f"{value!r} is not an address/prefix", "e.g. 169.254.244.2/30")
            continue
        if not isinstance(iface, ipaddress.IPv4Interface) or not 29 <= iface.network.prefixlen <= 31:
            col.add(f"{w}.{name}", f"{value} is not an IPv4 /29-/31 peering address", "use the VIF's peering /30")
            continue
        addrs.append(iface)
    if len(addrs) == 2 and (addrs[0].network != addrs[1].network or addrs[0].ip == addrs[1].ip):
        col.add(f"{w}.customerAddress", f"{addrs[0]} and {addrs[1]} are not two addresses of one peering subnet",
                "use the customer/amazon addresses of the same VIF")
    if not AUTH_KEY_RE.fullmatch(d.auth_key or ""):
        col.add(f"{w}.authKey", "the BGP authentication key has characters or a length stowpath does not accept "
                "(6-80 of letters, digits and . _ ~ + = @ ^ -)", "set a new BGP key on the VIF's BGP peer")
    mtu = check_int(d.mtu, f"{w}.mtu", col, 576, 9216)
    hold = check_int(d.hold_time if d.hold_time is not None else 90, f"{w}.bgp_hold_time", col, 3, 65535)
    vif_id = check_name(d.vif_id, f"{w}.virtualInterfaceId", col, ID_RE, "'._-'")
    if len(addrs) != 2 or None in (vlan, mtu, hold, vif_id) or not sv["dx_interface"]:
        return None
    return {
        "vif_id": vif_id,
        "vif_type": d.vif_type,
        "vlan": vlan,
        "interface": sv["dx_interface"],
        "vlan_interface": sv["dx_vlan_interface"] or f"{sv['dx_interface']}.{vlan}",
        "local_address": str(addrs[0].ip),
        "remote_address": str(addrs[1].ip),
        "prefixlen": addrs[0].network.prefixlen,
        "cidr": str(addrs[0].network),
        "netmask": str(addrs[0].network.netmask),
        "auth_key": d.auth_key,
        "mtu": mtu,
        "bgp": {"hold_time": hold, "keepalive": max(1, hold // 3)},
    }


def build_site(sv: dict[str, Any], params: CloudParams, hostname: str) -> dict[str, Any]:
    """Cross-check the validated host variables with the parsed vendor file; return the site dict."""
    col = _Collector(params.source)
    host_col = _Collector(f"host {hostname}")
    notes: list[str] = []
    warnings: list[str] = []
    provider_type = {"aws_vpn": "vpn", "aws_dx": "dx", "azure_vpn": "vpn", "gcp_ha_vpn": "vpn"}.get(
        sv["cloud_provider"])
    if provider_type and params.connection_type != provider_type:
        col.add("file", f"is a {params.connection_type} file but cloud_provider is {sv['cloud_provider']}",
                "point cloud_params_file at the right file or fix cloud_provider")
    conn_id = check_name(params.connection_id, "connection id", col, ID_RE, "'._-'")
    lo, hi = params.expected_tunnels
    if params.connection_type == "vpn" and not lo <= len(params.tunnels) <= hi:
        want = f"exactly {lo}" if lo == hi else f"{lo} to {hi}"
        col.add("ipsec_tunnel" if sv["cloud_provider"] == "aws_vpn" else "tunnels",
                f"the connection has {len(params.tunnels)} tunnel(s); a {sv['cloud_provider']} connection has {want}",
                "use the complete file as the vendor handed it over")
    tunnels = [_tunnel(t, i, sv, col, notes, warnings) for i, t in enumerate(params.tunnels, start=1)]
    dx = _dx(params.dx, sv, col) if params.dx else None
    # ASNs: the vendor file wins where it gives one; a different local_asn is a conflict.
    local_asn, cloud_asn = None, None
    if params.routing == "bgp":
        file_local = {t.local_asn for t in params.tunnels if t.local_asn is not None}
        file_cloud = {t.remote_asn for t in params.tunnels if t.remote_asn is not None}
        if params.dx:
            file_local |= {params.dx.local_asn} if params.dx.local_asn is not None else set()
            file_cloud |= {params.dx.remote_asn} if params.dx.remote_asn is not None else set()
        if len(file_local) > 1 or len(file_cloud) > 1:
            col.add("bgp/asn", "tunnels disagree on the BGP ASNs", "use the file as the vendor handed it over")
        if file_local:
            local_asn = check_asn(next(iter(file_local)), "customer BGP asn", col)
            if sv["local_asn"] is not None and local_asn is not None and sv["local_asn"] != local_asn:
                host_col.add("local_asn", f"{sv['local_asn']} conflicts with the vendor file's customer ASN {local_asn}",
                             "remove local_asn (the file wins) or ask the vendor for a configuration with your ASN")
        else:
            local_asn = sv["local_asn"]
            if local_asn is None:
                host_col.add("local_asn", "is required: the vendor file gives no customer ASN",
                             "set local_asn to the facility's BGP ASN")
        cloud_asn = check_asn(next(iter(file_cloud)), "cloud BGP asn", col) if file_cloud else None
        if cloud_asn is None and not col.errors:
            col.add("bgp/asn", "the file gives no cloud-side ASN", "use the file as the vendor handed it over")
        if local_asn is not None and local_asn == cloud_asn:
            host_col.add("local_asn", f"the facility ASN {local_asn} equals the cloud ASN",
                         "eBGP needs two different ASNs: use the facility's own ASN")
    # Overlaps between the LAN / DICOMweb ranges and the link networks.
    link_nets = [(f"tunnel {t['name']} inside", ipaddress.ip_network(t["inside_cidr"])) for t in tunnels if t]
    if dx:
        link_nets.append(("Direct Connect peering", ipaddress.ip_network(dx["cidr"])))
    for i, (name_a, a) in enumerate(link_nets):
        for name_b, b in link_nets[i + 1:]:
            if a.overlaps(b):
                col.add("tunnel_inside_address", f"{name_a} {a} overlaps {name_b} {b}", "each link needs its own /30")
    for label, nets in (("lan_cidrs", sv["lan_cidrs"]), ("dicomweb_cidrs", sv["dicomweb_cidrs"])):
        for net in nets:
            for name, link in link_nets:
                if net.overlaps(link):
                    host_col.add(label, f"{net} overlaps the {name} network {link}",
                                 f"{label} must not contain the link-local link networks")
    remote_outsides = [t["remote_outside"] for t in tunnels if t]
    if len(set(remote_outsides)) != len(remote_outsides):
        col.add("vpn_gateway/tunnel_outside_address", "two tunnels go to the same cloud address",
                "each tunnel ends on its own cloud endpoint")
    errors = host_col.errors + col.errors
    if errors:
        raise SiteErrors(errors) if len(errors) > 1 else errors[0]
    mss_file = next((t.tcp_mss for t in params.tunnels if t.tcp_mss), None)
    tcp_mss = None
    if params.connection_type == "vpn":
        tcp_mss = sv["tcp_mss"] or mss_file or MSS_DEFAULT_VPN
        if sv["tcp_mss"] and mss_file and sv["tcp_mss"] != mss_file:
            warnings.append(f"tcp_mss {sv['tcp_mss']} overrides the vendor file's {mss_file}")
    elif sv["tcp_mss"]:
        tcp_mss = sv["tcp_mss"]
    warnings.extend(params.notes)
    if notes:
        warnings.append("crypto upgraded to the strong default policy (set allow_legacy_crypto: true to keep the "
                        "file's algorithms): " + "; ".join(notes))
    router_id = sv["bgp_router_id"] or sv["wan_address"] or (dx and ipaddress.ip_address(dx["local_address"]))
    accept = sv["accept_prefixes"] if sv["accept_prefixes"] is not None else sv["dicomweb_cidrs"]
    accept_routes = accept_filter(sv["dicomweb_cidrs"], sv["accept_prefixes"], sv["accept_min_prefixlen"] or
                                  ACCEPT_MIN_PREFIXLEN)
    preferred = sv["preferred_tunnel"] if sv["preferred_tunnel"] is not None else 1
    for t in tunnels:
        if t:
            t["preferred"] = preferred in (0, t["index"])
            t["local_pref"] = PREFERRED_LOCAL_PREF if preferred and t["index"] == preferred else 100
            t["prepend"] = 0 if preferred in (0, t["index"]) else BACKUP_PREPEND
    return {
        "site_name": sv["site_name"],
        "hostname": hostname,
        "gateway_platform": sv["gateway_platform"],
        "cloud_provider": sv["cloud_provider"],
        "connection_type": params.connection_type,
        "connection_id": conn_id,
        "routing": params.routing,
        "wan": {"interface": sv["wan_interface"], "address": str(sv["wan_address"]) if sv["wan_address"] else None},
        "lan": {"interface": sv["lan_interface"], "cidrs": [str(n) for n in sv["lan_cidrs"]]},
        "local_asn": local_asn,
        "cloud_asn": cloud_asn,
        "bgp_router_id": str(router_id) if router_id else None,
        "accept_prefixes": [str(n) for n in accept],
        "accept_routes": accept_routes,
        "preferred_tunnel": preferred if any(t for t in tunnels) else None,
        "dicomweb": {**sv["dicomweb"], "cidrs": [str(n) for n in sv["dicomweb_cidrs"]]},
        "tcp_mss": tcp_mss,
        "allow_icmp_diagnostics": sv["allow_icmp_diagnostics"],
        "tunnels": [t for t in tunnels if t],
        "dx": dx,
        "cloud_outside_addresses": remote_outsides,
        **sv["platform_vars"],
        "crypto": {"legacy_allowed": sv["allow_legacy_crypto"], "upgraded": notes},
        "warnings": warnings,
        "params_file": params.source,
        # how the DICOMweb service is authenticated (names only), when the site sets any credential
        **({"dicomweb_auth": sv["dicomweb_auth"]} if sv["dicomweb_auth"]["modes"] else {}),
    }


def load_site(hostvars: Mapping[str, Any], hostname: str, inventory_dir: str,
              read: Callable[[str, str], str] = read_params_file,
              fetch: Callable[..., Any] | None = None) -> dict[str, Any]:
    """Validate a gateway host and its vendor file(s) or API answer; return the site dict (secrets included).
    ``fetch`` replaces :func:`.params.api.fetch` (tests, callers with their own API client).

    The independent checks all run (host variables, the vendor file, their cross-checks) so that one
    pass reports every problem of the host."""
    col = _Collector(f"host {hostname}")
    sv = _site_vars(hostvars, col)
    connection_vars(sv["gateway_platform"], hostvars, col)
    if sv["cloud_params_file"] is None or sv["cloud_provider"] not in PROVIDERS or sv["cloud_params_source"] == "api":
        col.raise_if_any()  # never call a cloud API for a host whose variables are wrong
    errors = list(col.errors)
    paths = [resolve_params_file(name, inventory_dir) for name in sv["cloud_params_file"]]
    site: dict[str, Any] | None = None
    fetched = None
    try:
        if sv["cloud_params_source"] == "api":
            if fetch is None:
                from .params.api import fetch
            provider = sv["cloud_provider"]
            if provider in ("aws_vpn", "aws_dx"):
                resource_id = sv["vpn_connection_id"] if provider == "aws_vpn" else sv["dx_virtual_interface_id"]
                fetched = fetch(provider, resource_id, region=sv["cloud_api_region"])
            else:  # azure_vpn / gcp_ha_vpn: their CLI; a shared key given in cloud_psk is not fetched
                ids = {**sv["cloud_api_ids"], "shared_key": not sv["cloud_psk"]}
                fetched = fetch(provider, sv["cloud_api_ids"].get("azure_vpn_connection") or "", ids=ids)
            docs = fetched.documents()
        else:
            docs = [(path, read(path, hostname)) for path in paths]
        options = ParseOptions(vpn_connection_id=sv["vpn_connection_id"], vif_id=sv["dx_virtual_interface_id"],
                               psk=sv["cloud_psk"])
        site = build_site(sv, parse_documents(sv["cloud_provider"], docs, options), hostname)
        if fetched is not None:
            site["params_fetched"] = fetched.summary()
    except (SiteError, SiteErrors) as exc:
        errors += _more_errors(errors, exc)
    except (TypeError, AttributeError, KeyError, ValueError):
        if not errors:  # a half-valid host can trip later checks; anything else is a real bug
            raise
    if errors:
        raise SiteErrors(errors) if len(errors) > 1 else errors[0]
    assert site is not None
    for path in paths:
        site["warnings"].extend(params_file_warnings(path))
    return site


def _more_errors(known: list[SiteError], exc: SiteError | SiteErrors) -> list[SiteError]:
    """The errors of ``exc`` not already reported for the same source and field."""
    seen = {(e.source, e.field) for e in known}
    return [e for e in (exc.errors if isinstance(exc, SiteErrors) else [exc]) if (e.source, e.field) not in seen]


def connection_vars(platform: Any, hv: Mapping[str, Any], col: _Collector) -> None:
    """The connection variables the platform needs, when the run talks to the device.

    ``hv["stowpath_connection"]`` (set by the site_render / site_model action plugins) is
    ``{"required": bool, "set": [names of the connection variables that have a value]}``; values
    themselves (passwords) never reach the site model."""
    given = hv.get("stowpath_connection")
    if not isinstance(given, Mapping) or not given.get("required"):
        return
    try:
        spec = get(platform)
    except UnknownPlatformError:
        return
    have = set(given.get("set") or [])
    for alternatives in spec.connection_vars:
        if not have & set(alternatives):
            name = " or ".join(alternatives)
            col.add(alternatives[0], f"is required to reach a {spec.title} ({name})",
                    f"set {name} in the host's inventory variables, secrets in Ansible Vault "
                    "(docs/real-router.md)")


def site_secrets(site: Mapping[str, Any]) -> list[str]:
    """Every secret value the site carries (for masking anything shown to a person)."""
    found = [t["psk"] for t in site.get("tunnels") or []]
    if site.get("dx"):
        found.append(site["dx"]["auth_key"])
    return [s for s in found if s]


def masked(site: Mapping[str, Any]) -> dict[str, Any]:
    """The site dict with every secret replaced by ``********`` (safe for results, reports, site.json)."""
    return mask_structure(dict(site), site_secrets(site))
