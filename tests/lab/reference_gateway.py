"""A known-good customer-side configuration for the lab's facility gateways, written by hand.

It is independent of stowpath's renderer on purpose: the lab tests use it to prove the cloud side of
the lab is right (both tunnels up, BGP Established, traffic through the tunnel), and the verification
module tests use it to have something real to verify. It reads the lab's vendor parameters
(``/run/stowpath-lab/params.json``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

STATE = Path("/run/stowpath-lab")
SSH_KEY = STATE / "ssh" / "id_ed25519"
LAN = "203.0.113.0/26"
CLOUD = "203.0.113.128/26"
MGMT = {"cgw": "169.254.250.10", "cgwdx": "169.254.250.11", "pacs": "169.254.250.12",
        **{f"fgw-{i:02d}": f"169.254.250.{100 + i}" for i in range(1, 100)}}
SSH_OPTS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "BatchMode=yes", "-o", "ConnectTimeout=5"]


def params() -> dict[str, Any]:
    return json.loads((STATE / "params.json").read_text())


def ssh(host: str, command: str, stdin: str | None = None, check: bool = True,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["ssh", "-i", str(SSH_KEY), *SSH_OPTS, f"root@{MGMT.get(host, host)}", command],
                          input=stdin, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"ssh {host} {command!r} -> {proc.returncode}: {proc.stderr.strip()}")
    return proc


def vpn_swanctl(p: dict[str, Any], lan: str = LAN) -> str:
    conns, secrets = [], []
    for t in p["tunnels"]:
        n = t["name"]
        conns.append(f"""  {n} {{
    version = 2
    local_addrs = {t['customer_outside']}
    remote_addrs = {t['cloud_outside']}
    encap = yes
    proposals = aes256-sha256-modp2048
    rekey_time = 28800s
    dpd_delay = 10s
    keyingtries = 0
    local {{
      auth = psk
      id = {t['customer_outside']}
    }}
    remote {{
      auth = psk
      id = {t['cloud_outside']}
    }}
    children {{
      {n} {{
        local_ts = {t['customer_inside']}/32, {lan}
        remote_ts = {t['cloud_inside']}/32, {CLOUD}
        esp_proposals = aes256-sha256-modp2048
        reqid = {t['name'][-1]}
        rekey_time = 3600s
        dpd_action = restart
        close_action = start
        start_action = start
      }}
    }}
  }}""")
        secrets.append(f"""  ike-{n} {{
    id-local = {t['customer_outside']}
    id-remote = {t['cloud_outside']}
    secret = "{t['psk']}"
  }}""")
    return "connections {\n" + "\n".join(conns) + "\n}\nsecrets {\n" + "\n".join(secrets) + "\n}\n"


def vpn_frr(p: dict[str, Any], hostname: str = "cgw", lan: str = LAN) -> str:
    addrs = "".join(f" ip address {t['customer_inside']}/30\n" for t in p["tunnels"])
    nbrs = "".join(f" neighbor {t['cloud_inside']} remote-as 64512\n neighbor {t['cloud_inside']} timers 10 30\n"
                   for t in p["tunnels"])
    af = "".join(f"  neighbor {t['cloud_inside']} prefix-list STOWPATH-CLOUD-IN in\n"
                 f"  neighbor {t['cloud_inside']} prefix-list STOWPATH-LAN-OUT out\n" for t in p["tunnels"])
    return (f"frr defaults traditional\nhostname {hostname}\nno ipv6 forwarding\nservice integrated-vtysh-config\n!\n"
            f"interface ipsec0\n{addrs}exit\n!\nrouter bgp {p['customer_asn']}\n no bgp ebgp-requires-policy\n"
            f"{nbrs} !\n address-family ipv4 unicast\n  network {lan}\n{af} exit-address-family\nexit\n!\n"
            f"{prefix_lists(lan)}end\n")


def prefix_lists(lan: str) -> str:
    return (f"ip prefix-list STOWPATH-CLOUD-IN seq 5 permit {CLOUD} le 32\n"
            f"ip prefix-list STOWPATH-LAN-OUT seq 5 permit {lan}\n!\n")


def dx_frr(d: dict[str, Any], hostname: str = "cgwdx", lan: str = LAN) -> str:
    peer = d["amazon_address"].split("/")[0]
    return (f"frr defaults traditional\nhostname {hostname}\nno ipv6 forwarding\nservice integrated-vtysh-config\n!\n"
            f"interface eth2.{d['vlan']}\n ip address {d['customer_address']}\nexit\n!\n"
            f"router bgp {d['customer_asn']}\n no bgp ebgp-requires-policy\n"
            f" neighbor {peer} remote-as 64512\n neighbor {peer} password {d['auth_key']}\n"
            f" neighbor {peer} timers 30 90\n !\n address-family ipv4 unicast\n  network {lan}\n"
            f"  neighbor {peer} prefix-list STOWPATH-CLOUD-IN in\n  neighbor {peer} prefix-list STOWPATH-LAN-OUT out\n"
            f" exit-address-family\nexit\n!\n{prefix_lists(lan)}end\n")


def nft(out_if: str, lan: str = LAN, mss: int = 1360) -> str:
    return f"""#!/usr/sbin/nft -f
flush ruleset
table inet reference_gw {{
  chain forward {{
    type filter hook forward priority filter; policy accept;
    ct state established,related accept
    oifname "{out_if}" ip saddr {lan} ip daddr {CLOUD} tcp dport 443 accept
    oifname "{out_if}" ip saddr {lan} ip daddr {CLOUD} icmp type echo-request accept
    oifname "{out_if}" counter drop
  }}
  chain clamp {{
    type filter hook forward priority mangle; policy accept;
    oifname "{out_if}" tcp flags syn tcp option maxseg size set {mss}
  }}
}}
"""


# what stowpath's own push leaves beside the main files (drop-ins and its push state): removed so
# that the device is what the lab built and the reference configuration is the only one loaded
CLEAR_DROPINS = "rm -f /etc/swanctl/conf.d/*.conf /etc/nftables.d/*; rm -rf /var/lib/stowpath/*"
EMPTY_SWANCTL = "# swanctl.conf of a stowpath lab device: empty until the gateway is onboarded\ninclude conf.d/*.conf\n"
EMPTY_NFT = ("#!/usr/sbin/nft -f\n# nftables.conf of a stowpath lab device: empty until the gateway is onboarded\n"
             "flush ruleset\n")


def empty_frr(hostname: str) -> str:
    return f"frr defaults traditional\nhostname {hostname}\nservice integrated-vtysh-config\n!\n"


def push(host: str, swanctl: str | None, frr: str, nftables: str) -> None:
    """Install and load the three artifacts the way a push over SSH does (standard device paths).

    FRR first: zebra puts the tunnel inside addresses on ipsec0, and kernel-libipsec fails to install
    a CHILD_SA ("error installing route with policy") while its local inside address is missing.
    """
    ssh(host, CLEAR_DROPINS)
    ssh(host, "umask 027; cat > /etc/frr/frr.conf && chown frr:frr /etc/frr/frr.conf && "
              "/usr/lib/frr/frr-reload.py --reload --stdout /etc/frr/frr.conf >/dev/null", frr)
    if swanctl is not None:
        # SAs of an earlier configuration (e.g. stowpath's own, same reqids) must not outlive it
        ssh(host, "umask 077; cat > /etc/swanctl/swanctl.conf && "
                  "for s in $(swanctl --list-sas --raw | sed -n 's/^list-sa event {\\([^ ]*\\) .*/\\1/p'); do "
                  "swanctl --terminate --ike $s --force >/dev/null; done; swanctl --load-all --clear >/dev/null", swanctl)
    ssh(host, "cat > /etc/nftables.conf && nft -f /etc/nftables.conf", nftables)


def onboard_vpn() -> None:
    p = params()["vpn"]
    push("cgw", vpn_swanctl(p), vpn_frr(p), nft("ipsec0"))


def onboard_dx() -> None:
    d = params()["dx"]
    push("cgwdx", None, dx_frr(d), nft(f"eth2.{d['vlan']}"))


def reset(host: str) -> None:
    """Back to the empty device the lab built (removes BGP, terminates SAs, flushes the rules).

    FRR first, while the tunnels still carry the BGP NOTIFICATION to the cloud.
    """
    if host == "pacs":
        return
    ssh(host, CLEAR_DROPINS)
    ssh(host, "cat > /etc/frr/frr.conf && chown frr:frr /etc/frr/frr.conf && "
              "/usr/lib/frr/frr-reload.py --reload --stdout /etc/frr/frr.conf >/dev/null", empty_frr(host))
    ssh(host, "umask 077; cat > /etc/swanctl/swanctl.conf && swanctl --load-all --clear >/dev/null; "
              "for s in $(swanctl --list-sas --raw | sed -n 's/^list-sa event {\\([^ ]*\\) .*/\\1/p'); do "
              "swanctl --terminate --ike $s --force >/dev/null; done", EMPTY_SWANCTL)
    ssh(host, "cat > /etc/nftables.conf && nft -f /etc/nftables.conf", EMPTY_NFT)


def wait_cloud_route(hosts: tuple[str, ...] = ("cgw", "cgwdx"), timeout: float = 60) -> float:
    """Wait until every host routes the cloud CIDR (BGP learned and installed); return the seconds waited.

    Judge from the customer side: right after a reset the cloud may still show the old sessions.
    """
    import time

    start = time.monotonic()
    pending = list(hosts)
    while pending and time.monotonic() - start < timeout:
        pending = [h for h in pending if "proto bgp" not in ssh(h, f"ip route show {CLOUD}", check=False).stdout]
        if pending:
            time.sleep(0.3)
    if pending:
        raise TimeoutError(f"no BGP route to {CLOUD} on {pending} after {timeout:.0f}s")
    return time.monotonic() - start
