#!/usr/bin/env python3
"""stowpath network lab: a facility and a cloud in network namespaces (see lab/README.md).

    lab.py up [--fleet N]     build the lab (idempotent: a healthy lab is left alone)
    lab.py down               kill every lab process by PID, delete namespaces and files (twice is fine)
    lab.py status [--json]    health of namespaces/processes + tunnel/BGP summary; exit 1 if unhealthy
    lab.py cloud-break vpn|dx / cloud-repair   make the cloud side refuse the facility (rollback tests)
    lab.py exec DEVICE -- CMD run CMD inside a lab device (its network, mount and UTS namespaces)

Only the Python standard library and iproute2/util-linux/strongSwan/FRR/nftables/OpenSSH binaries.
Every address is a documentation range (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) or
link-local (169.254.0.0/16); nothing leaves the machine. State lives in /run/stowpath-lab (global,
so a lab left by another checkout is found and cleaned).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import ipaddress
import json
import os
import random
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("STOWPATH_LAB_STATE", "/run/stowpath-lab"))
LOCK = Path(str(STATE) + ".lock")
INVENTORY = REPO / "inventories" / "lab"
FILES = INVENTORY / "files"
SSH_KEY = STATE / "ssh" / "id_ed25519"
PREFIX = "sp-"

# ---- topology constants (inventories/lab/ repeats them; tests/lab checks they agree) ----
MGMT_NET = ipaddress.ip_network("169.254.250.0/24")
MGMT_ROOT = "169.254.250.1"
MGMT_ROOT_IF = "sp-mgmt"
MGMT_PACS = "169.254.250.12"
FACILITY_LAN = "203.0.113.0/26"
CLOUD_CIDR = "203.0.113.128/26"
CLOUD_HOST = "203.0.113.140"
CLOUD_EDGE_VPC = "203.0.113.129"
DICOMWEB_HOST = "dicom.lab.example"
WAN_GW = "198.51.100.1"
CLOUD_NET_GW = "192.0.2.1"
VPN_ENDPOINTS = ("192.0.2.61", "192.0.2.188")
CLOUD_ASN = 64512
FACILITY_ASN = 65020
DX_VLAN = 412
FLEET_LAN = "203.0.113.64/26"
MAX_FLEET = 99

# AWS refuses these inside CIDRs; the rest avoid our own link-local uses.
RESERVED_INSIDE = [ipaddress.ip_network(n) for n in (
    "169.254.0.0/30", "169.254.1.0/30", "169.254.2.0/30", "169.254.3.0/30", "169.254.4.0/30",
    "169.254.5.0/30", "169.254.169.252/30", "169.254.169.0/24", "169.254.250.0/24")]
PSK_ALPHABET = string.ascii_letters + string.digits + "._"

# strongSwan: userspace ESP (kernel-libipsec) before kernel-netlink, explicit plugin list.
CHARON_PLUGINS = ("random nonce aes sha1 sha2 md5 hmac gmp curve25519 kdf xcbc cmac ctr ccm "
                  "chapoly pem pkcs1 pkcs8 x509 pubkey revocation constraints openssl gcm "
                  "kernel-libipsec kernel-netlink socket-default vici updown")
# what the cloud (like AWS) accepts: IKEv2/IKEv1, AES-CBC/GCM, SHA1/2, DH 2, 5, 14-24 where built
CLOUD_IKE = ("aes256-aes128-sha256-sha384-sha512-sha1-modp2048-modp3072-modp4096-ecp256-ecp384-"
             "modp1536-modp1024-curve25519,aes256gcm16-aes128gcm16-prfsha256-prfsha384-prfsha1-"
             "modp2048-modp3072-modp4096-ecp256-ecp384-modp1024-curve25519")
CLOUD_ESP = ("aes256-aes128-sha256-sha384-sha512-sha1-modp2048-modp3072-modp4096-ecp256-ecp384-"
             "modp1536-modp1024-curve25519,aes256gcm16-aes128gcm16-modp2048-modp3072-modp4096-"
             "ecp256-ecp384-modp1024-curve25519")


class LabError(RuntimeError):
    """The lab could not be built or torn down; the message says why."""


# ---------------------------------------------------------------- small helpers
def log(msg: str) -> None:
    print(f"lab: {msg}", flush=True)


def run(cmd: list[str], check: bool = True, input_text: str | None = None,
        timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, input=input_text, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(cmd)} -> {proc.returncode}: {(proc.stderr or proc.stdout).strip()}")
    return proc


def ip_batch(lines: list[str], netns: str | None = None) -> None:
    if not lines:
        return
    cmd = ["ip"] + (["-n", netns] if netns else []) + ["-batch", "-"]
    run(cmd, input_text="\n".join(lines) + "\n")


def write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


@contextlib.contextmanager
def locked() -> Iterator[None]:
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def netns_list() -> list[str]:
    out = run(["ip", "netns", "list"], check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def netns_inode(ns: str) -> int | None:
    try:
        return os.stat(f"/run/netns/{ns}").st_ino
    except OSError:
        return None


def pid_netns_inode(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


# ---------------------------------------------------------------- the lab's shape
@dataclass
class Device:
    """One namespace. ``managed`` devices get sshd (Ansible target); ``charon``/``frr`` daemons."""

    name: str
    mgmt: str | None = None
    charon: bool = False
    frr: bool = False
    managed: bool = False
    # interfaces: name -> list of CIDR addresses (empty = link only)
    addrs: dict[str, list[str]] = field(default_factory=dict)
    default_gw: str | None = None
    forward: bool = False

    @property
    def ns(self) -> str:
        return PREFIX + self.name

    @property
    def dir(self) -> Path:
        return STATE / "dev" / self.name

    @property
    def has_mountns(self) -> bool:
        return self.managed or self.charon or self.frr


def fleet_name(i: int) -> str:
    return f"fgw-{i:02d}"


def devices(fleet: int) -> list[Device]:
    devs = [
        Device("pacs", mgmt=MGMT_PACS, managed=True,
               addrs={"eth0": ["203.0.113.10/26"]}, default_gw="203.0.113.1"),
        Device("cgw", mgmt="169.254.250.10", charon=True, frr=True, managed=True, forward=True,
               addrs={"eth0": ["198.51.100.24/24"], "eth1": ["203.0.113.1/26"]}, default_gw=WAN_GW),
        Device("cgwdx", mgmt="169.254.250.11", charon=True, frr=True, managed=True, forward=True,
               addrs={"eth0": ["198.51.100.25/24"], "eth1": ["203.0.113.2/26"], "eth2": [],
                      f"eth2.{DX_VLAN}": []}, default_gw=WAN_GW),
        Device("inet", forward=True),
        Device("aws", charon=True, frr=True, forward=True,
               addrs={"eth0": [f"{a}/24" for a in VPN_ENDPOINTS], "eth1": [f"{CLOUD_EDGE_VPC}/26"],
                      "dxport": [], f"vif{DX_VLAN}": []}, default_gw=CLOUD_NET_GW),
        Device("cloud", addrs={"eth0": [f"{CLOUD_HOST}/26"]}, default_gw=CLOUD_EDGE_VPC),
        Device("sw"),
    ]
    for i in range(1, fleet + 1):
        devs.append(Device(fleet_name(i), mgmt=f"169.254.250.{100 + i}", charon=True, frr=True,
                           managed=True, forward=True,
                           addrs={"eth0": [f"198.51.100.{100 + i}/24"], "eth1": ["203.0.113.65/26"]},
                           default_gw=WAN_GW))
    return devs


# ---------------------------------------------------------------- vendor parameters
def random_psk(rng: random.SystemRandom) -> str:
    first = rng.choice([c for c in PSK_ALPHABET if c != "0"])
    return first + "".join(rng.choice(PSK_ALPHABET) for _ in range(31))


def random_inside(rng: random.SystemRandom, taken: list[ipaddress.IPv4Network]) -> ipaddress.IPv4Network:
    while True:
        net = ipaddress.ip_network(f"169.254.{rng.randrange(256)}.{rng.randrange(64) * 4}/30")
        if not any(net.overlaps(r) for r in RESERVED_INSIDE + taken):
            taken.append(net)
            return net


def random_id(rng: random.SystemRandom, prefix: str, n: int = 17, alphabet: str = "0123456789abcdef") -> str:
    return prefix + "".join(rng.choice(alphabet) for _ in range(n))


def make_params(fleet: int) -> dict[str, Any]:
    """Fresh vendor-side parameters: what the cloud configures and hands to the customer."""
    rng = random.SystemRandom()
    taken: list[ipaddress.IPv4Network] = []

    def vpn(cgw_ip: str, base_reqid: int) -> dict[str, Any]:
        tunnels = []
        for idx, remote in enumerate(VPN_ENDPOINTS, start=1):
            net = random_inside(rng, taken)
            tunnels.append({
                "name": f"tun{idx}", "reqid": base_reqid + idx, "cloud_outside": remote,
                "customer_outside": cgw_ip, "inside_cidr": str(net),
                "cloud_inside": str(net.network_address + 1),
                "customer_inside": str(net.network_address + 2), "psk": random_psk(rng)})
        return {"vpn_connection_id": random_id(rng, "vpn-"), "customer_gateway_id": random_id(rng, "cgw-"),
                "vpn_gateway_id": random_id(rng, "vgw-"), "customer_outside": cgw_ip,
                "customer_asn": FACILITY_ASN, "tunnels": tunnels}

    dxnet = random_inside(rng, taken)
    alnum = string.ascii_lowercase + string.digits
    params: dict[str, Any] = {
        "vpn": vpn("198.51.100.24", 0),
        "dx": {
            "vif_id": random_id(rng, "dxvif-", 8, alnum), "connection_id": random_id(rng, "dxcon-", 8, alnum),
            "peer_id": random_id(rng, "dxpeer-", 8, alnum), "vlan": DX_VLAN, "customer_asn": FACILITY_ASN,
            "cidr": str(dxnet), "amazon_address": f"{dxnet.network_address + 1}/30",
            "customer_address": f"{dxnet.network_address + 2}/30",
            "auth_key": "".join(rng.choice(PSK_ALPHABET) for _ in range(24)),
            "dxgw_id": f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}-"
                       f"{secrets.token_hex(2)}-{secrets.token_hex(6)}"},
        "fleet": {fleet_name(i): vpn(f"198.51.100.{100 + i}", 100 + 2 * i) for i in range(1, fleet + 1)},
    }
    return params


def aws_vpn_xml(p: dict[str, Any]) -> str:
    """The AWS Site-to-Site VPN "Generic" configuration, same structure as vpn-bgp-sample.xml."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>',
             f'<vpn_connection id="{p["vpn_connection_id"]}">',
             f'  <customer_gateway_id>{p["customer_gateway_id"]}</customer_gateway_id>',
             f'  <vpn_gateway_id>{p["vpn_gateway_id"]}</vpn_gateway_id>',
             '  <vpn_connection_type>ipsec.1</vpn_connection_type>']
    for t in p["tunnels"]:
        def side(tag: str, outside: str, inside: str, asn: int) -> list[str]:
            return [f"    <{tag}>",
                    "      <tunnel_outside_address>", f"        <ip_address>{outside}</ip_address>",
                    "      </tunnel_outside_address>",
                    "      <tunnel_inside_address>", f"        <ip_address>{inside}</ip_address>",
                    "        <network_mask>255.255.255.252</network_mask>",
                    "        <network_cidr>30</network_cidr>", "      </tunnel_inside_address>",
                    "      <bgp>", f"        <asn>{asn}</asn>", "        <hold_time>30</hold_time>",
                    "      </bgp>", f"    </{tag}>"]
        parts += ["  <ipsec_tunnel>"]
        parts += side("customer_gateway", t["customer_outside"], t["customer_inside"], p["customer_asn"])
        parts += side("vpn_gateway", t["cloud_outside"], t["cloud_inside"], CLOUD_ASN)
        parts += ["    <ike>", "      <authentication_protocol>sha1</authentication_protocol>",
                  "      <encryption_protocol>aes-128-cbc</encryption_protocol>",
                  "      <lifetime>28800</lifetime>",
                  "      <perfect_forward_secrecy>group2</perfect_forward_secrecy>",
                  "      <mode>main</mode>", f"      <pre_shared_key>{t['psk']}</pre_shared_key>",
                  "    </ike>", "    <ipsec>", "      <protocol>esp</protocol>",
                  "      <authentication_protocol>hmac-sha1-96</authentication_protocol>",
                  "      <encryption_protocol>aes-128-cbc</encryption_protocol>",
                  "      <lifetime>3600</lifetime>",
                  "      <perfect_forward_secrecy>group2</perfect_forward_secrecy>",
                  "      <mode>tunnel</mode>", "      <clear_df_bit>true</clear_df_bit>",
                  "      <fragmentation_before_encryption>true</fragmentation_before_encryption>",
                  "      <tcp_mss_adjustment>1379</tcp_mss_adjustment>",
                  "      <dead_peer_detection>", "        <interval>10</interval>",
                  "        <retries>3</retries>", "      </dead_peer_detection>", "    </ipsec>",
                  "  </ipsec_tunnel>"]
    parts.append("</vpn_connection>")
    return "\n".join(parts) + "\n"


def aws_dx_json(d: dict[str, Any]) -> str:
    """``aws directconnect describe-virtual-interfaces`` output, same structure as dx-vif-sample.json."""
    peer = {"bgpPeerId": d["peer_id"], "asn": d["customer_asn"], "authKey": d["auth_key"],
            "addressFamily": "ipv4", "amazonAddress": d["amazon_address"],
            "customerAddress": d["customer_address"], "bgpPeerState": "available", "bgpStatus": "down",
            "awsDeviceV2": "EqDC2-2k8yq3tz1v5c", "awsLogicalDeviceId": "EqDC2-3ab7c9d1e2f4g"}
    vif = {"ownerAccount": "111122223333", "virtualInterfaceId": d["vif_id"], "location": "EqDC2",
           "connectionId": d["connection_id"], "virtualInterfaceType": "private",
           "virtualInterfaceName": "lab-facility-dx", "vlan": d["vlan"], "asn": d["customer_asn"],
           "amazonSideAsn": CLOUD_ASN, "authKey": d["auth_key"], "amazonAddress": d["amazon_address"],
           "customerAddress": d["customer_address"], "addressFamily": "ipv4",
           "virtualInterfaceState": "available", "customerRouterConfig": "", "mtu": 1500,
           "jumboFrameCapable": True, "virtualGatewayId": "", "directConnectGatewayId": d["dxgw_id"],
           "routeFilterPrefixes": [], "bgpPeers": [peer], "region": "us-east-1",
           "awsDeviceV2": "EqDC2-2k8yq3tz1v5c", "awsLogicalDeviceId": "EqDC2-3ab7c9d1e2f4g",
           "tags": [{"key": "facility", "value": "lab-facility"}]}
    return json.dumps({"virtualInterfaces": [vif]}, indent=2) + "\n"


# ---------------------------------------------------------------- device configuration files
def strongswan_conf() -> str:
    have = {p.name[len("libstrongswan-"):-3] for p in Path("/usr/lib/ipsec/plugins").glob("libstrongswan-*.so")}
    plugins = " ".join(p for p in CHARON_PLUGINS.split() if p in have)
    return f"""# strongswan.conf of a stowpath lab device (userspace ESP: kernel-libipsec, see lab/README.md)
charon {{
  load_modular = no
  load = {plugins}
  install_routes = no
  retransmit_base = 1.4
  retransmit_tries = 3
  retransmit_timeout = 2.0
  filelog {{
    charon {{
      path = /run/charon.log
      default = 1
      flush_line = yes
      time_format = %b %e %T
    }}
  }}
  syslog {{
    daemon {{
      default = -1
    }}
  }}
  plugins {{
    kernel-libipsec {{
      mtu = 1400
    }}
  }}
}}
"""


def sshd_config(mgmt: str) -> str:
    return f"""# sshd of a stowpath lab device (management interface only)
ListenAddress {mgmt}
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
AuthorizedKeysFile /etc/ssh/authorized_keys
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PrintMotd no
AcceptEnv LANG LC_*
MaxStartups 100:30:200
MaxSessions 50
LogLevel ERROR
Subsystem sftp /usr/lib/openssh/sftp-server
"""


def empty_frr_conf(hostname: str) -> str:
    return f"frr defaults traditional\nhostname {hostname}\nservice integrated-vtysh-config\n!\n"


FRR_DAEMONS = """# FRR daemons of a stowpath lab device (started by the lab's boot script)
zebra=yes
bgpd=yes
staticd=yes
ospfd=no
ospf6d=no
ripd=no
ripngd=no
isisd=no
pimd=no
ldpd=no
nhrpd=no
eigrpd=no
babeld=no
sharpd=no
pbrd=no
bfdd=no
fabricd=no
vrrpd=no
pathd=no
vtysh_enable=yes
zebra_options="  -A 127.0.0.1 -s 90000000"
bgpd_options="   -A 127.0.0.1"
staticd_options="-A 127.0.0.1"
"""

EMPTY_SWANCTL = """# swanctl.conf of a stowpath lab device: empty until the gateway is onboarded
include conf.d/*.conf
"""

EMPTY_NFT = "#!/usr/sbin/nft -f\n# nftables.conf of a stowpath lab device: empty until the gateway is onboarded\nflush ruleset\n"


def cloud_swanctl(params: dict[str, Any]) -> str:
    conns, secs = [], []
    sites = [("cgw", params["vpn"])] + sorted(params["fleet"].items())
    for site, p in sites:
        for t in p["tunnels"]:
            name = f"{site}-{t['name']}"
            conns.append(f"""  {name} {{
    version = 0
    local_addrs = {t['cloud_outside']}
    remote_addrs = {t['customer_outside']}
    encap = yes
    proposals = {CLOUD_IKE}
    rekey_time = 28800s
    dpd_delay = 10s
    local {{
      auth = psk
      id = {t['cloud_outside']}
    }}
    remote {{
      auth = psk
      id = {t['customer_outside']}
    }}
    children {{
      {name} {{
        local_ts = {t['cloud_inside']}/32, {CLOUD_CIDR}
        remote_ts = 0.0.0.0/0
        esp_proposals = {CLOUD_ESP}
        reqid = {t['reqid']}
        rekey_time = 3600s
        dpd_action = clear
        start_action = none
      }}
    }}
  }}""")
            secs.append(f"""  ike-{name} {{
    id-cloud = {t['cloud_outside']}
    id-customer = {t['customer_outside']}
    secret = "{t['psk']}"
  }}""")
    return ("# the cloud's VPN endpoints (AWS side), generated by lab.py\nconnections {\n"
            + "\n".join(conns) + "\n}\nsecrets {\n" + "\n".join(secs) + "\n}\n")


def cloud_frr(params: dict[str, Any], dx_key: str | None = None) -> str:
    dx = params["dx"]
    sites = [params["vpn"]] + [params["fleet"][k] for k in sorted(params["fleet"])]
    addrs = [f" ip address {t['cloud_inside']}/30" for p in sites for t in p["tunnels"]]
    nbrs, af = [], []
    for site, p in [("cgw", params["vpn"])] + sorted(params["fleet"].items()):
        for t in p["tunnels"]:
            n = t["customer_inside"]
            nbrs += [f" neighbor {n} remote-as {p['customer_asn']}",
                     f" neighbor {n} description {site}-{t['name']}", f" neighbor {n} timers 10 30",
                     f" neighbor {n} timers connect 5"]
            af += [f"  neighbor {n} maximum-prefix 100"]
    dxn = dx["customer_address"].split("/")[0]
    nbrs += [f" neighbor {dxn} remote-as {dx['customer_asn']}", f" neighbor {dxn} description dx-{dx['vif_id']}",
             f" neighbor {dxn} password {dx_key or dx['auth_key']}", f" neighbor {dxn} timers 30 90",
             f" neighbor {dxn} timers connect 5"]
    af += [f"  neighbor {dxn} route-map DX-IN in", f"  neighbor {dxn} maximum-prefix 100"]
    return "\n".join([
        "frr defaults traditional", "hostname aws", "service integrated-vtysh-config", "!",
        "interface ipsec0", *addrs, "exit", "!",
        "! AWS prefers Direct Connect over VPN for the same prefix",
        "route-map DX-IN permit 10", " set local-preference 200", "exit", "!",
        f"router bgp {CLOUD_ASN}", f" bgp router-id {VPN_ENDPOINTS[0]}", " no bgp ebgp-requires-policy",
        *nbrs, " !", " address-family ipv4 unicast", f"  network {CLOUD_CIDR}", *af,
        " exit-address-family", "exit", "!", ""])


def cloud_nft(params: dict[str, Any]) -> str:
    dx = params["dx"]
    bgp_peers = [t["customer_inside"] for p in [params["vpn"], *params["fleet"].values()] for t in p["tunnels"]]
    bgp_peers.append(dx["customer_address"].split("/")[0])
    return f"""#!/usr/sbin/nft -f
# the cloud edge (VPN endpoints + DX router + VPC router), generated by lab.py
flush ruleset
table inet aws_edge {{
  # replies leave on the path their connection arrived on (lab simplification, see lab/README.md)
  chain prerouting {{
    type filter hook prerouting priority mangle; policy accept;
    ct state new iifname "ipsec0" ct mark set 0x1
    ct state new iifname "vif{DX_VLAN}" ct mark set 0x2
    iifname "eth1" ct direction reply meta mark set ct mark
  }}
  chain output {{
    type route hook output priority mangle; policy accept;
    ct direction reply meta mark set ct mark
  }}
  chain input {{
    type filter hook input priority filter; policy drop;
    iif "lo" accept
    ct state established,related accept
    udp dport {{ 500, 4500 }} accept
    ip saddr {{ {", ".join(bgp_peers)} }} tcp dport 179 accept
    ip saddr {{ 169.254.0.0/16, {FACILITY_LAN} }} icmp type echo-request accept
    counter
  }}
  # the VPC's firewall: from the facility only TCP 443 and ICMP to the cloud CIDR
  chain forward {{
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "eth1" accept
    ip saddr {{ {FACILITY_LAN}, {FLEET_LAN} }} ip daddr {CLOUD_CIDR} tcp dport 443 accept
    ip saddr {{ {FACILITY_LAN}, {FLEET_LAN} }} ip daddr {CLOUD_CIDR} icmp type echo-request accept
    counter
  }}
}}
"""


def boot_script(dev: Device, params: dict[str, Any] | None) -> str:
    """Runs inside ``ip netns exec NS unshare -m --propagation private --uts``; ends as the holder."""
    d = dev.dir
    lines = ["#!/bin/sh", "# generated by lab/lab.py: boot of one lab device", "set -eu", f"D='{d}'"]
    # /etc: an overlay, so the device's own files (strongswan.conf, nftables.conf, hosts, hostname) can
    # be replaced by rename like on any Linux box (a file bind mount would answer EBUSY); private
    # directories on top for ssh (own host key), swanctl and frr; /run last: it hides $D
    lines.append('mount -t overlay overlay -o "lowerdir=/etc,upperdir=$D/etc-upper,workdir=$D/etc-work" /etc')
    binds = [("etc-ssh", "/etc/ssh"), ("etc-swanctl", "/etc/swanctl"), ("etc-frr", "/etc/frr"),
             ("var-lib-stowpath", "/var/lib/stowpath"), ("run", "/run")]
    # /root and /tmp stay the host's: the project's virtualenv (the PACS host's Python in the lab) lives in
    # the checkout, which may be under /tmp (a CI clone), and may point at an interpreter under /root (pyenv)
    lines += [f'mount --bind "$D/{src}" {dst}' for src, dst in binds]
    lines += [f"hostname {dev.name}", "mkdir -p /run/sshd /run/frr /run/lock", "chown frr:frr /run/frr",
              "chmod 755 /run/frr"]
    if dev.managed:
        lines.append("/usr/sbin/sshd -f /etc/ssh/sshd_config")
    if dev.charon:
        lines += ["( setsid /usr/lib/ipsec/charon >/dev/null 2>&1 & )",
                  "i=0; while [ ! -S /run/charon.vici ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done",
                  "[ -S /run/charon.vici ] || { echo 'charon did not start'; exit 1; }",
                  "# kernel-libipsec installs routes in table 220: drop its rule, zebra routes over ipsec0",
                  "while ip rule show pref 220 | grep -q .; do ip rule del pref 220; done"]
    if dev.frr:
        for daemon in ("zebra", "staticd", "bgpd"):
            extra = " -s 90000000" if daemon == "zebra" else ""
            lines.append(f"/usr/lib/frr/{daemon} -d -F traditional -A 127.0.0.1 -P 0{extra} "
                         f"-i /run/frr/{daemon}.pid")
        lines += ["i=0; while [ ! -S /run/frr/bgpd.vty ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done",
                  "vtysh -b >/run/frr/vtysh-boot.log 2>&1"]
    if dev.name == "aws" and params is not None:
        lines += ["swanctl --load-all >/run/swanctl-load.log 2>&1",
                  "nft -f /etc/nftables.conf",
                  "ip rule add fwmark 0x1 table 101 pref 100",
                  "ip rule add fwmark 0x2 table 102 pref 101",
                  "ip route add default dev ipsec0 table 101",
                  f"ip route add default via {params['dx']['customer_address'].split('/')[0]} "
                  f"dev vif{DX_VLAN} onlink table 102"]
    lines += ["touch /run/lab-ready", "exec sleep infinity"]
    return "\n".join(lines) + "\n"


def prepare_device_tree(dev: Device, params: dict[str, Any], pubkey: str) -> None:
    d = dev.dir
    for sub in ("run", "etc-ssh", "etc-swanctl", "etc-frr", "etc-upper/nftables.d", "etc-work",
                "var-lib-stowpath"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    # mount point of each device's private /var/lib/stowpath (stowpath's push state); /etc/nftables.d
    # is private through the /etc overlay
    Path("/var/lib/stowpath").mkdir(exist_ok=True)
    for sub in ("conf.d", "x509", "x509ca", "x509aa", "x509ac", "x509crl", "x509ocsp", "private", "rsa",
                "ecdsa", "bliss", "pkcs8", "pkcs12", "pubkey"):
        (d / "etc-swanctl" / sub).mkdir(exist_ok=True)
    os.chmod(d / "etc-swanctl" / "private", 0o700)
    hosts = f"127.0.0.1\tlocalhost\n127.0.1.1\t{dev.name}\n{CLOUD_HOST}\t{DICOMWEB_HOST}\n"
    etc = d / "etc-upper"
    write(etc / "hosts", hosts)
    write(etc / "hostname", dev.name + "\n")
    write(etc / "strongswan.conf", strongswan_conf())
    if dev.name == "aws":
        write(d / "etc-swanctl" / "swanctl.conf", cloud_swanctl(params), 0o600)
        write(d / "etc-frr" / "frr.conf", cloud_frr(params), 0o640)
        write(etc / "nftables.conf", cloud_nft(params), 0o600)
    else:
        write(d / "etc-swanctl" / "swanctl.conf", EMPTY_SWANCTL, 0o600)
        write(d / "etc-frr" / "frr.conf", empty_frr_conf(dev.name), 0o640)
        write(etc / "nftables.conf", EMPTY_NFT, 0o755)
    write(d / "etc-frr" / "vtysh.conf", "service integrated-vtysh-config\n", 0o640)
    write(d / "etc-frr" / "daemons", FRR_DAEMONS, 0o640)
    for f in ("frr.conf", "vtysh.conf", "daemons"):
        shutil.chown(d / "etc-frr" / f, "frr", "frr")
    shutil.chown(d / "etc-frr", "frr", "frr")
    os.chmod(d / "etc-frr", 0o755)
    if dev.managed and dev.mgmt:
        write(d / "etc-ssh" / "sshd_config", sshd_config(dev.mgmt))
        write(d / "etc-ssh" / "authorized_keys", pubkey, 0o600)
        key = d / "etc-ssh" / "ssh_host_ed25519_key"
        if not key.exists():
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{dev.name}-host", "-f", str(key)])
    write(d / "boot.sh", boot_script(dev, params), 0o755)


# ---------------------------------------------------------------- building the network
def build_network(devs: list[Device], params: dict[str, Any]) -> None:
    names = {d.name for d in devs}
    for d in devs:
        run(["ip", "netns", "add", d.ns])
    root: list[str] = []

    def veth(a_ns: str | None, a_if: str, b_ns: str, b_if: str) -> None:
        left = f"link add {a_if}" + (f" netns {a_ns}" if a_ns else "")
        root.append(f"{left} type veth peer name {b_if} netns {b_ns}")

    sw, inet = PREFIX + "sw", PREFIX + "inet"
    veth(None, MGMT_ROOT_IF, sw, "root")
    for d in devs:
        if d.mgmt:
            veth(d.ns, "mgmt0", sw, f"m-{d.name}")
        if d.name in ("pacs", "cgw", "cgwdx"):
            lan_if = "eth0" if d.name == "pacs" else "eth1"
            veth(d.ns, lan_if, sw, f"l-{d.name}")
        if d.name in ("cgw", "cgwdx") or d.name.startswith("fgw-"):
            veth(d.ns, "eth0", inet, f"w-{d.name}")
        if d.name.startswith("fgw-"):
            veth(d.ns, "eth1", d.ns, "lanpeer")
    veth(PREFIX + "aws", "eth0", inet, "c-aws")
    veth(PREFIX + "aws", "eth1", sw, "v-aws")
    veth(PREFIX + "cloud", "eth0", sw, "v-cloud")
    veth(PREFIX + "cgwdx", "eth2", PREFIX + "aws", "dxport")
    veth(PREFIX + "cgwdx", f"eth2.{DX_VLAN}", PREFIX + "aws", f"vif{DX_VLAN}")
    ip_batch(root)
    ip_batch([f"addr add {MGMT_ROOT}/24 dev {MGMT_ROOT_IF}", f"link set {MGMT_ROOT_IF} up"])

    # switch: L2 bridges for management, facility LAN and cloud VPC
    sw_lines = ["link set lo up"]
    for br in ("br-mgmt", "br-lan", "br-vpc"):
        sw_lines += [f"link add {br} type bridge", f"link set {br} up"]
    ports = {"root": "br-mgmt"}
    for d in devs:
        if d.mgmt:
            ports[f"m-{d.name}"] = "br-mgmt"
        if d.name in ("pacs", "cgw", "cgwdx"):
            ports[f"l-{d.name}"] = "br-lan"
    ports.update({"v-aws": "br-vpc", "v-cloud": "br-vpc"})
    for port, br in ports.items():
        sw_lines += [f"link set {port} master {br}", f"link set {port} up"]
    ip_batch(sw_lines, sw)

    inet_lines = ["link set lo up", "link add br-wan type bridge", "link set br-wan up",
                  f"addr add {WAN_GW}/24 dev br-wan", "link add br-cloud type bridge", "link set br-cloud up",
                  f"addr add {CLOUD_NET_GW}/24 dev br-cloud", "link set c-aws master br-cloud", "link set c-aws up"]
    for d in devs:
        if d.name in ("cgw", "cgwdx") or d.name.startswith("fgw-"):
            inet_lines += [f"link set w-{d.name} master br-wan", f"link set w-{d.name} up"]
    ip_batch(inet_lines, inet)

    for d in devs:
        if d.name in ("sw", "inet"):
            continue
        lines = ["link set lo up"]
        if d.mgmt:
            lines += [f"addr add {d.mgmt}/24 dev mgmt0", "link set mgmt0 up"]
        for ifname, addrs in d.addrs.items():
            lines += [f"addr add {a} dev {ifname}" for a in addrs] + [f"link set {ifname} up"]
        if d.name.startswith("fgw-"):
            lines.append("link set lanpeer up")
        if d.name == "aws":  # the DX router's end of the VIF (AWS side address from the vendor file)
            lines.append(f"addr add {params['dx']['amazon_address']} dev vif{DX_VLAN}")
        if d.default_gw:
            lines.append(f"route add default via {d.default_gw}")
        ip_batch(lines, d.ns)
    assert names  # every device got its namespace

    for d in devs:
        sysctl = ["net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
                  "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1",
                  f"net.ipv4.ip_forward={1 if d.forward else 0}"]
        if d.name == "aws":  # ICMP errors (traceroute hops) from the tunnel inside address they came in on
            sysctl.append("net.ipv4.icmp_errors_use_inbound_ifaddr=1")
        run(["ip", "netns", "exec", d.ns, "sysctl", "-q", "-w", *sysctl])


def start_devices(devs: list[Device], timeout: float = 30.0) -> None:
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for d in devs:
        if not d.has_mountns:
            continue
        logf = open(d.dir / "boot.log", "wb")  # noqa: SIM115 (handed to the child)
        procs[d.name] = subprocess.Popen(
            ["ip", "netns", "exec", d.ns, "unshare", "-m", "--propagation", "private", "--uts",
             "/bin/sh", str(d.dir / "boot.sh")],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        logf.close()
        write(d.dir / "holder.pid", f"{procs[d.name].pid}\n")
    deadline = time.monotonic() + timeout
    pending = set(procs)
    while pending and time.monotonic() < deadline:
        for name in list(pending):
            dev = next(d for d in devs if d.name == name)
            if (dev.dir / "run" / "lab-ready").exists():
                pending.discard(name)
            elif procs[name].poll() is not None:
                tail = (dev.dir / "boot.log").read_text(errors="replace")[-800:]
                raise LabError(f"device {name} failed to boot (exit {procs[name].returncode}):\n{tail}")
        time.sleep(0.05)
    if pending:
        raise LabError(f"devices not ready after {timeout:.0f}s: {sorted(pending)}")


def start_cloud_service(params: dict[str, Any]) -> dict[str, Any]:
    """The cloud VPC host's TCP 443 service (dicom.lab.example on 203.0.113.140).

    The real one is lab/services/cloud_dicomweb.py (Orthanc + DICOMweb behind nginx, mTLS with a
    lab PKI in /run/stowpath-lab/pki); when it is absent, fails, or ``STOWPATH_LAB_CLOUD=placeholder``,
    lab/cloud_listener.py (a tiny HTTPS placeholder) answers instead.
    """
    cloud_dir = STATE / "dev" / "cloud"
    cloud_dir.mkdir(parents=True, exist_ok=True)
    if os.environ.get("STOWPATH_LAB_CLOUD", "dicomweb") != "placeholder" and \
            (REPO / "lab" / "services" / "cloud_dicomweb.py").exists():
        try:
            return _start_cloud_dicomweb(cloud_dir)
        except Exception as exc:  # noqa: BLE001 (any failure of the optional service -> placeholder)
            log(f"cloud DICOMweb service did not start ({type(exc).__name__}: {str(exc)[:300]}); "
                "using the placeholder listener")
    return _start_placeholder(cloud_dir)


def _start_cloud_dicomweb(cloud_dir: Path) -> dict[str, Any]:
    cloud_dicomweb, pki = _service_module("cloud_dicomweb"), _service_module("pki")
    files = pki.generate_lab_pki(STATE / "pki", server_names=[DICOMWEB_HOST], server_ips=[CLOUD_HOST],
                                 client_cn="lab-facility PACS")
    handle = cloud_dicomweb.start_cloud_dicomweb(
        cloud_dir / "dicomweb", server_cert=files["server_cert"], server_key=files["server_key"],
        client_ca=files["ca"], listen_ip=CLOUD_HOST, https_port=443, netns=PREFIX + "cloud", mtls="on")
    pids = {k: v for k, v in handle.pids.items() if v}
    write(cloud_dir / "service.json", json.dumps({"kind": "dicomweb", "pids": pids}) + "\n")
    return {"kind": "dicomweb", "url": f"https://{DICOMWEB_HOST}/dicomweb/studies", "mtls": "on",
            "pki": str(STATE / "pki"), "ca": files["ca"], "client_cert": files["client_cert"],
            "client_key": files["client_key"], "pids": pids}


# The facility's on-prem PACS: an Orthanc inside the pacs device (its mount namespace, so it sees the
# TLS material Ansible installs under the device's /etc/stowpath/tls), REST API on 8042, reachable from
# the root namespace at the management address (throwaway lab credentials, see inventories/lab).
PACS_DIR = Path("/srv/stowpath-lab/pacs")
PACS_API_USER, PACS_API_PASSWORD = "stowpath-lab", "stowpath-lab-pacs"


def start_pacs_service() -> dict[str, Any]:
    pacs = _service_module("pacs")
    holder = read_pid(STATE / "dev" / "pacs" / "holder.pid")
    if not holder:
        raise LabError("pacs device is not running")
    handle = pacs.start_pacs(PACS_DIR, ip=MGMT_PACS, port=8042, username=PACS_API_USER,
                             password=PACS_API_PASSWORD,
                             exec_prefix=["nsenter", "-t", str(holder), "-m", "-u", "-n", "--"])
    studies = pacs.load_test_studies(handle, count=1, instances=2)
    return {"kind": "orthanc", "pid": handle.pid, "workdir": str(PACS_DIR), "config": handle.config,
            "api": f"http://{MGMT_PACS}:8042", "studies": studies}


def _service_module(name: str) -> Any:
    """lab/services/<name>.py loaded by path (``lab`` here is this script, not the package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"stowpath_lab_services_{name}",
                                                  REPO / "lab" / "services" / f"{name}.py")
    if spec is None or spec.loader is None:
        raise LabError(f"cannot load lab/services/{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _start_placeholder(cloud_dir: Path) -> dict[str, Any]:
    listener = REPO / "lab" / "cloud_listener.py"
    logf = open(cloud_dir / "listener.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        ["ip", "netns", "exec", PREFIX + "cloud", sys.executable, str(listener), "--listen", CLOUD_HOST,
         "--port", "443", "--state", str(cloud_dir), "--server-name", DICOMWEB_HOST],
        stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
    logf.close()
    write(cloud_dir / "service.json", json.dumps({"kind": "placeholder", "pids": {"listener": proc.pid}}) + "\n")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if (cloud_dir / "listener.ready").exists():
            return {"kind": "placeholder", "url": f"https://{DICOMWEB_HOST}/", "pids": {"listener": proc.pid}}
        if proc.poll() is not None:
            raise LabError("cloud listener died: " + (cloud_dir / "listener.log").read_text()[-500:])
        time.sleep(0.05)
    raise LabError("cloud listener not ready after 10s")


# ---------------------------------------------------------------- state
def load_state() -> dict[str, Any] | None:
    try:
        return json.loads((STATE / "state.json").read_text())
    except (OSError, ValueError):
        return None


def load_params() -> dict[str, Any] | None:
    try:
        return json.loads((STATE / "params.json").read_text())
    except (OSError, ValueError):
        return None


def device_pids(dev_dir: Path) -> dict[str, int | None]:
    run_dir = dev_dir / "run"
    pids: dict[str, int | None] = {"holder": read_pid(dev_dir / "holder.pid")}
    for name, rel in (("sshd", "sshd.pid"), ("charon", "charon.pid"), ("zebra", "frr/zebra.pid"),
                      ("staticd", "frr/staticd.pid"), ("bgpd", "frr/bgpd.pid")):
        if (run_dir / rel).exists():
            pids[name] = read_pid(run_dir / rel)
    try:
        service = json.loads((dev_dir / "service.json").read_text())
        pids.update({f"{service['kind']}:{k}": v for k, v in service["pids"].items()})
    except (OSError, ValueError, KeyError):
        pass
    return pids


def dev_exec(name: str, cmd: list[str], check: bool = False, timeout: float = 15.0) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` inside device ``name`` (its net, mount and UTS namespaces when it has them)."""
    holder = read_pid(STATE / "dev" / name / "holder.pid")
    if holder and pid_alive(holder):
        full = ["nsenter", "-t", str(holder), "-m", "-u", "-n", "--", *cmd]
    else:
        full = ["ip", "netns", "exec", PREFIX + name, *cmd]
    return run(full, check=check, timeout=timeout)


# ---------------------------------------------------------------- health / status
def tcp_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def health(state: dict[str, Any] | None) -> tuple[bool, list[dict[str, Any]]]:
    """Per-device health rows and overall verdict (namespaces, processes, sshd reachable)."""
    rows: list[dict[str, Any]] = []
    if state is None:
        return False, [{"device": "-", "ok": False, "problem": "no lab state (run lab-up)"}]
    present = set(netns_list())
    ok_all = True
    if not state.get("created"):
        ok_all = False
        rows.append({"device": "-", "ok": False, "problem": "lab-up did not complete (partial build)"})
    for dev in devices(int(state.get("fleet", 0))):
        problems: list[str] = []
        if dev.ns not in present:
            problems.append("namespace missing")
        inode = netns_inode(dev.ns)
        pids = device_pids(dev.dir) if dev.has_mountns or dev.name == "cloud" else {}
        expected = ["holder"] if dev.has_mountns else []
        expected += (["sshd"] if dev.managed else []) + (["charon"] if dev.charon else [])
        expected += ["zebra", "staticd", "bgpd"] if dev.frr else []
        if dev.name == "cloud":
            expected += [k for k in pids if ":" in k] or ["cloud service (service.json)"]
        for proc in expected:
            pid = pids.get(proc)
            if not pid_alive(pid):
                problems.append(f"{proc} not running")
            elif inode is not None and pid_netns_inode(pid) != inode:  # type: ignore[arg-type]
                problems.append(f"{proc} pid {pid} is not in {dev.ns}")
        if dev.managed and dev.mgmt and not problems and not tcp_open(dev.mgmt, 22):
            problems.append(f"ssh {dev.mgmt}:22 not answering")
        ok = not problems
        ok_all &= ok
        rows.append({"device": dev.name, "namespace": dev.ns, "ok": ok, "problem": "; ".join(problems),
                     "pids": {k: v for k, v in pids.items() if k in expected}, "mgmt": dev.mgmt})
    return ok_all, rows


def cloud_summary() -> dict[str, Any]:
    """What the cloud side sees: IKE SAs per connection and BGP neighbor states."""
    out: dict[str, Any] = {"ike": {}, "bgp": {}}
    sas = dev_exec("aws", ["swanctl", "--list-sas", "--raw"]).stdout
    for line in sas.splitlines():
        # raw: list-sa event {cgw-tun1 {uniqueid=1 ... state=ESTABLISHED ... child-sas {...}}}
        if not line.startswith("list-sa event"):
            continue
        body = line.split("{", 1)[1]
        name = body.split("{", 1)[0].strip()
        state = body.split("state=", 1)[1].split()[0] if "state=" in body else "?"
        installed = "state=INSTALLED" in body
        out["ike"][name] = f"{state}{' +child' if installed else ''}"
    bgp = dev_exec("aws", ["vtysh", "-c", "show bgp ipv4 unicast summary json"]).stdout
    try:
        peers = json.loads(bgp).get("peers", {})
    except ValueError:
        peers = {}
    for addr, p in peers.items():
        out["bgp"][addr] = {"desc": p.get("desc", ""), "state": p.get("state"),
                            "pfx_rcvd": p.get("pfxRcd", p.get("prefixReceivedCount"))}
    return out


def status(as_json: bool) -> int:
    state = load_state()
    ok, rows = health(state)
    summary: dict[str, Any] = {}
    if state is not None and any(r["device"] == "aws" and r["ok"] for r in rows):
        summary = cloud_summary()
    if as_json:
        print(json.dumps({"healthy": ok, "devices": rows, "cloud": summary,
                          "up_seconds": (state or {}).get("up_seconds"),
                          "created": (state or {}).get("created")}, indent=2))
        return 0 if ok else 1
    if state is not None:
        print(f"stowpath lab: built {state.get('created')} by {state.get('checkout')} "
              f"in {state.get('up_seconds')} s (lab-up wall time), fleet={state.get('fleet', 0)}")
    for r in rows:
        mark = "ok  " if r["ok"] else "FAIL"
        pids = " ".join(f"{k}={v}" for k, v in r.get("pids", {}).items())
        print(f"  {mark} {r['device']:<8} {r.get('namespace', ''):<10} {r.get('mgmt') or '':<15} "
              f"{pids} {r['problem']}")
    if summary:
        print("  cloud VPN endpoints (IKE SAs as the cloud sees them):")
        for name in sorted(summary["ike"]):
            print(f"    {name:<14} {summary['ike'][name]}")
        if not summary["ike"]:
            print("    (none: no customer gateway connected yet)")
        print("  cloud BGP (ASN 64512) neighbors:")
        for addr, p in sorted(summary["bgp"].items()):
            print(f"    {addr:<16} {p['desc']:<22} {p['state']:<12} pfx_rcvd={p['pfx_rcvd']}")
    print(f"stowpath lab: {'HEALTHY' if ok else 'NOT HEALTHY'}")
    return 0 if ok else 1


# ---------------------------------------------------------------- up / down
def lab_written_files(fleet: int) -> list[Path]:
    return [FILES / "aws-vpn.xml", FILES / "aws-dx.json"]


def write_vendor_files(params: dict[str, Any]) -> list[str]:
    FILES.mkdir(parents=True, exist_ok=True)
    written = []
    write(FILES / "aws-vpn.xml", aws_vpn_xml(params["vpn"]), 0o600)
    write(FILES / "aws-dx.json", aws_dx_json(params["dx"]), 0o600)
    written += [str(FILES / "aws-vpn.xml"), str(FILES / "aws-dx.json")]
    if params["fleet"]:
        fleet_dir = FILES / "fleet"
        fleet_dir.mkdir(exist_ok=True)
        hosts = {}
        for name, p in sorted(params["fleet"].items()):
            path = fleet_dir / f"{name}-vpn.xml"
            write(path, aws_vpn_xml(p), 0o600)
            written.append(str(path))
            idx = int(name.split("-")[1])
            hosts[name] = {
                "ansible_host": f"169.254.250.{100 + idx}", "site_name": f"lab-fleet-{idx:02d}",
                "gateway_platform": "linux_strongswan", "cloud_provider": "aws_vpn",
                "cloud_params_file": f"fleet/{name}-vpn.xml", "wan_interface": "eth0",
                "wan_address": p["customer_outside"], "lan_interface": "eth1", "lan_cidrs": [FLEET_LAN],
                "dicomweb_url": f"https://{DICOMWEB_HOST}/dicomweb/studies", "dicomweb_cidrs": [CLOUD_CIDR],
                "tcp_mss": 1360}
        inv = {"all": {"vars": {"ansible_user": "root", "ansible_ssh_private_key_file": str(SSH_KEY),
                                "ansible_python_interpreter": "/usr/bin/python3"},
                       "children": {"lab_fleet": {"hosts": hosts}}}}
        write(FILES / "fleet.yml", "# generated by lab/lab.py up --fleet N\n" + json.dumps(inv, indent=2) + "\n", 0o644)
        written.append(str(FILES / "fleet.yml"))
    return written


def up(fleet: int) -> int:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces)")
    if not 0 <= fleet <= MAX_FLEET:
        raise LabError(f"--fleet must be 0..{MAX_FLEET}")
    for binary in ("ip", "unshare", "nsenter", "/usr/lib/ipsec/charon", "swanctl", "/usr/lib/frr/zebra",
                   "vtysh", "nft", "/usr/sbin/sshd", "ssh-keygen"):
        if not shutil.which(binary) and not Path(binary).exists():
            raise LabError(f"{binary} not found: run `make setup` (Debian packages)")
    with locked():
        state = load_state()
        ok, _ = health(state)
        if ok and state is not None and int(state.get("fleet", 0)) == fleet and \
                state.get("checkout") == str(REPO) and all(Path(f).exists() for f in state.get("files", [])):
            log(f"already up and healthy (built {state.get('created')} in {state.get('up_seconds')} s); leaving it")
            return 0
        if state is not None or any(n.startswith(PREFIX) for n in netns_list()) or STATE.exists():
            log("stale or partial lab found: tearing it down first")
            _down()
        t0 = time.monotonic()
        STATE.mkdir(parents=True, exist_ok=True)
        os.chmod(STATE, 0o700)
        (STATE / "ssh").mkdir(exist_ok=True)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "stowpath-lab", "-f", str(SSH_KEY)])
        pubkey = (SSH_KEY.with_suffix(".pub")).read_text()
        params = make_params(fleet)
        write(STATE / "params.json", json.dumps(params, indent=2), 0o600)
        devs = devices(fleet)
        # state first (partial), so a failed build is still cleaned by `down`
        write(STATE / "state.json", json.dumps({"version": 1, "fleet": fleet, "checkout": str(REPO),
                                                "created": None, "files": []}), 0o600)
        try:
            for d in devs:
                if d.has_mountns:
                    prepare_device_tree(d, params, pubkey)
            build_network(devs, params)
            start_devices(devs)
            service = start_cloud_service(params)
            pacs_service = start_pacs_service()
            files = write_vendor_files(params)
        except Exception:
            if os.environ.get("STOWPATH_LAB_KEEP_FAILED"):
                log("build failed; left as is for debugging (STOWPATH_LAB_KEEP_FAILED)")
            else:
                log("build failed; cleaning up")
                _down()
            raise
        elapsed = round(time.monotonic() - t0, 2)
        write(STATE / "state.json", json.dumps({
            "version": 1, "fleet": fleet, "checkout": str(REPO), "up_seconds": elapsed,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "files": files, "cloud_service": service,
            "pacs_service": pacs_service,
            "ssh_key": str(SSH_KEY)}, indent=2), 0o600)
    ok, rows = health(load_state())
    if not ok:
        bad = "; ".join(f"{r['device']}: {r['problem']}" for r in rows if not r["ok"])
        raise LabError(f"lab built but not healthy: {bad}")
    log(f"up in {elapsed} s: {len(devs)} namespaces; inventory {INVENTORY.relative_to(REPO)}, "
        f"vendor files {FILES.relative_to(REPO)}/aws-vpn.xml, aws-dx.json")
    return 0


def _kill_pids(pids: set[int], grace: float = 3.0) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.05)
    for pid in pids:
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def _down() -> list[str]:
    """Tear down (caller holds the lock). Returns what was removed."""
    removed: list[str] = []
    ours = [n for n in netns_list() if n.startswith(PREFIX)]
    inodes = {netns_inode(n) for n in ours} - {None}
    pids: set[int] = set()
    # 1. PIDs recorded in the state tree, if they live in one of our namespaces
    dev_root = STATE / "dev"
    if dev_root.is_dir():
        for dev_dir in dev_root.iterdir():
            for pid in device_pids(dev_dir).values():
                if pid and pid_alive(pid) and pid_netns_inode(pid) in inodes:
                    pids.add(pid)
    # 2. every other process inside our namespaces (sshd sessions, services started by other helpers)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and pid_netns_inode(int(entry.name)) in inodes:
            pids.add(int(entry.name))
    pids.discard(os.getpid())
    if pids:
        _kill_pids(pids)
        removed.append(f"{len(pids)} processes")
    for n in ours:
        run(["ip", "netns", "del", n], check=False)
        removed.append(n)
    if Path(f"/sys/class/net/{MGMT_ROOT_IF}").exists():
        run(["ip", "link", "del", MGMT_ROOT_IF], check=False)
    state = load_state() or {}
    for f in state.get("files", []):
        p = Path(f)
        if p.exists():
            p.unlink()
            removed.append(str(p))
    for p in lab_written_files(0):
        if p.exists() and state.get("checkout", str(REPO)) == str(REPO):
            p.unlink()
            removed.append(str(p))
    if PACS_DIR.parent.is_dir():
        shutil.rmtree(PACS_DIR.parent, ignore_errors=True)
        removed.append(str(PACS_DIR.parent))
    fleet_dir = FILES / "fleet"
    if fleet_dir.is_dir() and not any(fleet_dir.iterdir()):
        fleet_dir.rmdir()
    if STATE.exists():
        shutil.rmtree(STATE)
        removed.append(str(STATE))
    return removed


def down() -> int:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces)")
    with locked():
        removed = _down()
    log("down: " + (", ".join(removed) if removed else "nothing to remove"))
    return 0


# ---------------------------------------------------------------- cloud-side faults (for rollback tests)
def cloud_break(what: str) -> int:
    params = load_params()
    if params is None:
        raise LabError("no lab")
    if what == "vpn":
        broken = json.loads(json.dumps(params))
        for t in broken["vpn"]["tunnels"]:
            t["psk"] = random_psk(random.SystemRandom())
        write(STATE / "dev" / "aws" / "etc-swanctl" / "swanctl.conf", cloud_swanctl(broken), 0o600)
        dev_exec("aws", ["swanctl", "--load-all", "--clear"], check=True)
        for t in params["vpn"]["tunnels"]:
            dev_exec("aws", ["swanctl", "--terminate", "--ike", f"cgw-{t['name']}", "--force"])
        log("cloud VPN now has different PSKs: the facility's tunnels cannot authenticate")
    elif what == "dx":
        key = "".join(random.SystemRandom().choice(PSK_ALPHABET) for _ in range(24))
        dxn = params["dx"]["customer_address"].split("/")[0]
        dev_exec("aws", ["vtysh", "-c", "configure terminal", "-c", f"router bgp {CLOUD_ASN}",
                         "-c", f"neighbor {dxn} password {key}"], check=True)
        dev_exec("aws", ["vtysh", "-c", f"clear bgp {dxn}"])
        log("cloud DX router now has a different MD5 key: BGP over the VIF cannot establish")
    else:
        raise LabError("cloud-break vpn|dx")
    return 0


def cloud_repair() -> int:
    params = load_params()
    if params is None:
        raise LabError("no lab")
    write(STATE / "dev" / "aws" / "etc-swanctl" / "swanctl.conf", cloud_swanctl(params), 0o600)
    dev_exec("aws", ["swanctl", "--load-all", "--clear"], check=True)
    dxn = params["dx"]["customer_address"].split("/")[0]
    dev_exec("aws", ["vtysh", "-c", "configure terminal", "-c", f"router bgp {CLOUD_ASN}",
                     "-c", f"neighbor {dxn} password {params['dx']['auth_key']}"], check=True)
    dev_exec("aws", ["vtysh", "-c", f"clear bgp {dxn}"])
    log("cloud side restored to the parameters in the vendor files")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p_up = sub.add_parser("up")
    p_up.add_argument("--fleet", type=int, default=0)
    sub.add_parser("down")
    p_st = sub.add_parser("status")
    p_st.add_argument("--json", action="store_true")
    p_br = sub.add_parser("cloud-break")
    p_br.add_argument("what", choices=("vpn", "dx"))
    sub.add_parser("cloud-repair")
    p_ex = sub.add_parser("exec")
    p_ex.add_argument("device")
    p_ex.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args(argv)
    try:
        if args.cmd == "up":
            return up(args.fleet)
        if args.cmd == "down":
            return down()
        if args.cmd == "status":
            return status(args.json)
        if args.cmd == "cloud-break":
            return cloud_break(args.what)
        if args.cmd == "cloud-repair":
            return cloud_repair()
        if args.cmd == "exec":
            cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
            proc = dev_exec(args.device, cmd, timeout=300)
            sys.stdout.write(proc.stdout)
            sys.stderr.write(proc.stderr)
            return proc.returncode
    except LabError as exc:
        print(f"lab: error: {exc}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
