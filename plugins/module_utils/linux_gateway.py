"""Guide steps 2-3 on a Linux gateway (strongSwan swanctl + FRR + nftables): push, keep, roll back.

Runs ON the gateway (an Ansible module over SSH), so it uses only the standard library.
Ownership on the device (paths are parameters; these are the defaults):

- ``/etc/swanctl/conf.d/stowpath.conf`` (Debian's swanctl.conf includes conf.d/*.conf), loaded with
  ``swanctl --load-all``; connections that disappear are terminated;
- stowpath's sections of ``/etc/frr/frr.conf`` (FRR's integrated config), applied with ``frr-reload.py``
  (a replace-style diff against the running config, no daemon restart); the facility's own sections
  and its own lines of a shared ``router bgp`` (:mod:`.drift.frr`) are carried into the file as they
  are, so onboarding never removes them;
- ``/etc/nftables.d/stowpath.nft`` (table ``inet stowpath`` only, replaced atomically), included from
  ``/etc/nftables.conf`` so it survives a reboot.

Every apply first snapshots those files byte for byte into ``<state_dir>/backups/<id>/``; a rollback
restores the snapshot and reloads, so files and runtime return to exactly what they were.

An apply holds the gateway's lock (``<state_dir>/gateway.lock``, whatever checkout or controller
runs it), ignores SIGHUP (a dropped SSH session does not kill it half way), and writes an
"applying" marker (``<state_dir>/applying.json``, naming the snapshot) before it changes anything:
a run that died mid-apply leaves the marker, and the next apply or rollback restores that snapshot
first and says so. When the rollback itself fails, the error says both failures and the marker stays.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

from .drift import frr as frr_own
from .fileutil import flock_wait, read_bytes
from .fileutil import write_atomic as _write_atomic

Runner = Callable[[list[str]], tuple[int, str, str]]

DEFAULT_PATHS = {
    "swanctl": "/etc/swanctl/conf.d/stowpath.conf",
    "frr": "/etc/frr/frr.conf",
    "nft": "/etc/nftables.d/stowpath.nft",
    "nft_main": "/etc/nftables.conf",
}
ARTIFACT_KEYS = {"swanctl.conf": "swanctl", "frr.conf": "frr", "nftables.conf": "nft"}
# The kernel IPsec data plane (swanctl.conf names the XFRM interfaces in its children's updown lines):
# sysctls, charon's retransmit timing (dead peer detection in about 30 s) and the updown script that
# creates a missing XFRM interface. Not installed for the libipsec layout.
DATAPLANE_PATHS = {
    "sysctl": "/etc/sysctl.d/90-stowpath.conf",
    "charon": "/etc/strongswan.d/stowpath.conf",
    "updown": "/etc/swanctl/stowpath-xfrm-updown",
}
UPDOWN_LINE = re.compile(r"^\s*updown = (\S+stowpath-xfrm-updown) (\S+) (\S+) (\d+) (\d+)$", re.M)
CHARON_TIMING = ("# Managed by stowpath: IKEv2 retransmits, so that dead peer detection notices a dead tunnel\n"
                 "# in about 30 s (dpd_delay 10 s + 3 + 4.2 + 5.9 + 8.2 s of retransmits).\n"
                 "charon {\n    retransmit_timeout = 3.0\n    retransmit_base = 1.4\n    retransmit_tries = 3\n}\n")
XFRM_UPDOWN = """#!/bin/sh
# Managed by stowpath: the XFRM interface of one IPsec tunnel (kernel data plane), created when missing.
# Called by charon (updown) with: NAME DEV IF_ID MTU
name=$1 dev=$2 if_id=$3 mtu=$4
case "${PLUTO_VERB:-up-client}" in
up-client|up-host)
    ip link show "$name" >/dev/null 2>&1 || ip link add "$name" type xfrm dev "$dev" if_id "$if_id"
    sysctl -qw "net.ipv4.conf.$name.rp_filter=2"
    ip link set "$name" mtu "$mtu" up
    ;;
esac
exit 0
"""
FRR_RELOAD = "/usr/lib/frr/frr-reload.py"
NFT_TABLE = ("inet", "stowpath")
KEEP_BACKUPS = 10


class GatewayError(RuntimeError):
    """A device command failed: carries the step and the device's own message."""

    def __init__(self, step: str, message: str) -> None:
        self.step = step
        super().__init__(f"{step}: {message.strip()}")


class RollbackFailedError(GatewayError):
    """The apply failed AND restoring the snapshot failed: the gateway may hold a partial configuration."""

    def __init__(self, error: BaseException, rollback_error: BaseException, backup_id: str) -> None:
        self.error = error
        self.rollback_error = rollback_error
        self.backup_id = backup_id
        super().__init__("apply", f"{error}; then the rollback to snapshot {backup_id} ALSO failed: {rollback_error}. "
                                  "The previous configuration was NOT restored; the next run retries the restore")


COMMAND_TIMEOUT_S = 120


def timed(run: Runner, seconds: int = COMMAND_TIMEOUT_S) -> Runner:
    """``run`` with every command under coreutils' ``timeout`` (killed 5 s after ``seconds``): a hung
    daemon client can never hold the gateway's lock for ever."""
    def wrapped(cmd: list[str]) -> tuple[int, str, str]:
        rc, out, err = run(["timeout", "-k", "5", str(seconds), *cmd])
        if rc == 124:
            err = f"{' '.join(cmd[:3])} did not finish within {seconds} s (killed). {err}"
        return rc, out, err

    return wrapped


MARKER = "applying.json"
LOCK_WAIT_S = 60.0
_HELD: set[str] = set()


@contextlib.contextmanager
def gateway_lock(state_dir: str, wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
    """The gateway's exclusive lock (``flock``; re-entrant within one process)."""
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    path = os.path.join(state_dir, "gateway.lock")
    if path in _HELD:
        yield
        return
    def busy(_fd: int) -> GatewayError:
        return GatewayError("lock", f"another stowpath run holds {path} (waited {wait_s:.0f} s)")

    with flock_wait(path, wait_s, busy):
        _HELD.add(path)
        try:
            yield
        finally:
            _HELD.discard(path)


@contextlib.contextmanager
def no_hangup() -> Iterator[None]:
    """SIGHUP ignored while the gateway changes (a closed SSH session must not stop an apply half way)."""
    try:
        old = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGHUP, old)


def interrupted(state_dir: str) -> str | None:
    """The snapshot of an apply that never finished (its marker is still there), else None."""
    data = read(os.path.join(state_dir, MARKER))
    if not data:
        return None
    try:
        return str(json.loads(data)["backup_id"])
    except (ValueError, KeyError, TypeError):
        return None


def recover_interrupted(run: Runner, state_dir: str, paths: dict[str, str]) -> str | None:
    """Restore the snapshot of an interrupted apply; returns a sentence, or None when nothing was pending."""
    with gateway_lock(state_dir):
        backup_id = interrupted(state_dir)
        if backup_id is None:
            return None
        restored = rollback(run, state_dir, backup_id, paths)
        return (f"an earlier apply was interrupted: restored its snapshot {backup_id} "
                f"({', '.join(restored) or 'files unchanged'})")


@dataclass
class Plan:
    files: dict[str, tuple[bytes | None, bytes]]  # path -> (current, intended), only those that differ
    reload: list[str]  # subsystems to reload: swanctl, frr, nft
    frr_changes: list[str]  # frr-reload's "Lines To Delete/Add" (masked later)
    idle: list[str]  # loaded IPsec children without an INSTALLED SA (initiated when applying)
    frr_owned: list[str] = field(default_factory=list)  # Ownership.fingerprint() of the intended FRR config


def sha(data: bytes | str | None) -> str | None:
    if data is None:
        return None
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def read(path: str) -> bytes | None:
    return read_bytes(path)


def write_atomic(path: str, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` in one step, keeping the owner and group of the file it replaces."""
    _write_atomic(path, data, mode, keep_owner=True)


def nft_include_line(nft_path: str) -> str:
    return f'include "{os.path.dirname(nft_path)}/*.nft"'


def with_include(main: bytes | None, nft_path: str) -> bytes:
    """``/etc/nftables.conf`` with our include line appended (unchanged if it is already there)."""
    text = (main or b"#!/usr/sbin/nft -f\n").decode()
    line = nft_include_line(nft_path)
    if line in text.splitlines():
        return text.encode()
    return (text.rstrip("\n") + "\n" + "# stowpath: the path to the cloud DICOMweb service\n" + line + "\n").encode()


def frr_running(run: Runner) -> str:
    """FRR's running configuration (empty when vtysh cannot tell)."""
    rc, out, _ = run(["vtysh", "-c", "show running-config"])
    return out if rc == 0 else ""


def frr_with_facility(run: Runner, intended: str, current: bytes | None, state_dir: str,
                      running: str | None = None) -> tuple[str, frr_own.Ownership]:
    """stowpath's rendered FRR config plus the facility's own sections (running config and file).

    stowpath owns only its sections (:mod:`.drift.frr`); everything else in ``/etc/frr/frr.conf`` and
    in the running config (the device's ``hostname``, the facility's routes, prefix-lists, interfaces
    and its own lines of a shared ``router bgp``) is carried along unchanged.
    """
    sources = [frr_running(run) if running is None else running, (current or b"").decode(errors="replace")]
    own = frr_own.Ownership(intended, sources, load_state(state_dir).get("frr_owned"))
    try:
        return frr_own.merge_facility(intended, sources, own), own
    except frr_own.OwnershipConflict as exc:
        raise GatewayError("frr", f"{exc}: stowpath cannot share it; nothing was changed") from None


def frr_pending(run: Runner, intended: str) -> list[str]:
    """What applying ``intended`` would change in FRR's running config (empty: in sync)."""
    with tempfile.TemporaryDirectory(prefix="stowpath-") as tmp:
        path = os.path.join(tmp, "frr.conf")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(intended)
        os.chmod(path, 0o600)
        rc, out, err = run([FRR_RELOAD, "--test", "--stdout", path])
    if rc != 0:
        raise GatewayError("frr-reload --test", err or out)
    return [f"{c.op} {c.line.strip()}" for c in frr_own.parse_reload(out)]


def swanctl_conns(run: Runner) -> str:
    rc, out, err = run(["swanctl", "--list-conns"])
    if rc != 0:
        raise GatewayError("swanctl --list-conns", err or out)
    return out


def conn_names(listing: str) -> set[str]:
    return set(re.findall(r"^(\S+): IKEv", listing, re.M))


OWN_CONN_PREFIX = "stowpath-"


def own_listing(listing: str) -> str:
    """Only stowpath's connections of ``swanctl --list-conns`` (the facility's own are not ours)."""
    out: list[str] = []
    keep = False
    for line in listing.splitlines(keepends=True):
        if line[:1].strip():
            keep = line.startswith(OWN_CONN_PREFIX)
        if keep:
            out.append(line)
    return "".join(out)


def nft_table(run: Runner) -> str | None:
    rc, out, _ = run(["nft", "--stateless", "list", "table", *NFT_TABLE])  # no counters
    return out if rc == 0 else None


def runtime_state(run: Runner) -> dict[str, str | None]:
    """Fingerprints of the runtime state stowpath owns (loaded connections, our nft table)."""
    return {"swanctl": sha(own_listing(swanctl_conns(run))), "nft": sha(nft_table(run))}


def load_state(state_dir: str) -> dict:
    data = read(os.path.join(state_dir, "state.json"))
    return json.loads(data) if data else {}


def save_state(state_dir: str, state: dict) -> None:
    write_atomic(os.path.join(state_dir, "state.json"), json.dumps(state, indent=2, sort_keys=True).encode())


def xfrm_interfaces(swanctl: str) -> list[tuple[str, str, int, int]]:
    """(name, underlying device, if_id, mtu) of every XFRM interface the swanctl config routes over."""
    return [(m.group(2), m.group(3), int(m.group(4)), int(m.group(5))) for m in UPDOWN_LINE.finditer(swanctl)]


def dataplane_files(swanctl: str, paths: dict[str, str]) -> dict[str, bytes]:
    """The kernel data plane's files (none for the libipsec layout)."""
    ifaces = xfrm_interfaces(swanctl)
    if not ifaces:
        return {}
    sysctl = ["# Managed by stowpath: IPv4 forwarding; loose reverse-path filtering on the tunnel interfaces",
              "# (replies may come back on the other tunnel). XFRM interfaces need no disable_policy/disable_xfrm.",
              "net.ipv4.ip_forward = 1"] + [f"net.ipv4.conf.{name}.rp_filter = 2" for name, *_ in ifaces]
    return {paths.get("sysctl", DATAPLANE_PATHS["sysctl"]): ("\n".join(sysctl) + "\n").encode(),
            paths.get("charon", DATAPLANE_PATHS["charon"]): CHARON_TIMING.encode(),
            paths.get("updown", DATAPLANE_PATHS["updown"]): XFRM_UPDOWN.encode()}


def dataplane_missing(run: Runner, swanctl: str) -> list[str]:
    """What of the kernel data plane is not in place on the device (interfaces, sysctls)."""
    missing = []
    for name, _, if_id, _ in xfrm_interfaces(swanctl):
        rc, out, _ = run(["ip", "-d", "-o", "link", "show", name])
        if rc != 0 or "xfrm" not in out or f"if_id {hex(if_id)}" not in out:
            missing.append(f"xfrm interface {name} (if_id {if_id})")
        rc, out, _ = run(["sysctl", "-n", f"net.ipv4.conf.{name}.rp_filter"])
        if rc != 0 or out.strip() != "2":
            missing.append(f"net.ipv4.conf.{name}.rp_filter = 2")
    if xfrm_interfaces(swanctl):
        rc, out, _ = run(["sysctl", "-n", "net.ipv4.ip_forward"])
        if rc != 0 or out.strip() != "1":
            missing.append("net.ipv4.ip_forward = 1")
    return missing


def reload_dataplane(run: Runner, swanctl: str, paths: dict[str, str]) -> None:
    """Create the XFRM interfaces, apply the sysctls and charon's timing; verify the result."""
    updown = paths.get("updown", DATAPLANE_PATHS["updown"])
    for name, dev, if_id, mtu in xfrm_interfaces(swanctl):
        rc, out, err = run([updown, name, dev, str(if_id), str(mtu)])
        if rc != 0:
            raise GatewayError(f"create xfrm interface {name}", err or out)
    if xfrm_interfaces(swanctl):
        rc, out, err = run(["sysctl", "-p", paths.get("sysctl", DATAPLANE_PATHS["sysctl"])])
        if rc != 0:
            raise GatewayError("sysctl -p", err or out)
        run(["swanctl", "--reload-settings"])
    left = dataplane_missing(run, swanctl)
    if left:
        raise GatewayError("kernel data plane", "not in place after applying: " + "; ".join(left))


def intended_files(artifacts: dict[str, str], paths: dict[str, str]) -> dict[str, bytes]:
    out = {}
    for name, key in ARTIFACT_KEYS.items():
        if name not in artifacts:
            raise GatewayError("input", f"artifact {name} is missing")
        out[paths[key]] = artifacts[name].encode()
    out[paths["nft_main"]] = with_include(read(paths["nft_main"]), paths["nft"])
    out.update(dataplane_files(artifacts["swanctl.conf"], paths))
    return out


def plan(run: Runner, artifacts: dict[str, str], paths: dict[str, str], state_dir: str) -> Plan:
    """Compare intended files and runtime with the device; nothing is changed."""
    merged, own = frr_with_facility(run, artifacts["frr.conf"], read(paths["frr"]), state_dir)
    artifacts = dict(artifacts, **{"frr.conf": merged})
    wanted = intended_files(artifacts, paths)
    files = {p: (read(p), data) for p, data in wanted.items() if read(p) != data}
    frr_changes = frr_pending(run, artifacts["frr.conf"])
    runtime = runtime_state(run)
    recorded = load_state(state_dir).get("runtime", {})
    rc, sas, _ = run(["swanctl", "--list-sas"])
    idle = idle_children(swanctl_conns(run), sas if rc == 0 else "")
    reload = []
    dataplane = dataplane_files(artifacts["swanctl.conf"], paths)
    if any(p in files for p in dataplane) or dataplane_missing(run, artifacts["swanctl.conf"]):
        reload.append("dataplane")
    if paths["swanctl"] in files or runtime["swanctl"] != recorded.get("swanctl"):
        reload.append("swanctl")
    if frr_changes or paths["frr"] in files:
        reload.append("frr")
    if paths["nft"] in files or paths["nft_main"] in files or runtime["nft"] != recorded.get("nft"):
        reload.append("nft")
    return Plan(files=files, reload=reload, frr_changes=frr_changes, idle=idle, frr_owned=own.fingerprint())


def backup(state_dir: str, paths: dict[str, str], conns: set[str]) -> str:
    """Snapshot every file we own (or its absence) byte for byte; return the backup id."""
    backup_id = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"
    folder = os.path.join(state_dir, "backups", backup_id)
    os.makedirs(folder, mode=0o700)
    manifest = {}
    for key in ("swanctl", "frr", "nft", "nft_main", *DATAPLANE_PATHS):
        path = paths.get(key, DATAPLANE_PATHS.get(key, ""))
        data = read(path)
        entry = {"path": path, "exists": data is not None}
        if data is not None:
            st = os.stat(path)
            entry.update(mode=st.st_mode & 0o7777, uid=st.st_uid, gid=st.st_gid, sha256=sha(data))
            write_atomic(os.path.join(folder, key), data)
        manifest[key] = entry
    manifest["conns"] = sorted(conns)
    write_atomic(os.path.join(folder, "manifest.json"), json.dumps(manifest, indent=2).encode())
    prune(state_dir)
    return backup_id


def prune(state_dir: str, keep: int = KEEP_BACKUPS) -> None:
    folder = os.path.join(state_dir, "backups")
    for old in sorted(os.listdir(folder))[:-keep]:
        shutil.rmtree(os.path.join(folder, old), ignore_errors=True)


def reload_swanctl(run: Runner, before: set[str]) -> None:
    rc, out, err = run(["swanctl", "--load-all", "--noprompt"])
    if rc != 0 or "invalid config file" in out or re.search(r"^loading .* failed|failed to load", out, re.M):
        raise GatewayError("swanctl --load-all", err or out)
    now = conn_names(swanctl_conns(run))
    for gone in sorted(n for n in before - now if n.startswith(OWN_CONN_PREFIX)):  # ours, removed: close their SAs
        run(["swanctl", "--terminate", "--ike", gone, "--force", "--timeout", "5"])


def reload_frr(run: Runner, path: str) -> None:
    rc, out, err = run([FRR_RELOAD, "--reload", "--stdout", path])
    if rc != 0:
        raise GatewayError("frr-reload --reload", err or out)
    left = frr_pending(run, read(path).decode())
    if left:
        raise GatewayError("frr-reload --reload", "FRR did not take these lines: " + "; ".join(left[:10]))


def reload_nft(run: Runner, nft_path: str) -> None:
    if os.path.exists(nft_path):
        rc, out, err = run(["nft", "-f", nft_path])
        if rc != 0:
            raise GatewayError("nft -f", err or out)
    elif nft_table(run) is not None:
        rc, out, err = run(["nft", "delete", "table", *NFT_TABLE])
        if rc != 0:
            raise GatewayError("nft delete table", err or out)


def reload_all(run: Runner, subsystems: list[str], paths: dict[str, str], before_conns: set[str]) -> None:
    """FRR first (it owns the tunnel inside addresses: kernel-libipsec refuses a CHILD_SA whose inside
    address is not on the route interface yet), then the firewall, then IPsec."""
    if "dataplane" in subsystems:
        reload_dataplane(run, (read(paths["swanctl"]) or b"").decode(), paths)
    if "frr" in subsystems:
        reload_frr(run, paths["frr"])
    if "nft" in subsystems:
        reload_nft(run, paths["nft"])
    if "swanctl" in subsystems:
        reload_swanctl(run, before_conns)
    start_idle_children(run)


def idle_children(conns_listing: str, sas_listing: str) -> list[str]:
    """Children of stowpath's loaded connections that have no INSTALLED CHILD_SA (``swanctl --list-sas``)."""
    children = re.findall(r"^  (\S+): TUNNEL", own_listing(conns_listing), re.M)
    installed = set(re.findall(r"^  (\S+): #\d+, reqid \d+, INSTALLED", sas_listing, re.M))
    return [c for c in children if c not in installed]


def start_idle_children(run: Runner) -> list[str]:
    """``swanctl --load-all`` starts only new or changed connections: after an outage or a failed
    authentication an unchanged connection would stay down, so initiate every idle child."""
    rc, sas, _ = run(["swanctl", "--list-sas"])
    idle = idle_children(swanctl_conns(run), sas if rc == 0 else "")
    for child in idle:
        run(["swanctl", "--initiate", "--child", child, "--timeout", "5"])
    return idle


def apply(run: Runner, p: Plan, paths: dict[str, str], state_dir: str) -> str:
    """Back up, write the files of the plan, reload what changed; returns the backup id.

    On any failure the backup is restored before the error propagates (nothing half-applied); if that
    restore fails too, :class:`RollbackFailedError` says both.
    """
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    with gateway_lock(state_dir), no_hangup():
        recover_interrupted(run, state_dir, paths)
        before = conn_names(swanctl_conns(run))
        backup_id = backup(state_dir, paths, before)
        write_atomic(os.path.join(state_dir, MARKER),
                     json.dumps({"backup_id": backup_id, "pid": os.getpid(), "started": time.time()}).encode())
        try:
            for path, (_, data) in p.files.items():
                mode = (0o644 if path in (paths["nft_main"], paths.get("sysctl", DATAPLANE_PATHS["sysctl"]))
                    else 0o755 if path == paths.get("updown", DATAPLANE_PATHS["updown"])
                    else 0o640 if path == paths["frr"] else 0o600)
                write_atomic(path, data, mode)
            reload_all(run, p.reload, paths, before)
        except BaseException as exc:
            try:
                rollback(run, state_dir, backup_id, paths)
            except BaseException as rb_exc:  # noqa: BLE001 - reported together with the first error
                raise RollbackFailedError(exc, rb_exc, backup_id) from exc
            raise
        state = load_state(state_dir)
        state.update(runtime=runtime_state(run), last_backup=backup_id, applied_at=time.time())
        if p.frr_owned:
            state["frr_owned"] = p.frr_owned
        save_state(state_dir, state)
        _clear_marker(state_dir)
    return backup_id


def _clear_marker(state_dir: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(state_dir, MARKER))


def rollback(run: Runner, state_dir: str, backup_id: str, paths: dict[str, str]) -> list[str]:
    """Restore a backup byte for byte (files, modes, owners) and reload; returns what was restored.

    Clears the "applying" marker only once the restore succeeded."""
    with gateway_lock(state_dir), no_hangup():
        restored = _rollback(run, state_dir, backup_id, paths)
        _clear_marker(state_dir)
    return restored


def _rollback(run: Runner, state_dir: str, backup_id: str, paths: dict[str, str]) -> list[str]:
    folder = os.path.join(state_dir, "backups", backup_id)
    manifest = json.loads(read(os.path.join(folder, "manifest.json")) or b"{}")
    if not manifest:
        raise GatewayError("rollback", f"no backup {backup_id} in {state_dir}")
    before = conn_names(swanctl_conns(run))
    restored = []
    for key in ("swanctl", "frr", "nft", "nft_main", *DATAPLANE_PATHS):
        if key not in manifest:
            continue
        entry = manifest[key]
        path = entry["path"]
        if entry["exists"]:
            data = read(os.path.join(folder, key))
            if read(path) != data:
                write_atomic(path, data, entry["mode"])
                restored.append(path)
            os.chmod(path, entry["mode"])
            os.chown(path, entry["uid"], entry["gid"])
        elif os.path.exists(path):
            os.unlink(path)
            restored.append(path)
    reload_all(run, ["nft", "frr", "swanctl"], paths, before)
    state = load_state(state_dir)
    state.update(runtime=runtime_state(run), rolled_back=backup_id)
    save_state(state_dir, state)
    return restored
