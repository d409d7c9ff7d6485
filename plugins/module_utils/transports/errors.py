"""The errors a transport raises; ``kind`` names the failure in push results and reports."""

from __future__ import annotations

from typing import Any


class TransportError(Exception):
    """A push failed; ``message`` is safe to show (secrets masked), ``device_message`` is the device's text."""

    kind = "error"

    def __init_subclass__(cls, kind: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if kind:
            cls.kind = kind

    def __init__(self, message: str, device_message: str = "", rolled_back: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.device_message = device_message
        self.rolled_back = rolled_back


class AuthenticationError(TransportError, kind="authentication"):
    """The device refused the credentials (never retried: lockouts, log floods)."""


class ConnectError(TransportError, kind="connect"):
    """The device could not be reached (refused, timeout, SSH failure)."""


class ConnectionLostError(TransportError, kind="connection_lost"):
    """The session died during the push."""


class DeviceRejectedError(TransportError, kind="rejected"):
    """The device refused a line/payload; the change was rolled back (``rolled_back``)."""


class ConflictError(TransportError, kind="conflict"):
    """The device has different configuration under the names stowpath would use."""


class ConfirmExpiredError(TransportError, kind="confirm_expired"):
    """The commit-confirmed timeout passed before the confirmation: the device rolled back."""
