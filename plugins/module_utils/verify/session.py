"""A read-only session with the gateway for the state-reading verification modules (tunnels, BGP).

The platform spec decides where the module runs and how state is read: a Linux gateway is read on the
gateway itself (local commands), a router from the controller through its transport (show commands
over netmiko, operational RPCs over NETCONF, NAPALM getters). The session stays open while a module
waits for the state to converge, and across the state checks of one module (bgp_status can read the
tunnels first over the same session: one device login, one module run).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from ansible.module_utils.basic import AnsibleModule

from ..checks import summary_message
from ..linux_gateway import timed
from ..platforms import DEFAULT_PLATFORM
from ..transports.ansible_args import DEVICE_ARGS, connection
from ..transports.base import open_transport
from ..transports.errors import TransportError
from .bgp import bgp_expectations, evaluate_bgp
from .poll import until_passing
from .result import WAIT_ARGS, finish, verify_module, warn_checks
from .tunnels import evaluate_tunnels, tunnel_expectations

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


@dataclass(frozen=True)
class StateCheck:
    """One state check of a module: ``read(recipe, query)`` returns the observed state, ``evaluate(observed)``
    its ``(checks, facts)``; re-read until nothing fails or ``wait_timeout`` s passed. ``what`` names the
    state in messages ("IPsec state", "BGP state")."""

    what: str
    read: Callable[[Any, Any], Any]
    evaluate: Callable[[Any], tuple[list, dict]]
    wait_timeout: float


def converge(module: Any, step: StateCheck, recipe: Any, query: Any, interval: float) -> dict[str, Any]:
    """The result of one state check over an open session: ``changed``, ``checks`` (each with
    ``duration_s`` = the time until the final read), the evaluation's facts, ``elapsed_s`` and ``rounds``.
    A read error fails the module naming the state."""

    def once() -> tuple[list, dict]:
        try:
            observed = step.read(recipe, query)
        except (TransportError, ValueError) as exc:
            module.fail_json(msg=f"cannot read the gateway's {step.what}: {getattr(exc, 'message', exc)}")
        return step.evaluate(observed)

    checks, facts, elapsed, rounds = until_passing(once, step.wait_timeout, interval)
    for c in checks:
        c["duration_s"] = elapsed
    return {"changed": False, "checks": checks, **facts, "elapsed_s": elapsed, "rounds": rounds}


def read_states(module: Any, site: dict[str, Any] | None, steps: list[StateCheck],
                stop_on_failure: bool = False) -> list[dict[str, Any]]:
    """The results of ``steps``, run in order over ONE session with the gateway; with ``stop_on_failure``
    the steps after the first failing one are not run (fewer results)."""
    results: list[dict[str, Any]] = []
    with state_session(module, site) as (recipe, t):
        for step in steps:
            results.append(converge(module, step, recipe, t.query, module.params["interval"]))
            if stop_on_failure and any(c["status"] == "fail" for c in results[-1]["checks"]):
                break
    return results


def tunnel_state_check(site: dict[str, Any] | None, tunnels: list[dict[str, Any]] | None,
                       wait_timeout: float) -> StateCheck:
    """tunnel_status's check: every expected tunnel (``tunnels``, else the site's) ESTABLISHED with an
    installed CHILD SA. Raises ``ValueError`` for a tunnel without ``remote_outside``."""
    want, exp = tunnel_expectations(site, tunnels)
    return StateCheck("IPsec state", lambda recipe, query: recipe.tunnels(query, exp),
                      lambda observed: evaluate_tunnels(want, *observed), wait_timeout)


def bgp_state_check(site: dict[str, Any] | None, overrides: dict[str, Any], wait_timeout: float) -> StateCheck:
    """bgp_status's check: neighbors Established, prefixes received and advertised, cloud CIDRs routed
    (:func:`.bgp.bgp_expectations`). Raises ``ValueError`` for a neighbor without ``address``."""
    exp = bgp_expectations(site, overrides)
    return StateCheck("BGP state", lambda recipe, query: recipe.bgp(query, exp),
                      lambda observed: evaluate_bgp(exp, observed), wait_timeout)


def verify_state(module: Any, site: dict[str, Any] | None, step: StateCheck,
                 before: tuple[str, StateCheck] | None = None) -> None:
    """Read the state of ``step`` until it passes or its ``wait_timeout`` ends, then finish the module with
    its checks and facts (failing with every failure when ``fail_on_error``).

    ``before`` = ``(key, state check)`` runs first over the same session; its result (with its own checks,
    exactly as the module of that check returns them) is returned under ``key``, so a registered result
    carries each check once. With ``fail_on_error`` a failing ``before`` ends the module before ``step``
    is read, as two tasks would."""
    steps = ([before[1]] if before else []) + [step]
    results = read_states(module, site, steps, stop_on_failure=module.params["fail_on_error"])
    extra: dict[str, Any] = {}
    if before:
        key, first = before
        extra[key] = results[0]
        warn_checks(module, results[0]["checks"])
        if len(results) < len(steps):
            module.fail_json(msg=f"{first.what} verification failed:\n" + summary_message(results[0]["checks"]),
                             changed=False, checks=[], **extra)
    facts = results[-1]
    finish(module, f"{step.what} verification", facts.pop("checks"), {**facts, **extra})
