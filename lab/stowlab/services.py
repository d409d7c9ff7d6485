"""The services ``up`` starts: the cloud VPC host's HTTPS (DICOMweb) service and the on-prem PACS.

The implementations live in ``lab/services/`` (usable on their own); this module starts them for the
lab and records what it started.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .host import LabError, log, read_pid, write
from .topology import CLOUD_HOST, DICOMWEB_HOST, MGMT_PACS, PREFIX, REPO, STATE

# The facility's on-prem PACS: an Orthanc inside the pacs device (its mount namespace, so it sees the
# TLS material Ansible installs under the device's /etc/stowpath/tls), REST API on 8042, reachable from
# the root namespace at the management address (throwaway lab credentials, see inventories/lab).
PACS_DIR = Path("/srv/stowpath-lab/pacs")
PACS_API_USER, PACS_API_PASSWORD = "stowpath-lab", "stowpath-lab-pacs"
# its DICOM (C-STORE SCP) port, AE title STOWPATHPACS: the lab modality sends studies there
PACS_DICOM_PORT = 4242


def start_cloud_service(params: dict[str, Any]) -> dict[str, Any]:
    """The cloud VPC host's TCP 443 service (dicom.lab.example on 203.0.113.140).

    The real one is lab/services/cloud_dicomweb.py (Orthanc + DICOMweb behind nginx, mTLS with a
    lab PKI in /run/stowpath-lab/pki); when it is absent, fails, or ``STOWPATH_LAB_CLOUD=placeholder``,
    lab/cloud_listener.py (a tiny HTTPS placeholder) answers instead.
    """
    cloud_dir = STATE / "dev" / "cloud"
    cloud_dir.mkdir(parents=True, exist_ok=True)
    if os.environ.get("STOWPATH_LAB_CLOUD", "dicomweb") != "placeholder" and \
            (REPO / "lab" / "services" / "cloud_dicomweb.py").exists():
        try:
            return _start_cloud_dicomweb(cloud_dir)
        except Exception as exc:  # noqa: BLE001 (any failure of the optional service -> placeholder)
            log(f"cloud DICOMweb service did not start ({type(exc).__name__}: {str(exc)[:300]}); "
                "using the placeholder listener")
    return _start_placeholder(cloud_dir)


def _start_cloud_dicomweb(cloud_dir: Path) -> dict[str, Any]:
    from lab.services import cloud_dicomweb, pki

    files = pki.generate_lab_pki(STATE / "pki", server_names=[DICOMWEB_HOST], server_ips=[CLOUD_HOST],
                                 client_cn="lab-facility PACS")
    handle = cloud_dicomweb.start_cloud_dicomweb(
        cloud_dir / "dicomweb", server_cert=files["server_cert"], server_key=files["server_key"],
        client_ca=files["ca"], listen_ip=CLOUD_HOST, https_port=443, netns=PREFIX + "cloud", mtls="on")
    pids = {k: v for k, v in handle.pids.items() if v}
    write(cloud_dir / "service.json", json.dumps({"kind": "dicomweb", "pids": pids}) + "\n")
    return {"kind": "dicomweb", "url": f"https://{DICOMWEB_HOST}/dicomweb/studies", "mtls": "on",
            "pki": str(STATE / "pki"), "ca": files["ca"], "client_cert": files["client_cert"],
            "client_key": files["client_key"], "pids": pids}


def _start_placeholder(cloud_dir: Path) -> dict[str, Any]:
    listener = REPO / "lab" / "cloud_listener.py"
    logf = open(cloud_dir / "listener.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        ["ip", "netns", "exec", PREFIX + "cloud", sys.executable, str(listener), "--listen", CLOUD_HOST,
         "--port", "443", "--state", str(cloud_dir), "--server-name", DICOMWEB_HOST],
        stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
    logf.close()
    write(cloud_dir / "service.json", json.dumps({"kind": "placeholder", "pids": {"listener": proc.pid}}) + "\n")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if (cloud_dir / "listener.ready").exists():
            return {"kind": "placeholder", "url": f"https://{DICOMWEB_HOST}/", "pids": {"listener": proc.pid}}
        if proc.poll() is not None:
            raise LabError("cloud listener died: " + (cloud_dir / "listener.log").read_text()[-500:])
        time.sleep(0.05)
    raise LabError("cloud listener not ready after 10s")


def start_pacs_service() -> dict[str, Any]:
    from lab.services import pacs

    holder = read_pid(STATE / "dev" / "pacs" / "holder.pid")
    if not holder:
        raise LabError("pacs device is not running")
    handle = pacs.start_pacs(PACS_DIR, ip=MGMT_PACS, port=8042, username=PACS_API_USER,
                             password=PACS_API_PASSWORD, dicom_port=PACS_DICOM_PORT,
                             exec_prefix=["nsenter", "-t", str(holder), "-m", "-u", "-n", "--"])
    studies = pacs.load_test_studies(handle, count=1, instances=2)
    return {"kind": "orthanc", "pid": handle.pid, "workdir": str(PACS_DIR), "config": handle.config,
            "api": f"http://{MGMT_PACS}:8042", "studies": studies}
