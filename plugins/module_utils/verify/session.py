"""A read-only session with the gateway for the state-reading verification modules (tunnels, BGP).

The platform spec decides where the module runs and how state is read: a Linux gateway is read on the
gateway itself (local commands), a router from the controller through its transport (show commands
over netmiko, operational RPCs over NETCONF, NAPALM getters). The session stays open while a module
waits for the state to converge.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

from ansible.module_utils.basic import AnsibleModule

from ..linux_gateway import timed
from ..platforms import DEFAULT_PLATFORM
from ..transports.ansible_args import DEVICE_ARGS, connection
from ..transports.base import open_transport
from ..transports.errors import TransportError
from .poll import until_passing
from .result import WAIT_ARGS, finish, verify_module

STATE_ARGS: dict[str, dict[str, Any]] = {**DEVICE_ARGS, "platform": {**DEVICE_ARGS["platform"], "required": False}}


def state_module(options: dict[str, dict[str, Any]], required_one_of: tuple[str, str]) -> AnsibleModule:
    """The AnsibleModule of a state-reading verification module: its ``options`` plus the gateway
    connection and the waiting options (:func:`.result.verify_module`)."""
    return verify_module({**options, **STATE_ARGS, **WAIT_ARGS}, required_one_of)


@contextlib.contextmanager
def state_session(module: Any, site: dict[str, Any] | None) -> Iterator[tuple[Any, Any]]:
    """``(state recipe, transport)`` for the module's platform (``platform`` option, else the site's)."""
    p = dict(module.params)
    p["platform"] = p.get("platform") or (site or {}).get("gateway_platform") or DEFAULT_PLATFORM
    try:
        spec, transport, conn = connection(p)
        recipe = spec.state_for(transport)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    extra = {"run": timed(module.run_command)} if spec.runs_on == "device" else {}
    try:
        t = open_transport(spec, transport, conn, p.get("secrets") or [], **extra)
    except TransportError as exc:
        module.fail_json(msg=f"cannot read the state of {spec.name} over {transport}: {exc.message}")
    try:
        yield recipe, t
    finally:
        t.close()


def verify_state(module: Any, site: dict[str, Any] | None, what: str, read: Callable[[Any, Any], Any],
                 evaluate: Callable[[Any], tuple[list, dict]]) -> None:
    """Read the state (``read(recipe, query)``) until ``evaluate(observed)`` passes or ``wait_timeout``
    ends, then finish the module with the checks (``what`` names the state in messages)."""
    p = module.params
    with state_session(module, site) as (recipe, t):

        def once() -> tuple[list, dict]:
            try:
                observed = read(recipe, t.query)
            except (TransportError, ValueError) as exc:
                module.fail_json(msg=f"cannot read the gateway's {what}: {getattr(exc, 'message', exc)}")
            return evaluate(observed)

        checks, facts, elapsed, rounds = until_passing(once, p["wait_timeout"], p["interval"])
    for c in checks:
        c["duration_s"] = elapsed
    finish(module, f"{what} verification", checks, {**facts, "elapsed_s": elapsed, "rounds": rounds})
