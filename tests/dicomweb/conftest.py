"""Real services for the DICOMweb tests: the lab PKI and nginx + Orthanc on loopback, free ports.

Session fixtures, started lazily (only what the collected tests use) and stopped by PID.
The URL host is ``dicom.lab.example`` (the server certificate's SAN); the probes connect to
127.0.0.1 through ``connect_address``, like ``curl --resolve``.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.dicomweb.probes import Target

REPO = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path) -> ModuleType:
    """Import a lab service module by path, under a private name.

    The name ``lab`` is ambiguous under pytest: a ``tests/lab/`` package shadows the repository's
    ``lab/`` whenever ``tests/`` is on sys.path.
    """
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


labpki = _load("stowpath_lab_pki", REPO / "lab" / "services" / "pki.py")
cd = _load("stowpath_lab_cloud_dicomweb", REPO / "lab" / "services" / "cloud_dicomweb.py")
CloudHandle = cd.CloudHandle
start_cloud_dicomweb = cd.start_cloud_dicomweb
stop_cloud_dicomweb = cd.stop_cloud_dicomweb
generate_lab_pki = labpki.generate_lab_pki

KEY_PASSWORD = "stowpath-test-key-pw"  # test-only password of the generated encrypted key
BASIC_USER = "stow-test"
BASIC_PASSWORD = "correct-horse-battery"  # test-only Basic-auth password
HOST = "dicom.lab.example"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes seconds on purpose (timeouts, large uploads)")


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return generate_lab_pki(tmp_path_factory.mktemp("pki"), server_ips=["127.0.0.1"],
                            client_key_password=KEY_PASSWORD)


class Services:
    """Starts named service variants on first use; stops them all at the end of the session."""

    def __init__(self, base: Path, pki: dict[str, str]) -> None:
        self.base = base
        self.pki = pki
        self.handles: dict[str, CloudHandle] = {}

    def get(self, name: str, **kwargs: Any) -> CloudHandle:
        if name not in self.handles:
            kwargs.setdefault("server_cert", self.pki["server_cert"])
            kwargs.setdefault("server_key", self.pki["server_key"])
            kwargs.setdefault("client_ca", self.pki["ca"])
            self.handles[name] = start_cloud_dicomweb(self.base / name, **kwargs)
        return self.handles[name]

    def stop(self) -> None:
        stop_cloud_dicomweb(*self.handles.values())


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory, pki: dict[str, str]) -> Iterator[Services]:
    svc = Services(tmp_path_factory.mktemp("cloud"), pki)
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def svc(services: Services) -> CloudHandle:
    """mTLS required, no Basic auth: the lab's default cloud service."""
    return services.get("mtls")


@pytest.fixture(scope="session")
def svc_basic(services: Services) -> CloudHandle:
    """mTLS + Basic auth (bcrypt htpasswd)."""
    return services.get("basic", basic_auth={BASIC_USER: BASIC_PASSWORD})


@pytest.fixture(scope="session")
def svc_slow(services: Services) -> CloudHandle:
    """Every response held 1.5 s by a proxy between nginx and Orthanc."""
    return services.get("slow", delay_s=1.5)


@pytest.fixture(scope="session")
def svc_single(services: Services) -> CloudHandle:
    """A vendor that accepts only single-part ``Content-Type: application/dicom`` STOW-RS POSTs."""
    return services.get("single", stow_forms="single")


@pytest.fixture(scope="session")
def svc_down(services: Services) -> CloudHandle:
    """nginx up, Orthanc not running: 502."""
    return services.get("down", start_backend=False)


@pytest.fixture(scope="session")
def svc_expired_server(services: Services, pki: dict[str, str]) -> CloudHandle:
    return services.get("expired-server", server_cert=pki["server_expired_cert"],
                        server_key=pki["server_expired_key"], start_backend=False)


@pytest.fixture(scope="session")
def svc_wrong_host(services: Services, pki: dict[str, str]) -> CloudHandle:
    return services.get("wrong-host", server_cert=pki["server_wrong_host_cert"],
                        server_key=pki["server_wrong_host_key"], start_backend=False)


@pytest.fixture()
def target_for(pki: dict[str, str]) -> Any:
    """``target_for(handle, **overrides)``: a probe Target with the good client material."""

    def make(handle: CloudHandle, **kw: Any) -> Target:
        args: dict[str, Any] = {
            "url": handle.url,
            "ca_bundle": pki["ca"],
            "client_cert": pki["client_cert"],
            "client_key": pki["client_key"],
            "connect_address": "127.0.0.1",
            "timeout": 10.0,
        }
        args.update(kw)
        return Target(**args)

    return make
