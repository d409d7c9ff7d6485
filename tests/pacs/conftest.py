"""Real Orthanc processes on loopback (free ports) for the PACS tests.

- ``pacs``: the on-prem PACS (ServersInDatabase on), one per test module.
- ``plain_cloud``: a second Orthanc over plain HTTP with its DICOMweb root at ``/dicomweb/`` (the
  shape of the real service without TLS), one per test module.
- ``lab_pki`` / ``tls_cloud``: the imaging helper's lab PKI and nginx-mTLS cloud
  (``lab/services/pki.py``, ``lab/services/cloud_dicomweb.py``) with Basic auth on top.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lab.services import pacs as lab_pacs

from .pacs_helpers import CLOUD_PASSWORD, CLOUD_USER, KEY_PASSWORD


@pytest.fixture(scope="module")
def pacs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[lab_pacs.OrthancHandle]:
    h = lab_pacs.start_pacs(tmp_path_factory.mktemp("pacs"))
    yield h
    lab_pacs.stop_pacs(h)


@pytest.fixture(scope="module")
def plain_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[lab_pacs.OrthancHandle]:
    h = lab_pacs.start_orthanc(tmp_path_factory.mktemp("cloud"), name="PLAIN-CLOUD", dicomweb_root="/dicomweb/")
    yield h
    lab_pacs.stop_orthanc(h)


@pytest.fixture(scope="module")
def lab_pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from lab.services import pki

    return pki.generate_lab_pki(tmp_path_factory.mktemp("pki"), server_ips=["127.0.0.1"],
                                client_key_password=KEY_PASSWORD)


@pytest.fixture(scope="module")
def tls_cloud(tmp_path_factory: pytest.TempPathFactory, lab_pki: dict[str, str]) -> Iterator[Any]:
    from lab.services import cloud_dicomweb as cd

    h = cd.start_cloud_dicomweb(tmp_path_factory.mktemp("tlscloud"), server_cert=lab_pki["server_cert"],
                                server_key=lab_pki["server_key"], client_ca=lab_pki["ca"],
                                basic_auth={CLOUD_USER: CLOUD_PASSWORD})
    yield h
    cd.stop_cloud_dicomweb(h)

