"""Every external command stowpath starts has a timeout, so a hung tool never holds a play, a lock or a
gateway: a scan of plugins/ (AST) that keeps it true.

Accepted forms:

* ``subprocess.run/call/check_call/check_output(..., timeout=...)``;
* ``X.run_command(argv)`` only when ``argv`` starts with coreutils ``timeout`` (a list literal, or a name
  bound to one in the same function); ``X.run_command`` passed on as a function only inside ``timed(...)``;
* ``subprocess.Popen(argv)`` only when ``argv`` starts with ``timeout`` and every ``communicate``/``wait``
  in the same function has a timeout.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PLUGINS = REPO / "plugins"
WAITING = {"run", "call", "check_call", "check_output"}


def _starts_with_timeout(node: ast.AST | None, names: dict[str, ast.AST]) -> bool:
    if isinstance(node, ast.Name) and node.id in names:
        node = names[node.id]
    if isinstance(node, (ast.List, ast.Tuple)) and node.elts:
        first = node.elts[0]
        return isinstance(first, ast.Constant) and first.value == "timeout"
    return False


def _has_timeout(call: ast.Call) -> bool:
    return any(k.arg == "timeout" for k in call.keywords)


def _calls_of(func: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(func) if isinstance(n, ast.Call)]


def _assigned_lists(func: ast.AST) -> dict[str, ast.AST]:
    out: dict[str, ast.AST] = {}
    for n in ast.walk(func):
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
            out[n.targets[0].id] = n.value
    return out


def problems_in(source: str, name: str) -> list[str]:
    tree = ast.parse(source)
    parents: dict[ast.AST, ast.AST] = {c: p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}

    def scope(node: ast.AST) -> ast.AST:
        while node in parents and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node = parents[node]
        return node

    found: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        where = f"{name}:{node.lineno}"
        parent = parents.get(node)
        called = isinstance(parent, ast.Call) and parent.func is node
        owner = node.value.id if isinstance(node.value, ast.Name) else ""
        if node.attr == "run_command":
            if called:
                assert isinstance(parent, ast.Call)
                if not _starts_with_timeout(parent.args[0] if parent.args else None,
                                            _assigned_lists(scope(node))):
                    found.append(f"{where}: run_command without coreutils timeout")
            elif not (isinstance(parent, ast.Call) and getattr(parent.func, "id", getattr(parent.func, "attr", ""))
                      == "timed"):
                found.append(f"{where}: run_command handed on without timed(...)")
        elif owner == "subprocess" and node.attr in WAITING and called:
            assert isinstance(parent, ast.Call)
            if not _has_timeout(parent):
                found.append(f"{where}: subprocess.{node.attr} without timeout=")
        elif owner == "subprocess" and node.attr == "Popen" and called:
            assert isinstance(parent, ast.Call)
            func = scope(node)
            if not _starts_with_timeout(parent.args[0] if parent.args else None, _assigned_lists(func)):
                found.append(f"{where}: subprocess.Popen not under coreutils timeout")
            for call in _calls_of(func):
                if getattr(call.func, "attr", "") in ("communicate", "wait") and not _has_timeout(call):
                    found.append(f"{name}:{call.lineno}: {call.func.attr}() without timeout=")  # type: ignore[union-attr]
        elif owner in ("os", "asyncio") and node.attr in ("system", "popen", "create_subprocess_exec",
                                                          "create_subprocess_shell") and called:
            found.append(f"{where}: {owner}.{node.attr} cannot be given a timeout")
    return found


def test_every_external_command_in_plugins_has_a_timeout() -> None:
    found: list[str] = []
    files = sorted(PLUGINS.rglob("*.py"))
    assert len(files) > 50
    for path in files:
        found += problems_in(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))
    assert not found, "\n".join(found)


def test_the_scan_catches_what_it_is_for() -> None:
    bad = '''
import subprocess

def main(module):
    module.run_command(["ping", "x"])
    extra = {"run": module.run_command}
    subprocess.run(["ip", "link"], check=False)
    p = subprocess.Popen(["tcpdump"])
    p.communicate()
'''
    found = problems_in(bad, "bad.py")
    assert len(found) == 5, found
    good = '''
import subprocess

def main(module, timed):
    module.run_command(["timeout", "-k", "5", "60", "ping", "x"])
    argv = ["timeout", "10", "tcpdump"]
    p = subprocess.Popen(argv)
    p.communicate(timeout=20)
    extra = {"run": timed(module.run_command)}
    subprocess.run(["ip", "link"], check=False, timeout=10)
'''
    assert problems_in(good, "good.py") == []
