"""lab/services/pacs.py inside a network namespace with REST credentials (as the lab runs it in sp-pacs).

The test makes its own namespace and veth pair (169.254.77.0/30, link-local) so it needs root but
not the lab; it removes both afterwards.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.pacs.base import DestinationSpec, PacsError
from ansible_collections.stowpath.core.plugins.module_utils.pacs.destination import ensure_destination
from ansible_collections.stowpath.core.plugins.module_utils.pacs.orthanc import OrthancApi, OrthancDriver

from lab.services import pacs as lab_pacs

NS_IP, ROOT_IP = "169.254.77.2", "169.254.77.1"
API_USER, API_PASSWORD = "pacsadmin", "Pacs-Api-Pw-Test-5"


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


@pytest.fixture
def netns() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces)")
    tag = f"{os.getpid() % 100000}"
    ns, root_if = f"spt-pacs-{tag}", f"sptp{tag}"
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "link", "add", root_if, "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "addr", "add", f"{ROOT_IP}/30", "dev", root_if)
        sh("ip", "link", "set", root_if, "up")
        sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{NS_IP}/30", "dev", "eth0")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "eth0", "up")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        yield ns
    finally:
        subprocess.run(["ip", "link", "del", root_if], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


@pytest.mark.root
def test_pacs_in_a_namespace_with_api_credentials(netns: str, tmp_path: Path) -> None:
    h = lab_pacs.start_pacs(tmp_path / "pacs", ip=NS_IP, port=8042, netns=netns, username=API_USER,
                            password=API_PASSWORD)
    try:
        # It really runs inside the namespace.
        assert os.stat(f"/proc/{h.pid}/ns/net").st_ino == os.stat(f"/run/netns/{netns}").st_ino
        with pytest.raises(PacsError, match="rejected the API credentials"):
            OrthancDriver(OrthancApi(h.url)).get_destination("x")
        d = OrthancDriver(OrthancApi(h.url, API_USER, API_PASSWORD), h.config, fingerprint_iterations=1000)
        spec = DestinationSpec(name="cloud-stow-rs", url="https://dicom.lab.example/dicomweb/studies",
                               username="u", password="p-secret")
        assert ensure_destination(d, spec)["changed"] is True
        studies = lab_pacs.load_test_studies(h, count=1, instances=1)
        assert d.lookup_study(studies[0]["study_uid"]) == studies[0]["id"]
        lab_pacs.restart_pacs(h)  # a real process restart inside the namespace
        assert ensure_destination(d, spec)["changed"] is False
        assert d.lookup_study(studies[0]["study_uid"]) == studies[0]["id"]  # storage survived too
        assert lab_pacs.status(h)["running"] is True
    finally:
        lab_pacs.stop_pacs(h)
    assert not lab_pacs._alive(h.pid, h.config)
