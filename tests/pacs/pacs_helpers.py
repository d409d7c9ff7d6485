"""Constants and helpers shared by the PACS tests (importable: tests/pacs is on sys.path)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CLOUD_USER = "stow-facility"
CLOUD_PASSWORD = "Cl0ud-Basic-Pw-For-Tests"  # test-only secret; tests assert it never leaks
KEY_PASSWORD = "Key-Pw-For-Tests"


def tls_url(h: Any) -> str:
    """The cloud's STOW-RS URL by IP (the server certificate carries IP SAN 127.0.0.1)."""
    return f"https://127.0.0.1:{h.https_port}{h.base_path}/studies"
