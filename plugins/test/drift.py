"""Jinja test of the drift check: ``hostvars[inventory_hostname] is stowpath.core.gateway_host``.

True for a host that defines ``gateway_platform`` (the gateways, as ``playbooks/select-gateways.yml``
groups them). ``playbooks/drift-check.yml`` evaluates it in a ``meta`` task, which Ansible runs in its
main process; loading this plugin there also loads the ``drift_gateway`` action plugin and the code it
runs (site model, renderer, drift comparison, verification evaluators), so the worker process Ansible
forks for each gateway's task inherits them instead of importing them once per gateway (about a tenth
of a second of CPU each).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _preload() -> None:
    import importlib

    for name in ("plugins.action.drift_gateway", "plugins.module_utils.ansible_site", "plugins.module_utils.render",
                 "plugins.module_utils.drift.linux", "plugins.module_utils.drift.model",
                 "plugins.module_utils.verify.bgp", "plugins.module_utils.verify.tunnels",
                 "plugins.module_utils.verify.model", "plugins.module_utils.platforms"):
        try:
            importlib.import_module(f"ansible_collections.stowpath.core.{name}")
        except ImportError:  # only a head start: the task imports what it needs itself
            return
    from ansible_collections.stowpath.core.plugins.module_utils import platforms

    for platform in platforms.names():
        platforms.get(platform)


def gateway_host(host_vars: Any) -> bool:
    """Does this host define ``gateway_platform``?"""
    return isinstance(host_vars, Mapping) and "gateway_platform" in host_vars


class TestModule:
    def tests(self) -> dict[str, Any]:
        _preload()
        return {"gateway_host": gateway_host}
