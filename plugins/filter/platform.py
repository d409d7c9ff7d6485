"""``platform`` filter: what playbooks need to know about a gateway platform, from its registry spec."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.stowpath.core.plugins.module_utils.platforms import UnknownPlatformError, get


def platform(name: str) -> dict[str, Any]:
    """``{{ gateway_platform | stowpath.core.platform }}`` -> runs_on, default_transport, transports, ..."""
    try:
        return get(name).facts()
    except UnknownPlatformError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"platform": platform}
