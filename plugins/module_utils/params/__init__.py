"""Guide step 1, "Obtain connection details": one parser per vendor file format.

Each parser turns the file as the vendor hands it over into :class:`CloudParams`, raising
:class:`~..errors.SiteError` that names the file, the element and the fix.
"""

from __future__ import annotations

from .model import CloudParams, DxParams, TunnelParams  # noqa: F401


def parser_for(provider: str):
    """The parse function for a ``cloud_provider`` (``aws_vpn``, ``aws_dx``, ``manual``)."""
    from . import aws_dx, aws_vpn, manual

    return {"aws_vpn": aws_vpn.parse, "aws_dx": aws_dx.parse, "manual": manual.parse}[provider]
