"""Cross-reference lint for rendered vendor configs: everything referenced is defined, and the reverse.

Rules are data in each platform's spec (``platforms/<name>.py``, ``XREF_*``): ``(kind, regex)`` pairs whose first group is the object's name. Used by
the tests on every rendered artifact, and usable before a push (an undefined IPsec profile or an
unbound tunnel is caught offline).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Objects that are used by being there (a VPN is the root of its chain).
ROOTS = {"ipsec-vpn", "interface"}  # a tunnel interface is used by the BGP session over it


@dataclass(frozen=True)
class XrefProblem:
    kind: str
    name: str
    problem: str  # "referenced but not defined" | "defined but never used"

    def __str__(self) -> str:
        return f"{self.kind} {self.name}: {self.problem}"


def _collect(lines: list[str], rules: list[tuple[str, str]]) -> set[tuple[str, str]]:
    found = set()
    for kind, pattern in rules:
        rx = re.compile(pattern)
        for line in lines:
            m = rx.search(line)
            if m:
                found.add((kind, m.group(1)))
    return found


def check(platform: str, config: str) -> list[XrefProblem]:
    """Every cross-reference problem in a rendered config of ``platform`` (empty list: clean)."""
    from .platforms import get

    rules = get(platform).xref
    if rules is None:
        return []
    defines, references = rules
    lines = [line.rstrip() for line in config.splitlines()]
    defined = _collect(lines, defines)
    referenced = _collect(lines, references)
    problems = [XrefProblem(k, n, "referenced but not defined") for k, n in sorted(referenced - defined)]
    problems += [XrefProblem(k, n, "defined but never used") for k, n in sorted(defined - referenced) if k not in ROOTS]
    return problems
