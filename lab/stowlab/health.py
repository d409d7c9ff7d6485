"""Is the lab healthy (namespaces, processes, sshd), and what does the cloud see (IKE SAs, BGP)?"""

from __future__ import annotations

import json
import socket
from typing import Any

from .host import netns_inode, netns_list, pid_alive, pid_netns_inode
from .netns import dev_exec, device_pids
from .state import load_state
from .topology import devices


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
                          "cloud_provider": (state or {}).get("cloud", "aws"),
                          "cloud_asn": (state or {}).get("cloud_asn", 64512),
                          "up_seconds": (state or {}).get("up_seconds"),
                          "created": (state or {}).get("created")}, indent=2))
        return 0 if ok else 1
    if state is not None:
        print(f"stowpath lab: built {state.get('created')} by {state.get('checkout')} "
              f"in {state.get('up_seconds')} s (lab-up wall time), cloud={state.get('cloud', 'aws')}, "
              f"fleet={state.get('fleet', 0)}")
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
        print(f"  cloud BGP (ASN {(state or {}).get('cloud_asn', 64512)}) neighbors:")
        for addr, p in sorted(summary["bgp"].items()):
            print(f"    {addr:<16} {p['desc']:<22} {p['state']:<12} pfx_rcvd={p['pfx_rcvd']}")
    print(f"stowpath lab: {'HEALTHY' if ok else 'NOT HEALTHY'}")
    return 0 if ok else 1
