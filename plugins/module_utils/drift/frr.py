"""FRR: which parts of the configuration stowpath owns, and its drift in those parts only.

stowpath renders these FRR sections (``templates/linux_strongswan/frr.conf.j2``): the tunnel / DX
``interface`` blocks it names, ``ip prefix-list STOWPATH-*``, ``route-map STOWPATH-*``, (static
routing) ``ip route`` for the prefixes it routes, and its own lines of ``router bgp <asn>``. That
block is shared: stowpath owns its neighbors' lines (the neighbors it renders, and any neighbor
described ``stowpath ...``), its ``bgp router-id``, and the other lines it renders; every other line
of the block (the facility's own neighbors, ``redistribute``, timers) is the facility's. Lines and
blocks stowpath rendered at its last push (:meth:`Ownership.fingerprint`, kept by the gateway) stay
stowpath's, so a section stowpath no longer renders is removed rather than adopted.

Everything else in FRR (the facility's own static routes, prefix-lists, interfaces, logging, the
device's ``hostname``) is not ours: it is never reported as drift, and :func:`merge_facility` carries
it into the configuration stowpath applies, so onboarding and remediation keep it.

``frr-reload.py --test`` (FRR's own replace-style diff) prints every change as its context lines
followed by the changed line; :func:`parse_reload` keeps that structure so each change can be
classified by its top-level context.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass, field
from typing import Callable

# Top-level lines that belong to FRR itself or the device, never to a site's drift.
GLOBAL_LINES = re.compile(r"^(frr version|frr defaults|hostname|log |no ipv6 forwarding|ipv6 forwarding|"
                          r"ip forwarding|no ip forwarding|service |line vty|end$|Building configuration|"
                          r"Current configuration)")
_ALWAYS_OWNED = re.compile(r"^(router bgp \d+$|ip prefix-list STOWPATH-|route-map STOWPATH-|bgp route-map delay-timer )")
_SHARED = re.compile(r"^router bgp \d+$")
_STRUCTURAL = re.compile(r"^(!|address-family .*|exit-address-family|exit)$")
# Lines FRR prints itself (never carried into a configuration).
_NOT_CARRIED = re.compile(r"^(frr version|frr defaults|end$|exit$|Building configuration|Current configuration)")
_STOWPATH_NEIGHBOR = re.compile(r"^\s*neighbor (\S+) description stowpath\b")


class OwnershipConflict(ValueError):
    """The device's configuration and stowpath's cannot be merged (for example two BGP ASNs)."""


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


def _line_hash(key: str, line: str) -> str:
    return hashlib.sha256(f"{key.strip()}\0{line.strip()}".encode()).hexdigest()


def _no(line: str) -> str:
    body = line.strip()
    return body[3:] if body.startswith("no ") else body


class Ownership:
    """Which sections and lines of an FRR configuration are stowpath's.

    ``intended`` is what stowpath renders (without the facility's sections); ``sources`` are the
    device's configurations (file, running) in which a neighbor described ``stowpath ...`` is
    stowpath's; ``previous`` is the :meth:`fingerprint` recorded at the last push.
    """

    def __init__(self, intended: str, sources: tuple[str, ...] | list[str] = (), previous: list[str] | None = None):
        self.previous = set(previous or [])
        self.ifaces: set[str] = set()
        self.routes: set[str] = set()
        self.neighbors: set[str] = set()
        self.bgp_key: str | None = None
        self.bgp_lines: set[str] = set()
        self.fingerprint_: list[str] = []
        for b in blocks(intended):
            parts = b.key.split()
            if parts[0] == "interface" and len(parts) > 1:
                self.ifaces.add(parts[1])
            elif parts[:2] == ["ip", "route"] and len(parts) > 2:
                self.routes.add(parts[2])
            elif _SHARED.match(b.key):
                self.bgp_key = b.key
                for line in b.lines:
                    body = _no(line)
                    self.bgp_lines.add(body)
                    words = body.split()
                    if words[:1] == ["neighbor"] and len(words) > 1:
                        self.neighbors.add(words[1])
                    self.fingerprint_.append(_line_hash(b.key, body))
            if not GLOBAL_LINES.match(b.key):
                self.fingerprint_.append(_line_hash(b.key, ""))
        for text in sources:
            for line in text.splitlines():
                m = _STOWPATH_NEIGHBOR.match(line)
                if m:
                    self.neighbors.add(m.group(1))

    def fingerprint(self) -> list[str]:
        """Hashes of the blocks and BGP lines of ``intended`` (no clear text, so no secret)."""
        return sorted(set(self.fingerprint_))

    def owned(self, key: str) -> bool:
        """Is a top-level block stowpath's (wholly, or shared like ``router bgp``)?"""
        key = _no(key)
        parts = key.split()
        if not parts:
            return False
        if _ALWAYS_OWNED.match(key):
            return True
        if _line_hash(key, "") in self.previous:
            return True
        if parts[0] == "interface" and len(parts) > 1:
            return parts[1] in self.ifaces
        if parts[:2] == ["ip", "route"] and len(parts) > 2:
            return parts[2] in self.routes
        return False

    def owned_line(self, key: str, line: str) -> bool:
        """Is a line inside the block ``key`` stowpath's?"""
        if not _SHARED.match(_no(key)):
            return self.owned(key)
        body = _no(line)
        if _STRUCTURAL.match(body):
            return True
        words = body.split()
        if words[:1] == ["neighbor"] and len(words) > 1:
            return words[1] in self.neighbors
        if words[:2] == ["bgp", "router-id"] and any(x.startswith("bgp router-id") for x in self.bgp_lines):
            return True
        return body in self.bgp_lines or _line_hash(key, body) in self.previous

    def owned_change(self, c: Change) -> bool:
        if not self.owned(c.top):
            return False
        if _SHARED.match(c.top) and c.context:
            return self.owned_line(c.top, c.line)
        return True

    def __call__(self, key: str) -> bool:
        return self.owned(key)


def owned_predicate(intended: str) -> Callable[[str], bool]:
    """``owned(top_level_line)``: the sections of ``intended`` that stowpath renders."""
    return Ownership(intended).owned


def owned_text(text: str, owned: Callable[[str], bool]) -> list[str]:
    """The owned blocks of a config as lines (block order kept; in a shared block only owned lines)."""
    lines: list[str] = []
    line_owned = owned.owned_line if isinstance(owned, Ownership) else None
    for b in blocks(text):
        if owned(b.key):
            lines.append(b.key)
            lines.extend(x for x in b.lines if line_owned is None or line_owned(b.key, x))
    return _drop_empty_af(lines)


def canonical(lines: list[str]) -> list[tuple[str, str, str]]:
    """Config lines as sorted (block, address-family, line): FRR writes a block's lines (neighbors, interface
    addresses) and its blocks in its own order (``write memory``), which changes nothing."""
    out: list[tuple[str, str, str]] = []
    block = af = ""
    for line in lines:
        text = line.strip()
        if not text or text == "!":
            continue
        if not line[:1].isspace():
            block, af = text, ""
            out.append((block, "", ""))
        elif text.startswith("address-family "):
            af = text
        elif text == "exit-address-family":
            af = ""
        else:
            out.append((block, af, text))
    return sorted(out)


def _drop_empty_af(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if line.strip() == "exit-address-family" and out and out[-1].strip().startswith("address-family "):
            out.pop()
            continue
        out.append(line)
    return [x for i, x in enumerate(out) if not (x.strip() == "!" and (i + 1 == len(out) or out[i + 1].strip() == "!"))]


def foreign_blocks(running: str, intended: str, owned: Callable[[str], bool]) -> list[Block]:
    """Blocks of the running config that are neither stowpath's nor FRR's globals (kept on remediation)."""
    mine = {b.key for b in blocks(intended)}
    return [b for b in blocks(running) if not owned(b.key) and not GLOBAL_LINES.match(b.key) and b.key not in mine]


def _stem(line: str) -> str:
    words = _no(line).split()
    return "hostname" if words[:1] == ["hostname"] else " ".join(words[:2])


def _bgp_foreign(block: Block, own: Ownership) -> list[tuple[str | None, str]]:
    """The facility's lines of a ``router bgp`` block: (address-family line or None, line)."""
    out: list[tuple[str | None, str]] = []
    af: str | None = None
    for line in block.lines:
        body = line.strip()
        if body.startswith("address-family "):
            af = line.rstrip()
            continue
        if body == "exit-address-family":
            af = None
            continue
        if body == "!" or own.owned_line(block.key, line):
            continue
        out.append((af, line.rstrip()))
    return out


def merge_facility(intended: str, sources: list[str], own: Ownership) -> str:
    """``intended`` plus every section and BGP line of ``sources`` (the device's running config and
    its file, in that order of preference) that is not stowpath's.

    The device's globals (``hostname``, ``log file``...) go after ``frr defaults`` unless ``intended``
    sets the same thing; the facility's lines of a shared ``router bgp`` go into stowpath's block (in
    their address family); other foreign blocks follow stowpath's sections unchanged. The result is
    stable: merging it again with the same sources gives the same text. Raises
    :class:`OwnershipConflict` when the facility runs BGP under another ASN than stowpath's.
    """
    mine = blocks(intended)
    mine_keys = {b.key for b in mine}
    stems = {_stem(b.key) for b in mine if GLOBAL_LINES.match(b.key)}
    glob: list[str] = []
    foreign: dict[str, Block] = {}
    bgp: list[tuple[str | None, str]] = []
    for text in sources:
        for b in blocks(text):
            key = b.key.strip()
            if _NOT_CARRIED.match(key) or key in mine_keys and not _SHARED.match(key):
                continue
            if _SHARED.match(key):
                lines = _bgp_foreign(b, own)
                if not lines:
                    continue
                if own.bgp_key is not None and key != own.bgp_key:
                    raise OwnershipConflict(f"the device runs '{key}' with lines that are not stowpath's "
                                            f"({lines[0][1].strip()}); stowpath's BGP is '{own.bgp_key}'")
                if own.bgp_key is None:
                    if key not in foreign:
                        foreign[key] = Block(key)
                for item in lines:
                    if item not in bgp:
                        bgp.append(item)
                continue
            if own.owned(key):
                continue
            if GLOBAL_LINES.match(key) and not b.lines:
                if _stem(key) not in stems and key not in glob:
                    glob.append(key)
                    stems.add(_stem(key))
                continue
            foreign.setdefault(key, b)
    out = intended.splitlines()
    if own.bgp_key is not None and bgp:
        out = _insert_bgp(out, own.bgp_key, bgp)
    elif bgp:
        foreign[next(k for k in foreign if _SHARED.match(k))] = Block(
            next(k for k in foreign if _SHARED.match(k)), _af_lines(bgp))
    if glob:
        at = next((i + 1 for i, x in enumerate(out) if x.startswith("frr defaults")), 0)
        out[at:at] = glob
    tail: list[str] = []
    for b in foreign.values():
        tail.append(b.key)
        if b.lines:
            tail += [*b.lines, "exit", "!"]
    if tail and tail[-1] != "!":
        tail.append("!")
    if tail:
        while out and out[-1].strip() == "!":
            out.pop()
        out += ["!", *tail]
    return "\n".join(out) + "\n"


def _af_lines(items: list[tuple[str | None, str]]) -> list[str]:
    lines = [line for af, line in items if af is None]
    afs: dict[str, list[str]] = {}
    for af, line in items:
        if af is not None:
            afs.setdefault(af, []).append(line)
    for af, body in afs.items():
        lines += [af, *body, " exit-address-family"]
    return lines


def _insert_bgp(lines: list[str], key: str, items: list[tuple[str | None, str]]) -> list[str]:
    """Put the facility's BGP lines into stowpath's ``router bgp`` block."""
    start = lines.index(key)
    end = next((i for i in range(start + 1, len(lines)) if lines[i] and not lines[i][0].isspace()), len(lines))
    body = lines[start + 1:end]
    base = [line for af, line in items if af is None]
    at = next((i for i, x in enumerate(body) if x.strip() == "!" or x.strip().startswith("address-family ")),
              len(body))
    body[at:at] = base
    missing: list[tuple[str | None, str]] = []
    for af in dict.fromkeys(af for af, _ in items if af is not None):
        extra = [line for a, line in items if a == af]
        pos = next((i for i, x in enumerate(body) if x.rstrip() == af), None)
        if pos is None:
            missing += [(af, line) for line in extra]
            continue
        close = next(i for i in range(pos + 1, len(body)) if body[i].strip() == "exit-address-family")
        body[close:close] = extra
    if missing:
        body += _af_lines(missing)
    return lines[:start + 1] + body + lines[end:]


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
