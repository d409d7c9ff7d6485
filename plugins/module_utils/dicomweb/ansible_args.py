"""Argument spec shared by the tls_probe and stow_probe modules, and the Target built from it."""

from __future__ import annotations

from typing import Any

from .probes import Target

CONNECTION_ARGS: dict[str, dict[str, Any]] = {
    "url": {"type": "str", "required": True},
    "ca_bundle": {"type": "path", "required": True},
    "client_cert": {"type": "path"},
    "client_key": {"type": "path", "no_log": False},
    "client_key_password": {"type": "str", "no_log": True},
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "connect_address": {"type": "str"},
    "timeout": {"type": "float", "default": 30.0},
    "fail_on_error": {"type": "bool", "default": True},
}


def target_from_params(params: dict[str, Any]) -> Target:
    return Target(
        url=params["url"],
        ca_bundle=params["ca_bundle"],
        client_cert=params.get("client_cert"),
        client_key=params.get("client_key"),
        client_key_password=params.get("client_key_password"),
        username=params.get("username"),
        password=params.get("password"),
        connect_address=params.get("connect_address"),
        timeout=float(params.get("timeout") or 30.0),
    )
