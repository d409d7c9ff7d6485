"""Action plugin of stowpath.core.site_model: the same controller-side preparation as site_render."""

from __future__ import annotations

from ansible_collections.stowpath.core.plugins.action.site_render import ActionModule

__all__ = ["ActionModule"]
