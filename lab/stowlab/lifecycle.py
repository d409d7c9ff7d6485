"""Build, tear down and break the lab: ``up``, ``down``, ``cloud-break``, ``cloud-repair``."""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from .configs import cloud_swanctl
from .health import health
from .host import LabError, locked, log, netns_inode, netns_list, pid_alive, pid_netns_inode, run, write
from .monitor import start_webhook_receiver
from .netns import build_network, dev_exec, device_pids, kill_pids, prepare_device_tree, start_devices
from .params import cloud_asn_of, dx_customer_ip, make_params, random_auth_key, random_psk
from .services import PACS_DIR, start_cloud_service, start_pacs_service
from .state import load_params, load_state
from .topology import (
    CLOUDS,
    FILES,
    INVENTORY,
    KNOWN_HOSTS,
    MAX_FLEET,
    MGMT_ROOT_IF,
    REPO,
    SSH_KEY,
    STATE,
    VENDOR_STATE,
    devices,
)
from .vendor_files import lab_written_files, remove_cloud_vars, write_vendor_files

REQUIRED_BINARIES = ("ip", "unshare", "nsenter", "/usr/lib/ipsec/charon", "swanctl", "/usr/lib/frr/zebra",
                     "vtysh", "nft", "/usr/sbin/sshd", "ssh-keygen")


def _require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces)")


def up(fleet: int, cloud: str = "aws") -> int:
    """Build the lab playing ``cloud`` (aws | azure | gcp); a healthy lab of the same cloud and fleet is left alone,
    any other is torn down and rebuilt."""
    _require_root()
    if not 0 <= fleet <= MAX_FLEET:
        raise LabError(f"--fleet must be 0..{MAX_FLEET}")
    if cloud not in CLOUDS:
        raise LabError(f"--cloud {cloud!r}: use one of {', '.join(CLOUDS)} (make lab-up CLOUD=...)")
    if fleet and cloud != "aws":
        raise LabError("--fleet needs --cloud aws (the fleet gateways get AWS VPN files)")
    for binary in REQUIRED_BINARIES:
        if not shutil.which(binary) and not Path(binary).exists():
            raise LabError(f"{binary} not found: run `make setup` (Debian packages)")
    with locked():
        state = load_state()
        ok, _ = health(state)
        if ok and state is not None and int(state.get("fleet", 0)) == fleet and \
                state.get("cloud", "aws") == cloud and \
                state.get("checkout") == str(REPO) and all(Path(f).exists() for f in state.get("files", [])):
            log(f"already up and healthy as {cloud} (built {state.get('created')} in {state.get('up_seconds')} s); "
                "leaving it")
            return 0
        if ok and state is not None and state.get("cloud", "aws") != cloud:
            log(f"the lab plays {state.get('cloud', 'aws')}: rebuilding it as {cloud}")
        if state is not None or lab_namespaces() or STATE.exists():
            log("stale or partial lab found: tearing it down first")
            _down()
        t0 = time.monotonic()
        STATE.mkdir(parents=True, exist_ok=True)
        os.chmod(STATE, 0o700)
        (STATE / "ssh").mkdir(exist_ok=True)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "stowpath-lab", "-f", str(SSH_KEY)])
        pubkey = (SSH_KEY.with_suffix(".pub")).read_text()
        params = make_params(fleet, cloud)
        write(STATE / "params.json", json.dumps(params, indent=2), 0o600)
        devs = devices(fleet)
        # state first (partial), so a failed build is still cleaned by `down`
        write(STATE / "state.json", json.dumps({"version": 1, "fleet": fleet, "cloud": cloud, "checkout": str(REPO),
                                                "created": None, "files": []}), 0o600)
        try:
            for d in devs:
                if d.has_mountns:
                    prepare_device_tree(d, params, pubkey)
            build_network(devs, params)
            start_devices(devs)
            write_known_hosts(devs)
            service = start_cloud_service(params)
            pacs_service = start_pacs_service()
            mon_service = start_webhook_receiver()
            oauth = _cloud_auth(cloud, service)
            files = write_vendor_files(params, oauth)
        except Exception:
            if os.environ.get("STOWPATH_LAB_KEEP_FAILED"):
                log("build failed; left as is for debugging (STOWPATH_LAB_KEEP_FAILED)")
            else:
                log("build failed; cleaning up")
                _down()
            raise
        elapsed = round(time.monotonic() - t0, 2)
        write(STATE / "state.json", json.dumps({
            "version": 1, "fleet": fleet, "cloud": cloud, "cloud_asn": params["cloud_asn"], "checkout": str(REPO),
            "up_seconds": elapsed,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "files": files, "cloud_service": service,
            "pacs_service": pacs_service, "mon_service": mon_service,
            "ssh_key": str(SSH_KEY)}, indent=2), 0o600)
    ok, rows = health(load_state())
    if not ok:
        bad = "; ".join(f"{r['device']}: {r['problem']}" for r in rows if not r["ok"])
        raise LabError(f"lab built but not healthy: {bad}")
    names = ", ".join(Path(f).name for f in files if Path(f).parent == FILES)
    log(f"up in {elapsed} s as {cloud}: {len(devs)} namespaces; inventory {INVENTORY.relative_to(REPO)}, "
        f"vendor files {FILES.relative_to(REPO)}/: {names}")
    return 0


def _cloud_auth(cloud: str, service: dict[str, Any]) -> dict[str, str] | None:
    """Azure mode: the cloud DICOMweb service takes bearer tokens only (like Azure's DICOM service with Entra ID):
    switched to the lab token endpoint; returns what the inventory needs (no secret, only the secret's file)."""
    if cloud != "azure" or service.get("kind") != "dicomweb":
        return None
    from lab.services import cloud_token

    info = cloud_token.set_auth(STATE / "dev" / "cloud" / "dicomweb", "bearer")
    service["auth"] = "bearer"
    return {k: str(info[k]) for k in ("token_url", "client_id", "client_secret_file", "audience")}


def write_known_hosts(devs: list[Any]) -> None:
    """The lab's known_hosts: every managed device's host key under its management address (the lab
    inventory verifies against this file; the simulators add theirs when they start)."""
    lines = []
    for d in devs:
        pub = d.dir / "etc-ssh" / "ssh_host_ed25519_key.pub"
        if d.managed and d.mgmt and pub.exists():
            key_type, key = pub.read_text().split()[:2]
            lines.append(f"{d.mgmt} {key_type} {key}\n")
    write(KNOWN_HOSTS, "".join(lines), 0o644)


def lab_namespaces() -> list[str]:
    """The namespaces this lab creates (any fleet size): others named ``sp-*`` are not ours to delete."""
    names = {d.ns for d in devices(MAX_FLEET)}
    return [n for n in netns_list() if n in names]


def _vendor_pids(state: dict[str, Any]) -> set[int]:
    """Live PIDs a simulator recorded (``pid`` / ``pids``), checked against their command lines."""
    recorded: dict[str, int] = {}
    if isinstance(state.get("pid"), int):
        recorded["iosxe_sim.py"] = state["pid"]
    recorded.update({k: v for k, v in (state.get("pids") or {}).items() if isinstance(v, int)})
    alive = set()
    for needle, pid in recorded.items():
        needle = {"oper_proxy": "netconf_oper_proxy"}.get(needle, needle)
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if needle in cmdline:
            alive.add(pid)
    return alive


def stop_simulators() -> list[str]:
    """Stop the vendor simulators recorded under the global lab state (whichever checkout started them)."""
    stopped = []
    if not VENDOR_STATE.is_dir():
        return stopped
    for sim_dir in sorted(VENDOR_STATE.iterdir()):
        try:
            state = json.loads((sim_dir / "state.json").read_text())
        except (OSError, ValueError):
            continue
        pids = _vendor_pids(state)
        if pids:
            kill_pids(pids)
        for key in ("socket", "state_socket"):
            if state.get(key):
                Path(state[key]).unlink(missing_ok=True)
        if state.get("user"):
            _remove_sim_user(str(state["user"]))
        (sim_dir / "state.json").unlink(missing_ok=True)
        stopped.append(f"simulator {sim_dir.name} (port {state.get('port')})")
    return stopped


def _remove_sim_user(user: str) -> None:
    """Remove the NETCONF simulator's local account once no netconfd of that account runs any more."""
    import importlib.util

    path = REPO / "lab" / "vendor" / "netconf_iosxe.py"
    spec = importlib.util.spec_from_file_location("stowpath_netconf_iosxe", path)
    if spec is None or spec.loader is None:
        return
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.remove_user_if_unused(user)


def _lab_pids(inodes: set[int | None]) -> set[int]:
    """Every process of the lab: recorded PIDs living in our namespaces, and anything else inside them."""
    pids: set[int] = set()
    dev_root = STATE / "dev"
    if dev_root.is_dir():
        for dev_dir in dev_root.iterdir():
            for pid in device_pids(dev_dir).values():
                if pid and pid_alive(pid) and pid_netns_inode(pid) in inodes:
                    pids.add(pid)
    # sshd sessions, services started by other helpers
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and pid_netns_inode(int(entry.name)) in inodes:
            pids.add(int(entry.name))
    pids.discard(os.getpid())
    return pids


def _down() -> list[str]:
    """Tear down (caller holds the lock). Returns what was removed."""
    removed: list[str] = stop_simulators()
    ours = lab_namespaces()
    pids = _lab_pids({netns_inode(n) for n in ours} - {None})
    if pids:
        kill_pids(pids)
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
    for p in lab_written_files():
        if p.exists() and state.get("checkout", str(REPO)) == str(REPO):
            p.unlink()
            removed.append(str(p))
    if state.get("checkout", str(REPO)) == str(REPO):
        removed += remove_cloud_vars()
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
    _require_root()
    with locked():
        removed = _down()
    log("down: " + (", ".join(removed) if removed else "nothing to remove"))
    return 0


# ---- cloud-side faults (for rollback tests)
def _lab_params() -> dict[str, Any]:
    params = load_params()
    if params is None:
        raise LabError("no lab")
    return params


def _load_cloud_swanctl(params: dict[str, Any]) -> None:
    write(STATE / "dev" / "aws" / "etc-swanctl" / "swanctl.conf", cloud_swanctl(params), 0o600)
    dev_exec("aws", ["swanctl", "--load-all", "--clear"], check=True)


def _set_dx_key(params: dict[str, Any], key: str) -> None:
    """Set the cloud DX router's MD5 key through a 0600 command file (never on a command line, where
    every local user could read it in /proc)."""
    dxn = dx_customer_ip(params)
    fd, path = tempfile.mkstemp(prefix="stowpath-lab-", suffix=".vtysh", dir="/tmp")  # /tmp is shared with devices
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(f"router bgp {cloud_asn_of(params)}\n neighbor {dxn} password {key}\n")
        dev_exec("aws", ["vtysh", "-f", path], check=True)
    finally:
        os.unlink(path)
    dev_exec("aws", ["vtysh", "-c", f"clear bgp {dxn}"])


def cloud_break(what: str) -> int:
    params = _lab_params()
    if what == "vpn":
        broken = json.loads(json.dumps(params))
        for t in broken["vpn"]["tunnels"]:
            t["psk"] = random_psk(random.SystemRandom())
        _load_cloud_swanctl(broken)
        for t in params["vpn"]["tunnels"]:
            dev_exec("aws", ["swanctl", "--terminate", "--ike", f"cgw-{t['name']}", "--force"])
        log("cloud VPN now has different PSKs: the facility's tunnels cannot authenticate")
    elif what == "dx":
        _set_dx_key(params, random_auth_key(random.SystemRandom()))
        log("cloud DX router now has a different MD5 key: BGP over the VIF cannot establish")
    else:
        raise LabError("cloud-break vpn|dx")
    return 0


def cloud_repair() -> int:
    params = _lab_params()
    _load_cloud_swanctl(params)
    _set_dx_key(params, params["dx"]["auth_key"])
    log("cloud side restored to the parameters in the vendor files")
    return 0
