"""Guide steps 2-3 on a Linux gateway (strongSwan swanctl + FRR + nftables): push, keep, roll back.

Runs ON the gateway (an Ansible module over SSH), so it uses only the standard library.
Ownership on the device (paths are parameters; these are the defaults):

- ``/etc/swanctl/conf.d/stowpath.conf`` (Debian's swanctl.conf includes conf.d/*.conf), loaded with
  ``swanctl --load-all``; connections that disappear are terminated;
- ``/etc/frr/frr.conf`` (FRR's integrated config), applied with ``frr-reload.py`` (a replace-style diff
  against the running config, no daemon restart); the device's own ``hostname`` line is kept;
- ``/etc/nftables.d/stowpath.nft`` (table ``inet stowpath`` only, replaced atomically), included from
  ``/etc/nftables.conf`` so it survives a reboot.

Every apply first snapshots those files byte for byte into ``<state_dir>/backups/<id>/``; a rollback
restores the snapshot and reloads, so files and runtime return to exactly what they were.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from typing import Callable

from .fileutil import read_bytes
from .fileutil import write_atomic as _write_atomic

Runner = Callable[[list[str]], tuple[int, str, str]]

DEFAULT_PATHS = {
    "swanctl": "/etc/swanctl/conf.d/stowpath.conf",
    "frr": "/etc/frr/frr.conf",
    "nft": "/etc/nftables.d/stowpath.nft",
    "nft_main": "/etc/nftables.conf",
}
ARTIFACT_KEYS = {"swanctl.conf": "swanctl", "frr.conf": "frr", "nftables.conf": "nft"}
FRR_RELOAD = "/usr/lib/frr/frr-reload.py"
NFT_TABLE = ("inet", "stowpath")
KEEP_BACKUPS = 10


class GatewayError(RuntimeError):
    """A device command failed: carries the step and the device's own message."""

    def __init__(self, step: str, message: str) -> None:
        self.step = step
        super().__init__(f"{step}: {message.strip()}")


@dataclass
class Plan:
    files: dict[str, tuple[bytes | None, bytes]]  # path -> (current, intended), only those that differ
    reload: list[str]  # subsystems to reload: swanctl, frr, nft
    frr_changes: list[str]  # frr-reload's "Lines To Delete/Add" (masked later)
    idle: list[str]  # loaded IPsec children without an INSTALLED SA (initiated when applying)


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


def keep_identity(intended_frr: str, current_frr: bytes | None) -> str:
    """Carry the device's own ``hostname`` line into the intended FRR config (it is not ours)."""
    if re.search(r"^hostname ", intended_frr, re.M) or not current_frr:
        return intended_frr
    m = re.search(r"^hostname \S+$", current_frr.decode(errors="replace"), re.M)
    if not m:
        return intended_frr
    lines = intended_frr.splitlines(keepends=True)
    at = 1 if lines and lines[0].startswith("frr defaults") else 0
    return "".join(lines[:at] + [m.group(0) + "\n"] + lines[at:])


def parse_frr_reload(out: str) -> list[str]:
    """The changes ``frr-reload.py --test`` reports: ``- line`` to delete, ``+ line`` to add."""
    changes: list[str] = []
    section = None
    for raw in out.splitlines():
        line = raw.rstrip()
        if line.startswith("Lines To Delete"):
            section = "-"
        elif line.startswith("Lines To Add"):
            section = "+"
        elif section and line and not line.startswith("="):
            changes.append(f"{section} {line.strip()}")
    return changes


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
    return parse_frr_reload(out)


def swanctl_conns(run: Runner) -> str:
    rc, out, err = run(["swanctl", "--list-conns"])
    if rc != 0:
        raise GatewayError("swanctl --list-conns", err or out)
    return out


def conn_names(listing: str) -> set[str]:
    return set(re.findall(r"^(\S+): IKEv", listing, re.M))


def nft_table(run: Runner) -> str | None:
    rc, out, _ = run(["nft", "--stateless", "list", "table", *NFT_TABLE])  # no counters
    return out if rc == 0 else None


def runtime_state(run: Runner) -> dict[str, str | None]:
    """Fingerprints of the runtime state stowpath owns (loaded connections, our nft table)."""
    return {"swanctl": sha(swanctl_conns(run)), "nft": sha(nft_table(run))}


def load_state(state_dir: str) -> dict:
    data = read(os.path.join(state_dir, "state.json"))
    return json.loads(data) if data else {}


def save_state(state_dir: str, state: dict) -> None:
    write_atomic(os.path.join(state_dir, "state.json"), json.dumps(state, indent=2, sort_keys=True).encode())


def intended_files(artifacts: dict[str, str], paths: dict[str, str]) -> dict[str, bytes]:
    out = {}
    for name, key in ARTIFACT_KEYS.items():
        if name not in artifacts:
            raise GatewayError("input", f"artifact {name} is missing")
        out[paths[key]] = artifacts[name].encode()
    out[paths["nft_main"]] = with_include(read(paths["nft_main"]), paths["nft"])
    return out


def plan(run: Runner, artifacts: dict[str, str], paths: dict[str, str], state_dir: str) -> Plan:
    """Compare intended files and runtime with the device; nothing is changed."""
    artifacts = dict(artifacts, **{"frr.conf": keep_identity(artifacts["frr.conf"], read(paths["frr"]))})
    wanted = intended_files(artifacts, paths)
    files = {p: (read(p), data) for p, data in wanted.items() if read(p) != data}
    frr_changes = frr_pending(run, artifacts["frr.conf"])
    runtime = runtime_state(run)
    recorded = load_state(state_dir).get("runtime", {})
    rc, sas, _ = run(["swanctl", "--list-sas"])
    idle = idle_children(swanctl_conns(run), sas if rc == 0 else "")
    reload = []
    if paths["swanctl"] in files or runtime["swanctl"] != recorded.get("swanctl"):
        reload.append("swanctl")
    if frr_changes or paths["frr"] in files:
        reload.append("frr")
    if paths["nft"] in files or paths["nft_main"] in files or runtime["nft"] != recorded.get("nft"):
        reload.append("nft")
    return Plan(files=files, reload=reload, frr_changes=frr_changes, idle=idle)


def backup(state_dir: str, paths: dict[str, str], conns: set[str]) -> str:
    """Snapshot every file we own (or its absence) byte for byte; return the backup id."""
    backup_id = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"
    folder = os.path.join(state_dir, "backups", backup_id)
    os.makedirs(folder, mode=0o700)
    manifest = {}
    for key in ("swanctl", "frr", "nft", "nft_main"):
        path = paths[key]
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
    for gone in sorted(before - now):  # connections we removed: close their SAs too
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
    if "frr" in subsystems:
        reload_frr(run, paths["frr"])
    if "nft" in subsystems:
        reload_nft(run, paths["nft"])
    if "swanctl" in subsystems:
        reload_swanctl(run, before_conns)
    start_idle_children(run)


def idle_children(conns_listing: str, sas_listing: str) -> list[str]:
    """Children of loaded connections that have no INSTALLED CHILD_SA (``swanctl --list-sas``)."""
    children = re.findall(r"^  (\S+): TUNNEL", conns_listing, re.M)
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

    On any failure the backup is restored before the error propagates (nothing half-applied).
    """
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    before = conn_names(swanctl_conns(run))
    backup_id = backup(state_dir, paths, before)
    try:
        for path, (_, data) in p.files.items():
            mode = 0o644 if path == paths["nft_main"] else 0o640 if path == paths["frr"] else 0o600
            write_atomic(path, data, mode)
        reload_all(run, p.reload, paths, before)
    except BaseException:
        rollback(run, state_dir, backup_id, paths)
        raise
    state = load_state(state_dir)
    state.update(runtime=runtime_state(run), last_backup=backup_id, applied_at=time.time())
    save_state(state_dir, state)
    return backup_id


def rollback(run: Runner, state_dir: str, backup_id: str, paths: dict[str, str]) -> list[str]:
    """Restore a backup byte for byte (files, modes, owners) and reload; returns what was restored."""
    folder = os.path.join(state_dir, "backups", backup_id)
    manifest = json.loads(read(os.path.join(folder, "manifest.json")) or b"{}")
    if not manifest:
        raise GatewayError("rollback", f"no backup {backup_id} in {state_dir}")
    before = conn_names(swanctl_conns(run))
    restored = []
    for key in ("swanctl", "frr", "nft", "nft_main"):
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
