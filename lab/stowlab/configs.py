"""Configuration files of the lab's devices, rendered from the Jinja2 templates in ``lab/templates/``.

``device/``: what every device starts with (empty gateways, sshd, strongSwan, FRR daemons, boot script);
``cloud/``: the cloud edge ``aws`` (VPN endpoints, DX router, VPC firewall) for the current parameters.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .params import cloud_asn_of, cloud_of, dx_customer_ip, vpn_sites
from .topology import (
    CLOUD_ASN,
    CLOUD_CIDR,
    CLOUD_HOST,
    DICOMWEB_HOST,
    DX_VLAN,
    FACILITY_LAN,
    FLEET_LAN,
    TEMPLATES,
    VPN_ENDPOINTS,
    Device,
)

# strongSwan: userspace ESP (kernel-libipsec) before kernel-netlink, explicit plugin list.
CHARON_PLUGINS = ("random nonce aes sha1 sha2 md5 hmac gmp curve25519 kdf xcbc cmac ctr ccm "
                  "chapoly pem pkcs1 pkcs8 x509 pubkey revocation constraints openssl gcm "
                  "kernel-libipsec kernel-netlink socket-default vici updown")
CHARON_PLUGIN_DIR = Path("/usr/lib/ipsec/plugins")
# AWS's default tunnel options (Site-to-Site VPN "Tunnel options": phase 1 AES128/AES256/AES128-GCM-16/
# AES256-GCM-16, SHA1/SHA2-256/384/512, DH 2, 14-24; phase 2 the same plus DH 5; IKEv1 and IKEv2)
_AWS_DH1 = "modp1024-modp2048-modp3072-modp4096-modp6144-modp8192-ecp256-ecp384-ecp521-modp1024s160-" \
           "modp2048s224-modp2048s256"
_AWS_DH2 = _AWS_DH1 + "-modp1536"
CLOUD_IKE = (f"aes128-aes256-sha1-sha256-sha384-sha512-{_AWS_DH1},"
             f"aes128gcm16-aes256gcm16-prfsha1-prfsha256-prfsha384-prfsha512-{_AWS_DH1}")
CLOUD_ESP = (f"aes128-aes256-sha1-sha256-sha384-sha512-{_AWS_DH2},"
             f"aes128gcm16-aes256gcm16-{_AWS_DH2}")
# the wider set the lab offered before (adds curve25519, which AWS does not offer)
WIDE_IKE = ("aes256-aes128-sha256-sha384-sha512-sha1-modp2048-modp3072-modp4096-ecp256-ecp384-"
            "modp1536-modp1024-curve25519,aes256gcm16-aes128gcm16-prfsha256-prfsha384-prfsha1-"
            "modp2048-modp3072-modp4096-ecp256-ecp384-modp1024-curve25519")
WIDE_ESP = ("aes256-aes128-sha256-sha384-sha512-sha1-modp2048-modp3072-modp4096-ecp256-ecp384-"
            "modp1536-modp1024-curve25519,aes256gcm16-aes128gcm16-modp2048-modp3072-modp4096-"
            "ecp256-ecp384-modp1024-curve25519")
# Azure VPN Gateway, route-based, IKEv2 ("About VPN devices and IPsec/IKE parameters"): with no custom policy
# the main mode offers AES256/AES128/3DES with SHA256/SHA1 and DH group 2 only; quick mode AES-GCM-256,
# AES256/AES128/3DES with SHA256/SHA1, PFS none or (as responder) groups 2, 14, 24, ECP256, ECP384 (group 1 left out).
_AZ_PFS = "modp1024-modp2048-modp2048s256-ecp256-ecp384"
AZURE_DEFAULT_IKE = "aes256-aes128-3des-sha256-sha1-modp1024"
AZURE_DEFAULT_ESP = (f"aes256gcm16,aes256-aes128-3des-sha256-sha1,aes256gcm16-{_AZ_PFS},"
                     f"aes256-aes128-3des-sha256-sha1-{_AZ_PFS}")
# The lab's Azure connection carries a custom IPsec/IKE policy (AES256/SHA256/DHGroup14, GCMAES256/PFS2048,
# 27000 s): with a custom policy Azure accepts exactly that combination and nothing else.
AZURE_CUSTOM_POLICY = {"ikeEncryption": "AES256", "ikeIntegrity": "SHA256", "dhGroup": "DHGroup14",
                       "ipsecEncryption": "GCMAES256", "ipsecIntegrity": "GCMAES256", "pfsGroup": "PFS2048",
                       "saLifeTimeSeconds": 27000, "saDataSizeKilobytes": 102400000}
AZURE_CUSTOM_IKE = "aes256-sha256-modp2048"
AZURE_CUSTOM_ESP = "aes256gcm16-modp2048"
# Google Cloud VPN ("Supported IKE ciphers"), IKEv2 only: AES-CBC/AES-GCM, SHA1/SHA2, DH groups 2, 5, 14-16,
# 18, 19, 20, 24; phase 2 with or without PFS.
_GCP_DH = "modp2048-modp3072-modp4096-modp8192-ecp256-ecp384-modp2048s256-modp1536-modp1024"
GCP_IKE = (f"aes256-aes192-aes128-sha256-sha384-sha512-sha1-{_GCP_DH},"
           f"aes256gcm16-aes192gcm16-aes128gcm16-prfsha256-prfsha384-prfsha512-prfsha1-{_GCP_DH}")
GCP_ESP = (f"aes256-aes192-aes128-sha256-sha384-sha512-sha1-{_GCP_DH},aes256gcm16-aes192gcm16-aes128gcm16-{_GCP_DH},"
           "aes256-aes192-aes128-sha256-sha384-sha512-sha1,aes256gcm16-aes192gcm16-aes128gcm16")


@dataclass(frozen=True)
class CloudCrypto:
    """What one cloud's VPN side runs: IKE version (0 = both), proposals, lifetimes, BGP timers, DPD."""

    version: int
    ike: str
    esp: str
    ike_rekey: int
    child_rekey: int
    bgp_keepalive: int
    bgp_hold: int


def cloud_crypto(cloud: str, profile: CloudProfile) -> CloudCrypto:
    """The provider's IKE/IPsec and BGP behaviour (AWS: the ``proposals`` knob; Azure: ``azure_policy``)."""
    if cloud == "azure":
        custom = profile.azure_policy == "custom"
        return CloudCrypto(2, AZURE_CUSTOM_IKE if custom else AZURE_DEFAULT_IKE,
                           AZURE_CUSTOM_ESP if custom else AZURE_DEFAULT_ESP, 28800, 27000, 60, 180)
    if cloud == "gcp":  # Cloud VPN: phase 1 36000 s, phase 2 10800 s; Cloud Router keepalive 20 s
        return CloudCrypto(2, GCP_IKE, GCP_ESP, 36000, 10800, 20, 60)
    wide = profile.proposals == "wide"
    return CloudCrypto(0, WIDE_IKE if wide else CLOUD_IKE, WIDE_ESP if wide else CLOUD_ESP, 28800, 3600, 10, 30)


# the VPC CIDR the cloud advertises: a supernet of the DICOMweb subnet (CLOUD_CIDR), never that subnet
VPC_CIDR = "203.0.113.128/25"


@dataclass(frozen=True)
class CloudProfile:
    """How the lab cloud behaves; the defaults follow AWS. Each field is a knob (``STOWPATH_LAB_CLOUD_<FIELD>``
    in the environment of ``lab.py up`` / ``cloud-repair``) so a test can show what a mismatch does.

    * ``advertise``: ``vpc`` (the VPC CIDR, a supernet of the DICOMweb range) or ``exact`` (the range itself);
    * ``selectors``: ``any`` (0.0.0.0/0 on both sides, narrowed to what the customer proposes) or
      ``narrow`` (the tunnel inside /32 + the DICOMweb range only);
    * ``proposals``: ``aws`` (AWS's default proposal sets) or ``wide`` (adds curve25519);
    * ``dpd_delay``: seconds of silence before a DPD probe (AWS: 10 s, tunnel declared dead after 30 s);
    * ``initiate``: ``no`` (AWS waits for the customer gateway) or ``yes``;
    * ``azure_policy`` (``--cloud azure``): ``custom`` (the connection's custom IPsec/IKE policy, written into
      azure-vpn-connection.json) or ``default`` (no policy: Azure's default sets, DH group 2 in main mode).
    """

    advertise: str = "vpc"
    selectors: str = "any"
    proposals: str = "aws"
    dpd_delay: int = 10
    initiate: str = "no"
    azure_policy: str = "custom"

    @classmethod
    def from_env(cls, env: Any = None) -> CloudProfile:
        env = os.environ if env is None else env
        base = cls()
        values = {f: env.get(f"STOWPATH_LAB_CLOUD_{f.upper()}", getattr(base, f)) for f in base.__dataclass_fields__}
        values["dpd_delay"] = int(values["dpd_delay"])
        profile = cls(**values)
        for field, allowed in (("advertise", ("vpc", "exact")), ("selectors", ("any", "narrow")),
                               ("proposals", ("aws", "wide")), ("initiate", ("no", "yes")),
                               ("azure_policy", ("custom", "default"))):
            if getattr(profile, field) not in allowed:
                raise ValueError(f"STOWPATH_LAB_CLOUD_{field.upper()}={getattr(profile, field)!r}: use one of {allowed}")
        return profile

    @property
    def advertised(self) -> str:
        return VPC_CIDR if self.advertise == "vpc" else CLOUD_CIDR
# private directories of a device, bind-mounted by its boot script (/run last: it hides the device tree)
BIND_MOUNTS = (("etc-ssh", "/etc/ssh"), ("etc-swanctl", "/etc/swanctl"), ("etc-frr", "/etc/frr"),
               ("var-lib-stowpath", "/var/lib/stowpath"), ("run", "/run"))


@functools.cache
def _environment() -> Any:
    import jinja2  # imported on first render: `down` and `status` need no Jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                              autoescape=False)


def render(name: str, **context: Any) -> str:
    """Render ``lab/templates/<name>`` with ``context``."""
    return _environment().get_template(name).render(**context)


# ---- every device
def strongswan_conf() -> str:
    have = {p.name[len("libstrongswan-"):-3] for p in CHARON_PLUGIN_DIR.glob("libstrongswan-*.so")}
    return render("device/strongswan.conf.j2", plugins=[p for p in CHARON_PLUGINS.split() if p in have])


def sshd_config(mgmt: str) -> str:
    return render("device/sshd_config.j2", mgmt=mgmt)


def hosts_file(hostname: str) -> str:
    return render("device/hosts.j2", hostname=hostname, cloud_host=CLOUD_HOST, dicomweb_host=DICOMWEB_HOST)


def frr_daemons() -> str:
    return render("device/daemons.j2")


def vtysh_conf() -> str:
    return render("device/vtysh.conf.j2")


def empty_frr_conf(hostname: str) -> str:
    return render("device/frr.conf.j2", hostname=hostname)


def empty_swanctl() -> str:
    return render("device/swanctl.conf.j2")


def empty_nft() -> str:
    return render("device/nftables.conf.j2")


def boot_script(dev: Device, params: dict[str, Any] | None) -> str:
    """Runs inside ``ip netns exec NS unshare -m --propagation private --uts``; ends as the holder."""
    cloud_edge = dev.name == "aws" and params is not None
    return render("device/boot.sh.j2", dev=dev, dir=str(dev.dir), binds=BIND_MOUNTS, cloud_edge=cloud_edge,
                  dx_customer=dx_customer_ip(params) if cloud_edge and params else "", dx_vlan=DX_VLAN)


# ---- the cloud edge (device ``aws``)
def cloud_swanctl(params: dict[str, Any], profile: CloudProfile | None = None) -> str:
    profile = profile or CloudProfile.from_env()
    cloud = cloud_of(params)
    return render("cloud/swanctl.conf.j2", sites=vpn_sites(params), cloud_cidr=CLOUD_CIDR, profile=profile,
                  cloud=cloud, crypto=cloud_crypto(cloud, profile))


def cloud_frr(params: dict[str, Any], dx_key: str | None = None, profile: CloudProfile | None = None) -> str:
    """The cloud edge's FRR: the VPN side speaks with the cloud's ASN; the DX router stays AWS Direct Connect
    (ASN 64512) in every mode: outside AWS mode its neighbor gets ``local-as 64512 no-prepend replace-as``."""
    profile = profile or CloudProfile.from_env()
    dx = params["dx"]
    cloud = cloud_of(params)
    asn = cloud_asn_of(params)
    return render("cloud/frr.conf.j2", sites=vpn_sites(params), dx=dx, dx_customer=dx_customer_ip(params),
                  dx_key=dx_key or dx["auth_key"], cloud_asn=asn, router_id=VPN_ENDPOINTS[0],
                  cloud_cidr=profile.advertised, crypto=cloud_crypto(cloud, profile),
                  dx_local_as=CLOUD_ASN if asn != CLOUD_ASN else None)


def cloud_nft(params: dict[str, Any]) -> str:
    bgp_peers = [t["customer_inside"] for p in [params["vpn"], *params["fleet"].values()] for t in p["tunnels"]]
    bgp_peers.append(dx_customer_ip(params))
    return render("cloud/nftables.conf.j2", bgp_peers=bgp_peers, dx_vlan=DX_VLAN, facility_lan=FACILITY_LAN,
                  fleet_lan=FLEET_LAN, cloud_cidr=CLOUD_CIDR)
