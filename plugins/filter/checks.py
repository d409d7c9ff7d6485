"""Filters for check results (docs/ARCHITECTURE.md "Check results")."""

from __future__ import annotations

from typing import Any

from ansible_collections.stowpath.core.plugins.module_utils.checks import check_line


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"check_line": check_line}
