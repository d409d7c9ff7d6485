"""PACS tests (a package, so its conftest is ``pacs.conftest`` and never shadows ``tests/conftest.py``).

The repository root goes on sys.path here, before any test module imports ``lab.services``.
"""

import sys
from pathlib import Path

_REPO = str(Path(__file__).resolve().parents[2])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)
