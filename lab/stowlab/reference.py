"""A known-good customer-side configuration for the lab's facility gateways, written by hand.

It is independent of stowpath's renderer on purpose: the lab tests use it to prove the cloud side of
the lab is right (both tunnels up, BGP Established, traffic through the tunnel), the verification
module tests use it to have something real to verify, and ``bench/lab_bench.py`` times its push. It
reads the lab's vendor parameters (``/run/stowpath-lab/params.json``); the configuration files are
``lab/templates/reference/``.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from typing import Any, Iterator

from .configs import VPC_CIDR, empty_frr_conf, empty_nft, empty_swanctl, render
from .topology import CLOUD_ASN, CLOUD_CIDR, FACILITY_LAN, SSH_KEY, STATE, mgmt_addresses

LAN = FACILITY_LAN
CLOUD = CLOUD_CIDR
MGMT = mgmt_addresses()
SSH_OPTS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "BatchMode=yes", "-o", "ConnectTimeout=5"]
# what stowpath's own push leaves beside the main files (drop-ins and its push state): removed so
# that the device is what the lab built and the reference configuration is the only one loaded
CLEAR_DROPINS = "rm -f /etc/swanctl/conf.d/*.conf /etc/nftables.d/*; rm -rf /var/lib/stowpath/*"
TERMINATE_ALL_SAS = ("for s in $(swanctl --list-sas --raw | sed -n 's/^list-sa event {\\([^ ]*\\) .*/\\1/p'); do "
                     "swanctl --terminate --ike $s --force >/dev/null; done")
RELOAD_FRR = ("cat > /etc/frr/frr.conf && chown frr:frr /etc/frr/frr.conf && "
              "/usr/lib/frr/frr-reload.py --reload --stdout /etc/frr/frr.conf >/dev/null")
LOAD_NFT = "cat > /etc/nftables.conf && nft -f /etc/nftables.conf"
__all__ = ["STATE", "SSH_KEY", "LAN", "CLOUD", "MGMT", "params", "ssh", "vpn_swanctl", "vpn_frr", "dx_frr", "nft",
           "push", "onboard_vpn", "onboard_dx", "reset", "clear_cloud_sessions", "snapshot", "restore", "borrowed", "wait_cloud_route"]
# every file a push (stowpath's or the reference's) changes on a gateway, and stowpath's state there
GATEWAY_FILES = ("/etc/swanctl/swanctl.conf", "/etc/swanctl/conf.d", "/etc/frr/frr.conf", "/etc/nftables.conf",
                 "/etc/nftables.d", "/var/lib/stowpath", "/etc/sysctl.d/90-stowpath.conf",
                 "/etc/strongswan.d/stowpath.conf", "/etc/swanctl/stowpath-xfrm-updown")
RELOAD_ALL = ("chown frr:frr /etc/frr/frr.conf; /usr/lib/frr/frr-reload.py --reload --stdout /etc/frr/frr.conf "
              ">/dev/null; nft -f /etc/nftables.conf; swanctl --load-all --noprompt >/dev/null")


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
    return render("reference/swanctl.conf.j2", p=p, lan=lan, cloud=CLOUD)


def vpn_frr(p: dict[str, Any], hostname: str = "cgw", lan: str = LAN) -> str:
    return render("reference/frr-vpn.conf.j2", p=p, hostname=hostname, lan=lan, cloud=CLOUD, vpc=VPC_CIDR,
                  cloud_asn=CLOUD_ASN)


def dx_frr(d: dict[str, Any], hostname: str = "cgwdx", lan: str = LAN) -> str:
    return render("reference/frr-dx.conf.j2", d=d, peer=d["amazon_address"].split("/")[0], hostname=hostname,
                  lan=lan, cloud=CLOUD, vpc=VPC_CIDR, cloud_asn=CLOUD_ASN)


def nft(out_if: str, lan: str = LAN, mss: int = 1360) -> str:
    return render("reference/nftables.conf.j2", out_if=out_if, lan=lan, cloud=CLOUD, mss=mss)


def push(host: str, swanctl: str | None, frr: str, nftables: str) -> None:
    """Install and load the three artifacts the way a push over SSH does (standard device paths).

    FRR first: zebra puts the tunnel inside addresses on ipsec0, and kernel-libipsec fails to install
    a CHILD_SA ("error installing route with policy") while its local inside address is missing.
    """
    ssh(host, CLEAR_DROPINS)
    ssh(host, "umask 027; " + RELOAD_FRR, frr)
    if swanctl is not None:
        # SAs of an earlier configuration (e.g. stowpath's own, same reqids) must not outlive it
        ssh(host, f"umask 077; cat > /etc/swanctl/swanctl.conf && {TERMINATE_ALL_SAS}; "
                  "swanctl --load-all --clear >/dev/null", swanctl)
    ssh(host, LOAD_NFT, nftables)


def onboard_vpn() -> None:
    p = params()["vpn"]
    push("cgw", vpn_swanctl(p), vpn_frr(p), nft("ipsec0"))


def onboard_dx() -> None:
    d = params()["dx"]
    push("cgwdx", None, dx_frr(d), nft(f"eth2.{d['vlan']}"))


def reset(host: str) -> None:
    """Back to the empty device the lab built (removes BGP, terminates SAs, flushes the rules).

    FRR first, while the tunnels still carry the BGP NOTIFICATION to the cloud. Every step is tried even
    when an earlier one failed (a half-reset gateway would keep the reference's connections); the
    first failure is raised at the end.
    """
    if host == "pacs":
        return
    steps: list[tuple[str, str | None]] = [
        (CLEAR_DROPINS, None),
        (RELOAD_FRR, empty_frr_conf(host)),
        ("umask 077; cat > /etc/swanctl/swanctl.conf && swanctl --load-all --clear >/dev/null; "
         f"{TERMINATE_ALL_SAS}", empty_swanctl()),
        (LOAD_NFT, empty_nft()),
    ]
    errors: list[Exception] = []
    for command, stdin in steps:
        try:
            ssh(host, command, stdin)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            errors.append(exc)
    clear_cloud_sessions(host)
    if errors:
        raise errors[0]


def clear_cloud_sessions(host: str) -> list[str]:
    """Drop the cloud's BGP sessions with ``host``, like a cloud that never saw this gateway.

    Removing BGP on the gateway does not always reach the cloud (no NOTIFICATION arrives once the path is
    gone), so the cloud keeps a stale Established session until its next keepalive draws a TCP reset (10 s
    over the VPN, 30 s over DX); a new session meanwhile collides with it, and a benchmark's "first
    onboarding" would measure that wait instead of the gateway's own BGP start-up."""
    from .netns import dev_exec

    prefix = "dx-" if host == "cgwdx" else f"{host}-"
    out = dev_exec("aws", ["vtysh", "-c", "show bgp summary json"]).stdout
    try:
        peers = json.loads(out).get("ipv4Unicast", {}).get("peers", {})
    except ValueError:
        return []
    stale = [ip for ip, peer in peers.items() if str(peer.get("desc", "")).startswith(prefix)]
    for ip in stale:
        dev_exec("aws", ["vtysh", "-c", f"clear bgp {ip}"])
    return stale


def snapshot(host: str) -> str:
    """The gateway's configuration files and stowpath's state on it, as a base64 tarball."""
    paths = " ".join(GATEWAY_FILES)
    return ssh(host, f"cd / && tar czf - --ignore-failed-read $(ls -d {paths} 2>/dev/null | sed 's,^/,,') "
                     "| base64 -w0").stdout


def restore(host: str, snap: str) -> None:
    """Put back what :func:`snapshot` took (after an empty reset, so nothing of the meantime is left) and
    load it: FRR, nftables, strongSwan; idle children are left to their start actions."""
    reset(host)
    ssh(host, "base64 -d | tar xzf - -C / && " + RELOAD_ALL, snap)


@contextlib.contextmanager
def borrowed(*hosts: str) -> Iterator[None]:
    """Use the gateways for something else (the reference configuration, an empty device) and give
    them back as they were, whatever happens in between: the lab is shared with other tests."""
    snaps = {h: snapshot(h) for h in hosts}
    try:
        yield
    finally:
        errors: list[Exception] = []
        for host, snap in snaps.items():
            try:
                restore(host, snap)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                errors.append(exc)
        if errors:
            raise errors[0]


def wait_cloud_route(hosts: tuple[str, ...] = ("cgw", "cgwdx"), timeout: float = 60) -> float:
    """Wait until every host routes the cloud CIDR over BGP (learned, installed, possibly as a covering
    VPC prefix); return the seconds waited.

    Judge from the customer side: right after a reset the cloud may still show the old sessions.
    """
    start = time.monotonic()
    pending = list(hosts)
    while pending and time.monotonic() - start < timeout:
        # the cloud advertises its VPC CIDR (a supernet of CLOUD), like AWS: any BGP route covering CLOUD
        pending = [h for h in pending if "proto bgp" not in ssh(h, f"ip route show match {CLOUD}", check=False).stdout]
        if pending:
            time.sleep(0.3)
    if pending:
        raise TimeoutError(f"no BGP route to {CLOUD} on {pending} after {timeout:.0f}s")
    return time.monotonic() - start
