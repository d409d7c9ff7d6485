"""Devices as namespaces: their file trees, the veths and bridges between them, booting and entering them."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from . import configs
from .host import LabError, ip_batch, pid_alive, read_pid, run, write
from .topology import (
    CLOUD_NET_GW,
    DX_VLAN,
    LAN_HOSTS,
    MGMT_ROOT,
    MGMT_ROOT_IF,
    PREFIX,
    STATE,
    WAN_GW,
    Device,
)

SWANCTL_DIRS = ("conf.d", "x509", "x509ca", "x509aa", "x509ac", "x509crl", "x509ocsp", "private", "rsa",
                "ecdsa", "bliss", "pkcs8", "pkcs12", "pubkey")


def prepare_device_tree(dev: Device, params: dict[str, Any], pubkey: str) -> None:
    d = dev.dir
    for sub in ("run", "etc-ssh", "etc-swanctl", "etc-frr", "etc-upper/nftables.d", "etc-work",
                "var-lib-stowpath"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    # mount point of each device's private /var/lib/stowpath (stowpath's push state); /etc/nftables.d
    # is private through the /etc overlay
    Path("/var/lib/stowpath").mkdir(exist_ok=True)
    for sub in SWANCTL_DIRS:
        (d / "etc-swanctl" / sub).mkdir(exist_ok=True)
    os.chmod(d / "etc-swanctl" / "private", 0o700)
    etc = d / "etc-upper"
    write(etc / "hosts", configs.hosts_file(dev.name))
    write(etc / "hostname", dev.name + "\n")
    write(etc / "strongswan.conf", configs.strongswan_conf())
    if dev.name == "aws":
        write(d / "etc-swanctl" / "swanctl.conf", configs.cloud_swanctl(params), 0o600)
        write(d / "etc-frr" / "frr.conf", configs.cloud_frr(params), 0o640)
        write(etc / "nftables.conf", configs.cloud_nft(params), 0o600)
    else:
        write(d / "etc-swanctl" / "swanctl.conf", configs.empty_swanctl(), 0o600)
        write(d / "etc-frr" / "frr.conf", configs.empty_frr_conf(dev.name), 0o640)
        write(etc / "nftables.conf", configs.empty_nft(), 0o755)
    write(d / "etc-frr" / "vtysh.conf", configs.vtysh_conf(), 0o640)
    write(d / "etc-frr" / "daemons", configs.frr_daemons(), 0o640)
    for f in ("frr.conf", "vtysh.conf", "daemons"):
        shutil.chown(d / "etc-frr" / f, "frr", "frr")
    shutil.chown(d / "etc-frr", "frr", "frr")
    os.chmod(d / "etc-frr", 0o755)
    if dev.managed and dev.mgmt:
        write(d / "etc-ssh" / "sshd_config", configs.sshd_config(dev.mgmt))
        write(d / "etc-ssh" / "authorized_keys", pubkey, 0o600)
        key = d / "etc-ssh" / "ssh_host_ed25519_key"
        if not key.exists():
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{dev.name}-host", "-f", str(key)])
    write(d / "boot.sh", configs.boot_script(dev, params), 0o755)


def _is_gateway(d: Device) -> bool:
    """A facility gateway with a WAN link to the internet transit."""
    return d.name in ("cgw", "cgwdx") or d.name.startswith("fgw-")


def build_network(devs: list[Device], params: dict[str, Any]) -> None:
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
        if d.name in (*LAN_HOSTS, "cgw", "cgwdx"):
            lan_if = "eth0" if d.name in LAN_HOSTS else "eth1"
            veth(d.ns, lan_if, sw, f"l-{d.name}")
        if _is_gateway(d):
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
        if d.name in (*LAN_HOSTS, "cgw", "cgwdx"):
            ports[f"l-{d.name}"] = "br-lan"
    ports.update({"v-aws": "br-vpc", "v-cloud": "br-vpc"})
    for port, br in ports.items():
        sw_lines += [f"link set {port} master {br}", f"link set {port} up"]
    ip_batch(sw_lines, sw)

    inet_lines = ["link set lo up", "link add br-wan type bridge", "link set br-wan up",
                  f"addr add {WAN_GW}/24 dev br-wan", "link add br-cloud type bridge", "link set br-cloud up",
                  f"addr add {CLOUD_NET_GW}/24 dev br-cloud", "link set c-aws master br-cloud", "link set c-aws up"]
    for d in devs:
        if _is_gateway(d):
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


def device_pids(dev_dir: Path) -> dict[str, int | None]:
    """PIDs a device recorded: its holder, its daemons' PID files and a service's ``service.json``."""
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


def exec_prefix(name: str) -> list[str]:
    """The command prefix that enters device ``name`` (its net, mount and UTS namespaces when it has them)."""
    holder = read_pid(STATE / "dev" / name / "holder.pid")
    if holder and pid_alive(holder):
        return ["nsenter", "-t", str(holder), "-m", "-u", "-n", "--"]
    return ["ip", "netns", "exec", PREFIX + name]


def dev_exec(name: str, cmd: list[str], check: bool = False, timeout: float = 15.0) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` inside device ``name`` (its net, mount and UTS namespaces when it has them)."""
    return run([*exec_prefix(name), *cmd], check=check, timeout=timeout)


def kill_pids(pids: set[int], grace: float = 3.0) -> None:
    """SIGTERM, then SIGKILL whatever still lives after ``grace`` seconds."""
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
