"""Every module's documentation parses (ansible-doc), so `ansible-doc stowpath.core.X` works for users."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODULES = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if not p.name.startswith("_"))


def test_every_module_documents_itself() -> None:
    out = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-doc"), "-j", *(f"stowpath.core.{m}" for m in MODULES)],
                         capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0 and "ERROR" not in out.stderr, out.stderr[-2000:]

