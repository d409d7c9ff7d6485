"""FRR: which parts of the configuration stowpath owns, and its drift in those parts only.

stowpath renders these FRR sections (``templates/linux_strongswan/frr.conf.j2``): ``router bgp``,
the tunnel / DX ``interface`` blocks it names, ``ip prefix-list STOWPATH-*``, ``route-map
STOWPATH-*`` and (static routing) ``ip route`` for the prefixes it routes. Everything else in FRR
(the facility's own static routes, other interfaces, logging) is not ours: it is never reported as
drift and survives a remediation.

``frr-reload.py --test`` (FRR's own replace-style diff) prints every change as its context lines
followed by the changed line; :func:`parse_reload` keeps that structure so each change can be
classified by its top-level context.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Callable

# Top-level lines that belong to FRR itself or the device, never to a site's drift.
GLOBAL_LINES = re.compile(r"^(frr version|frr defaults|hostname|log |no ipv6 forwarding|ipv6 forwarding|"
                          r"ip forwarding|no ip forwarding|service |line vty|end$|Building configuration|"
                          r"Current configuration)")
_ALWAYS_OWNED = re.compile(r"^(router bgp \d+$|ip prefix-list STOWPATH-|route-map STOWPATH-)")


@dataclass
class Change:
    """One change of ``frr-reload --test``: its context lines and the changed line."""

    op: str  # "-" the running line goes, "+" the intended line comes
    context: list[str]
    line: str  # as the running config shows it (for "-") or as it will be (for "+"), indented
    command: list[str]  # what vtysh would be told (context + the command), indented

    @property
    def top(self) -> str:
        first = (self.context[0] if self.context else self.line).strip()
        return first[3:] if first.startswith("no ") else first


@dataclass
class Block:
    key: str
    lines: list[str] = field(default_factory=list)


def _strip_no(line: str) -> str:
    body = line.lstrip()
    pad = line[: len(line) - len(body)]
    return pad + (body[3:] if body.startswith("no ") else "no " + body)


def parse_reload(out: str) -> list[Change]:
    """``frr-reload.py --test --stdout`` output -> changes with their contexts.

    Each command printed starts at column 0 and its deeper lines are indented; the last line is the
    change. frr-reload removes prefix-list entries with ``no ...`` lines under "Lines To Add".
    """
    changes: list[Change] = []
    section = None
    group: list[str] = []

    def flush() -> None:
        if not group or section is None:
            return
        *context, last = group
        body = last.strip()
        if section == "-":
            changes.append(Change("-", list(context), _strip_no(last), list(group)))
        elif body.startswith("no ") and not context:
            changes.append(Change("-", [], last[: len(last) - len(body)] + body[3:], list(group)))
        else:
            changes.append(Change("+", list(context), last, list(group)))
        group.clear()

    for raw in out.splitlines():
        line = raw.rstrip()
        if line.startswith("Lines To Delete"):
            flush()
            section = "-"
            continue
        if line.startswith("Lines To Add"):
            flush()
            section = "+"
            continue
        if section is None or not line.strip() or set(line.strip()) == {"="}:
            flush()
            continue
        if not line[0].isspace():
            flush()
        group.append(line)
    flush()
    return changes


def blocks(text: str) -> list[Block]:
    """Top-level blocks of an FRR config (a line at column 0 and its indented lines)."""
    out: list[Block] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip() or line.strip() == "!" or line.startswith("!"):
            continue
        if not line[0].isspace():
            if line == "exit" or line == "end":
                continue
            out.append(Block(line))
        elif out:
            out[-1].lines.append(line)
    return out


def owned_predicate(intended: str) -> Callable[[str], bool]:
    """``owned(top_level_line)``: the sections of ``intended`` that stowpath renders."""
    ifaces, routes = set(), set()
    for b in blocks(intended):
        parts = b.key.split()
        if parts[0] == "interface" and len(parts) > 1:
            ifaces.add(parts[1])
        elif parts[:2] == ["ip", "route"] and len(parts) > 2:
            routes.add(parts[2])

    def owned(key: str) -> bool:
        key = key.strip()
        key = key[3:] if key.startswith("no ") else key
        parts = key.split()
        if _ALWAYS_OWNED.match(key):
            return True
        if parts[:1] == ["interface"] and len(parts) > 1:
            return parts[1] in ifaces
        if parts[:2] == ["ip", "route"] and len(parts) > 2:
            return parts[2] in routes
        return False

    return owned


def owned_text(text: str, owned: Callable[[str], bool]) -> list[str]:
    """The owned blocks of a config as lines (block order kept)."""
    lines: list[str] = []
    for b in blocks(text):
        if owned(b.key):
            lines.append(b.key)
            lines.extend(b.lines)
    return lines


def foreign_blocks(running: str, intended: str, owned: Callable[[str], bool]) -> list[Block]:
    """Blocks of the running config that are neither stowpath's nor FRR's globals (kept on remediation)."""
    mine = {b.key for b in blocks(intended)}
    return [b for b in blocks(running) if not owned(b.key) and not GLOBAL_LINES.match(b.key) and b.key not in mine]


def render_changes(changes: list[Change], title_a: str, title_b: str) -> str:
    """A readable unified-style diff of frr-reload changes, each context shown once per run of changes."""
    out = [f"--- {title_a}", f"+++ {title_b}"]
    current: list[str] | None = None
    for c in changes:
        if c.context != current:
            same = 0
            while current and same < min(len(current), len(c.context)) and current[same] == c.context[same]:
                same += 1
            if current and same < len(current):
                same = 0  # back out of a deeper context: show the whole path again
            out.extend(" " + ctx for ctx in c.context[same:])
            current = c.context
        out.append(c.op + c.line)
        if not c.context and c.op == "+":
            current = [c.line]  # a new section: its lines follow without repeating the header
    return "\n".join(out) + "\n"


def vtysh_commands(changes: list[Change]) -> list[str]:
    """One ``vtysh -c ...`` command per change (exactly what frr-reload --reload sends)."""
    cmds = []
    for c in changes:
        args = " ".join(f"-c '{part.strip()}'" for part in c.command)
        cmds.append(f"vtysh -c 'configure terminal' {args}")
    return cmds


def unified(a: list[str], b: list[str], title_a: str, title_b: str) -> str:
    return "".join(line + ("" if line.endswith("\n") else "\n")
                   for line in difflib.unified_diff(a, b, title_a, title_b, n=3, lineterm=""))
