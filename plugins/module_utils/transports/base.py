"""One transport interface for pushing a gateway configuration to a vendor router.

The push is a small transaction spread over two module calls, so that the playbook can verify in
between::

    t = open_transport(...)              # stowpath.core.gateway_push action=push
    change = t.diff(intended, mode)      #   exact change, secrets masked (check mode stops here)
    pending = t.apply(change, timeout, token)  #   commit-confirmed (or equivalent), returns the journal data
    ... playbook verifies tunnels/BGP/routes ...
    t.confirm(pending)                   # action=confirm: make it permanent (save / confirm commit)
    t.rollback(pending)                  # action=rollback: undo (device rollback / restore saved config)

``recover(pending)`` handles a push that was never confirmed (run interrupted, connection lost): the
NETCONF/NAPALM device rolls back by itself at the confirm timeout; the CLI transport restores the
pre-change configuration it saved in the journal.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

from .errors import TransportError


@dataclass
class ConnParams:
    host: str
    port: int
    username: str
    password: str | None = None
    key_file: str | None = None
    enable_secret: str | None = None
    timeout: int = 20
    options: dict[str, Any] = field(default_factory=dict)  # transport-specific (napalm driver, device_type...)

    def secrets(self) -> list[str]:
        return [s for s in (self.password, self.enable_secret) if s]


@dataclass
class Change:
    """What a push would do. ``text_diff``/``commands`` are masked; ``payload`` is what is sent (secrets)."""

    text_diff: str
    commands: list[str]
    payload: Any = None
    conflicts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    scope: list[str] = field(default_factory=list)
    running: str = ""  # the running configuration the diff was computed from (secrets: journal only)

    @property
    def changed(self) -> bool:
        return bool(self.commands)


class Transport(abc.ABC):
    """Base class: one instance = one session to one device."""

    name = "base"
    #: True when the device itself rolls back an unconfirmed change (commit confirmed).
    device_side_rollback = False
    #: What ``confirm`` does, in words (the result says it).
    confirm_message = "confirmed"

    def __init__(self, spec: Any, conn: ConnParams, secrets: list[str] | None = None) -> None:
        self.spec = spec
        self.platform = spec.name
        self.conn = conn
        self.secrets = list(secrets or []) + conn.secrets()

    # -- the interface
    @abc.abstractmethod
    def get_running(self) -> str:
        """The device's running configuration (CLI text or XML)."""

    @abc.abstractmethod
    def diff(self, intended: str, mode: str = "merge", previous: str | None = None) -> Change:
        """The exact change that makes the device match ``intended``; nothing is changed."""

    @abc.abstractmethod
    def apply(self, change: Change, confirm_timeout: int, token: str) -> dict[str, Any]:
        """Apply ``change`` so that it is undone unless confirmed (``token`` names the push on the device
        where it can, e.g. the NETCONF persist id); returns journal data for confirm/rollback."""

    @abc.abstractmethod
    def confirm(self, pending: dict[str, Any]) -> None:
        """Make the applied change permanent."""

    @abc.abstractmethod
    def rollback(self, pending: dict[str, Any]) -> str:
        """Undo the applied change; returns a sentence saying how."""

    def interrupted(self) -> str | None:
        """A change the device itself records as interrupted while no journal names it (the Linux
        gateway's "applying" marker): its snapshot id, else None."""
        return None

    def recover(self, pending: dict[str, Any]) -> str:
        """Undo a push whose run never confirmed it; default: same as rollback."""
        return self.rollback(pending)

    @abc.abstractmethod
    def close(self) -> None:
        """End the session (never raises)."""

    def query(self, queries: list[str]) -> dict[str, Any]:
        """Run read-only state queries (show commands, getters, RPCs: whatever this transport speaks)
        and return ``{query: answer}``; the platform spec's state readers decide what to ask."""
        raise TransportError(f"the {self.name} transport cannot read device state")

    # -- helpers
    def mask(self, text: str) -> str:
        return self.spec.mask(text, self.secrets)

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _transport_class(name: str) -> type[Transport]:
    """The implementation of transport ``name`` (imported only when used)."""
    if name == "netmiko":
        from .netmiko_cli import NetmikoTransport

        return NetmikoTransport
    if name == "netconf":
        from .netconf import NetconfTransport

        return NetconfTransport
    if name == "napalm":
        from .napalm_drv import NapalmTransport

        return NapalmTransport
    if name == "linux":
        from .linux import LinuxTransport

        return LinuxTransport
    raise TransportError(f"unknown transport {name!r}")


def open_transport(platform: Any, transport: str | None, conn: ConnParams, secrets: list[str] | None = None,
                   **extra: Any) -> Transport:
    """Instantiate (and connect) the host's transport, or the platform's default one.

    ``platform`` is a platform name or its spec (``platforms.get``); ``extra`` goes to transports that
    take more (the Linux transport: ``run``, ``paths``, ``state_dir``).
    """
    from ..platforms import UnknownPlatformError, get

    try:
        spec = get(platform) if isinstance(platform, str) else platform
        name, _ = spec.transport(transport)
    except UnknownPlatformError as exc:
        raise TransportError(str(exc)) from None
    return _transport_class(name)(spec, conn, secrets, **extra)
