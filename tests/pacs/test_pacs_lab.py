"""The lab's PACS (sp-pacs, 203.0.113.10:8042, started by the lab through lab/services/pacs.py).

Reads the handle the lab saved (``$STOWPATH_LAB_PACS_DIR``, default ``/srv/stowpath-lab/pacs``): the destination
is created through the lab PACS's REST API and survives a real restart of the PACS process.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.pacs.base import DestinationSpec
from ansible_collections.stowpath.core.plugins.module_utils.pacs.destination import ensure_destination
from ansible_collections.stowpath.core.plugins.module_utils.pacs.orthanc import OrthancApi, OrthancDriver

from lab.services import pacs as lab_pacs

LAB_PACS_DIR = Path(os.environ.get("STOWPATH_LAB_PACS_DIR", "/srv/stowpath-lab/pacs"))  # lab/lab.py PACS_DIR


@pytest.mark.lab
@pytest.mark.xdist_group("lab")
def test_lab_pacs_destination_survives_restart() -> None:
    h = lab_pacs.load_handle(LAB_PACS_DIR)
    if h is None:
        pytest.skip(f"no lab PACS handle in {LAB_PACS_DIR} (lab/lab.py up must start lab/services/pacs.py)")
    assert lab_pacs.status(h)["running"], f"lab PACS recorded in {LAB_PACS_DIR} is not running"
    d = OrthancDriver(OrthancApi(h.url, h.username, h.password), h.config)
    spec = DestinationSpec(name="stowpath-lab-restart-test", url="https://dicom.lab.example/dicomweb/studies",
                           timeout=300)
    try:
        ensure_destination(d, spec)
        lab_pacs.restart_pacs(h)
        assert d.get_destination(spec.name) is not None
        assert ensure_destination(d, spec)["changed"] is False
    finally:
        ensure_destination(d, spec, state="absent")
