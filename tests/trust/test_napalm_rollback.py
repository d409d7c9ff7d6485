"""NAPALM: a rollback never makes things worse; every driver error ends clean; revert_in in minutes."""

from __future__ import annotations

import time
from typing import Any

import napalm
import pytest
from ansible_collections.stowpath.core.plugins.module_utils.platforms import get
from ansible_collections.stowpath.core.plugins.module_utils.transports import napalm_drv
from ansible_collections.stowpath.core.plugins.module_utils.transports.base import Change, ConnParams
from ansible_collections.stowpath.core.plugins.module_utils.transports.errors import (
    ConnectionLostError,
    DeviceRejectedError,
    TransportError,
)
from napalm.base import exceptions as nx


class FakeDriver:
    """Records calls; ``behaviour`` says what each method does."""

    behaviour: dict[str, Any] = {}
    calls: list[tuple[str, dict[str, Any]]] = []

    def __init__(self, **kw: Any) -> None:
        pass

    def _do(self, name: str, **kw: Any) -> Any:
        FakeDriver.calls.append((name, kw))
        what = FakeDriver.behaviour.get(name)
        if isinstance(what, BaseException) or (isinstance(what, type) and issubclass(what, BaseException)):
            raise what
        return what

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def load_merge_candidate(self, config: str) -> None:
        self._do("load_merge_candidate")

    def discard_config(self) -> None:
        self._do("discard_config")

    def commit_config(self, message: str = "", revert_in: int | None = None) -> None:
        self._do("commit_config", message=message, revert_in=revert_in)

    def has_pending_commit(self) -> bool:
        return self._do("has_pending_commit")

    def rollback(self) -> None:
        self._do("rollback")

    def confirm_commit(self) -> None:
        self._do("confirm_commit")


@pytest.fixture()
def transport(monkeypatch):
    monkeypatch.setattr(napalm, "get_network_driver", lambda name: FakeDriver)
    FakeDriver.behaviour, FakeDriver.calls = {}, []

    def make(platform: str = "junos", driver: str = "junos") -> napalm_drv.NapalmTransport:
        conn = ConnParams(host="r1", port=830, username="u", password="p", options={"napalm_driver": driver})
        return napalm_drv.NapalmTransport(get(platform), conn)

    return make


def names() -> list[str]:
    return [c[0] for c in FakeDriver.calls]


def change() -> Change:
    return Change(text_diff="", commands=["+x"], payload=("set x", "merge"))


def test_no_rollback_after_the_device_reverted_by_itself(transport):
    t = transport()
    FakeDriver.behaviour = {"has_pending_commit": False}
    pending = {"deadline": time.time() - 5}
    assert "already reverted" in t.recover(pending)
    assert "already reverted" in t.rollback(pending)
    assert "rollback" not in names()


def test_unknown_pending_state_is_never_a_blind_rollback(transport):
    t = transport()
    FakeDriver.behaviour = {"has_pending_commit": RuntimeError("rpc failed")}
    assert "reverted by itself" in t.recover({"deadline": time.time() - 5})
    with pytest.raises(TransportError, match="no rollback was sent"):
        t.rollback({"deadline": time.time() + 300})
    assert "rollback" not in names()


def test_rollback_of_a_pending_commit(transport):
    t = transport()
    FakeDriver.behaviour = {"has_pending_commit": True}
    assert "previous configuration restored" in t.rollback({"deadline": time.time() + 300})
    assert names()[-1] == "rollback"


def test_rollback_close_to_the_timer_waits_for_the_device(transport, monkeypatch):
    t = transport()
    answers = iter([True, False])
    FakeDriver.behaviour = {}
    monkeypatch.setattr(t.dev, "has_pending_commit", lambda: next(answers))
    slept: list[float] = []
    monkeypatch.setattr(napalm_drv.time, "sleep", slept.append)
    assert "already reverted" in t.rollback({"deadline": time.time() + 10})
    assert slept and "rollback" not in names()


@pytest.mark.parametrize(("error", "kind"), [
    (nx.CommitError("bad"), DeviceRejectedError),
    (nx.CommitConfirmException("revert_in"), DeviceRejectedError),
    (nx.ConnectionClosedException("gone"), ConnectionLostError),
    (EOFError(), ConnectionLostError),
    (KeyError("weird"), TransportError),
])
def test_commit_errors_end_clean_with_the_candidate_discarded(transport, error, kind):
    t = transport()
    FakeDriver.behaviour = {"commit_config": error}
    with pytest.raises(kind):
        t.apply(change(), 120, "tok")
    assert names()[-1] == "discard_config"


def test_pyez_rpc_timeout_is_a_lost_connection(transport):
    from jnpr.junos.exception import RpcTimeoutError

    t = transport()
    FakeDriver.behaviour = {"commit_config": RpcTimeoutError(dev=type("D", (), {"hostname": "r1"})(), cmd="commit",
                                                              timeout=30)}
    with pytest.raises(ConnectionLostError, match="reverts by itself after 120 s"):
        t.apply(change(), 120, "tok")
    assert names()[-1] == "discard_config"


def test_revert_in_is_whole_minutes(transport):
    t = transport()
    assert t.apply(change(), 100, "tok") == {"revert_in": 120}
    commit = next(kw for n, kw in FakeDriver.calls if n == "commit_config")
    assert commit["revert_in"] == 120 and commit["message"] == "stowpath push tok"
    assert napalm_drv.revert_in(1) == 60 and napalm_drv.revert_in(300) == 300


def test_napalm_ios_push_sends_no_commit_message(transport):
    t = transport("cisco_iosxe", "ios")
    assert t.apply(change(), 300, "tok") == {"revert_in": 300}
    commit = next(kw for n, kw in FakeDriver.calls if n == "commit_config")
    assert commit["message"] == ""  # the ios driver raises NotImplementedError for any message
    with pytest.raises(TransportError, match="at most 7200 s"):
        t.apply(change(), 9000, "tok")
