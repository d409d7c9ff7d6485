"""Input errors that name where the problem is and how to fix it."""

from __future__ import annotations


class SiteError(ValueError):
    """A problem with a user's input: names the source (host, file), the field and the fix.

    ``source`` is the host (``host cgw``) or file (``inventories/lab/files/aws-vpn.xml``),
    ``field`` the variable or element path (``lan_cidrs[1]``,
    ``vpn_connection/ipsec_tunnel[2]/ike/pre_shared_key``).
    """

    def __init__(self, source: str, field: str, problem: str, fix: str) -> None:
        self.source = source
        self.field = field
        self.problem = problem
        self.fix = fix
        super().__init__(f"{source}: {field}: {problem}. Fix: {fix}")


class SiteErrors(ValueError):
    """Several :class:`SiteError` found in one pass (reported together, so one edit fixes all)."""

    def __init__(self, errors: list[SiteError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))
