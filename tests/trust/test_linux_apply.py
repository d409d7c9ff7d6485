"""Linux gateway apply: per-gateway lock, "applying" marker recovered next run, SIGHUP ignored, and a
failed rollback reported as such (never "restored"); atomic writes fsync."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from ansible_collections.stowpath.core.plugins.module_utils import fileutil
from ansible_collections.stowpath.core.plugins.module_utils import linux_gateway as lg
from ansible_collections.stowpath.core.plugins.module_utils.platforms import get
from ansible_collections.stowpath.core.plugins.module_utils.transports.base import ConnParams, TransportError
from ansible_collections.stowpath.core.plugins.module_utils.transports.linux import LinuxTransport


def paths(tmp: Path) -> dict[str, str]:
    return {"swanctl": str(tmp / "swanctl.conf"), "frr": str(tmp / "frr.conf"), "nft": str(tmp / "n" / "s.nft"),
            "nft_main": str(tmp / "nftables.conf")}


class Runner:
    def __init__(self, fail: set[str] | None = None) -> None:
        self.fail = fail or set()
        self.calls: list[list[str]] = []
        self.hup: list[object] = []

    def __call__(self, argv: list[str]) -> tuple[int, str, str]:
        self.calls.append(argv)
        self.hup.append(signal.getsignal(signal.SIGHUP))
        key = " ".join(argv[:2])
        if any(key.startswith(f) for f in self.fail):
            return 1, "", f"{key} failed"
        return 0, "", ""


def plan(p: dict[str, str]) -> lg.Plan:
    return lg.Plan(files={p["swanctl"]: (None, b"new\n")}, reload=["nft"], frr_changes=[], idle=[])


def test_apply_ignores_sighup_and_clears_its_marker(tmp_path):
    p, state = paths(tmp_path), str(tmp_path / "state")
    run = Runner()
    lg.apply(run, plan(p), p, state)
    assert signal.SIG_IGN in run.hup and signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN
    assert not os.path.exists(os.path.join(state, lg.MARKER))


def test_interrupted_apply_is_recovered_by_the_next_run(tmp_path):
    p, state = paths(tmp_path), str(tmp_path / "state")
    Path(p["swanctl"]).write_text("old\n")
    Path(p["frr"]).write_text("hostname gw\n")
    backup_id = lg.backup(state, p, set())
    Path(os.path.join(state, lg.MARKER)).write_text(f'{{"backup_id": "{backup_id}"}}')
    Path(p["swanctl"]).write_text("half-applied\n")  # the run died here
    assert lg.interrupted(state) == backup_id
    msg = lg.recover_interrupted(Runner(), state, p)
    assert msg and backup_id in msg and Path(p["swanctl"]).read_text() == "old\n"
    assert lg.interrupted(state) is None


def test_a_second_apply_waits_for_the_gateway_lock(tmp_path):
    state = str(tmp_path / "state")
    import subprocess
    import sys

    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time; os.makedirs(sys.argv[1], exist_ok=True); "
        "fd = os.open(os.path.join(sys.argv[1], 'gateway.lock'), os.O_RDWR | os.O_CREAT); "
        "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(5)"), state], stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == b"held"
        with pytest.raises(lg.GatewayError, match="another stowpath run holds"):
            with lg.gateway_lock(state, wait_s=0.3):
                pass
    finally:
        holder.kill()
        holder.wait()


def test_failed_rollback_says_both_errors_and_never_restored(tmp_path):
    p, state = paths(tmp_path), str(tmp_path / "state")
    run = Runner(fail={"nft -f", "nft delete"})
    Path(p["nft"]).parent.mkdir(parents=True, exist_ok=True)
    Path(p["nft"]).write_text("table inet stowpath {}\n")
    with pytest.raises(lg.RollbackFailedError) as err:
        lg.apply(run, plan(p), p, state)
    assert "ALSO failed" in str(err.value) and "NOT restored" in str(err.value)
    assert lg.interrupted(state)  # the marker stays: the next run retries the restore
    t = LinuxTransport(get("linux_strongswan"), ConnParams(host="gw", port=22, username="root"), run=run,
                       paths=p, state_dir=str(tmp_path / "state2"))
    change = type("C", (), {"payload": plan(p)})()
    with pytest.raises(TransportError) as terr:
        t.apply(change, 60, "tok")  # type: ignore[arg-type]
    assert terr.value.rolled_back is False and "was restored" not in terr.value.message
    assert "ALSO failed" in terr.value.message


def test_atomic_write_fsyncs(tmp_path, monkeypatch):
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(fileutil.os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    fileutil.write_atomic(str(tmp_path / "f"), b"x")
    assert len(synced) >= 2  # the data and the directory entry


def test_push_recovers_a_marker_no_journal_names_and_says_so(tmp_path):
    """The apply died after its marker, and the journal was gone (cleared, or never written): the next push
    restores the marker's snapshot first and its result names the recovery."""
    from ansible_collections.stowpath.core.plugins.module_utils.transports import push as P

    p, state = paths(tmp_path), str(tmp_path / "state")
    Path(p["swanctl"]).write_text("old\n")
    Path(p["frr"]).write_text("hostname gw\n")
    backup_id = lg.backup(state, p, set())
    Path(os.path.join(state, lg.MARKER)).write_text(f'{{"backup_id": "{backup_id}"}}')
    Path(p["swanctl"]).write_text("half-applied\n")
    transports: list[LinuxTransport] = []

    def opener(platform, name, conn, secrets=None):  # type: ignore[no-untyped-def]
        t = LinuxTransport(get("linux_strongswan"), conn, secrets, run=Runner(), paths=p, state_dir=state)
        t.diff = lambda *a, **k: (_ for _ in ()).throw(TransportError("stop after the recovery"))  # type: ignore[method-assign]
        transports.append(t)
        return t

    conn = ConnParams(host="gw", port=22, username="root")
    with pytest.raises(P.PushError) as err:
        P.push("linux_strongswan", "linux", conn, None, intended={}, state_dir=str(tmp_path / "push"),
               owner="site", opener=opener, check_mode=True)
    assert "a real run restores it first" in " ".join(err.value.result["notes"])
    assert Path(p["swanctl"]).read_text() == "half-applied\n"  # check mode changed nothing
    with pytest.raises(P.PushError) as err:
        P.push("linux_strongswan", "linux", conn, None, intended={}, state_dir=str(tmp_path / "push"),
               owner="site", opener=opener)
    said = err.value.result["recovered"]
    assert said and "an earlier apply was interrupted" in said and backup_id in said
    assert Path(p["swanctl"]).read_text() == "old\n" and lg.interrupted(state) is None
