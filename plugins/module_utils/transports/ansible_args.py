"""The device-connection argument spec shared by the modules of the action group ``stowpath.core.device``
(documented once in ``plugins/doc_fragments/device.py``), and its translation into ``ConnParams``."""

from __future__ import annotations

from typing import Any

from ..platforms import UnknownPlatformError, get, names
from .base import ConnParams

DEVICE_ARGS: dict[str, dict[str, Any]] = {
    "platform": {"type": "str", "required": True, "choices": list(names())},
    "transport": {"type": "str", "choices": ["netmiko", "netconf", "napalm", "linux"]},
    "host": {"type": "str"},
    "port": {"type": "int"},
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "key_file": {"type": "path", "no_log": False},
    "enable_secret": {"type": "str", "no_log": True},
    "timeout": {"type": "int", "default": 20},
    "command_timeout": {"type": "int", "default": 15},
    "device_type": {"type": "str", "default": "cisco_ios"},
    "napalm_driver": {"type": "str"},
    "napalm_optional_args": {"type": "dict"},
    "hostkey_verify": {"type": "bool", "default": True},
    "known_hosts": {"type": "path"},
    "wan_acl_policy": {"type": "str", "choices": ["stop", "merge"], "default": "stop"},
    "secrets": {"type": "list", "elements": "str", "no_log": True},
}


def connection(p: dict[str, Any]) -> tuple[Any, str, ConnParams]:
    """(platform spec, transport name, connection parameters) from the module's parameters.

    Raises ``ValueError`` with a message naming the missing or invalid option.
    """
    try:
        spec = get(p["platform"])
        transport, tspec = spec.transport(p.get("transport"))
    except UnknownPlatformError as exc:
        raise ValueError(str(exc)) from None
    if spec.runs_on == "device":
        return spec, transport, ConnParams(host="localhost", port=0, username="")
    missing = [k for k in ("host", "username") if not p.get(k)]
    if missing:
        raise ValueError(f"{spec.name} is reached over {transport}: give {' and '.join(missing)} "
                         "(gateway_mgmt_host / gateway_username in the inventory)")
    conn = ConnParams(
        host=p["host"], port=p.get("port") or tspec.port, username=p["username"], password=p.get("password"),
        key_file=p.get("key_file"), enable_secret=p.get("enable_secret"), timeout=p.get("timeout") or 20,
        options={"device_type": p.get("device_type") or "cisco_ios", "cli_read_timeout": p.get("command_timeout") or 15,
                 "napalm_driver": p.get("napalm_driver"), "optional_args": p.get("napalm_optional_args") or {},
                 "hostkey_verify": p.get("hostkey_verify") is not False, "known_hosts": p.get("known_hosts"),
                 "wan_acl_policy": p.get("wan_acl_policy") or "stop"})
    return spec, transport, conn
