"""Days until the client certificate and the cloud's server certificate expire."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
from typing import Any

from ..dicomweb.client import Endpoint
from ..dicomweb.tls import cert_facts_der, load_certs


def file_cert_days(path: str, now: dt.datetime | None = None) -> float:
    """Days (fractional) until the first certificate in the PEM file ``path`` expires (negative: expired)."""
    with open(path, "rb") as fh:
        cert = load_certs(fh.read(), "client certificate")[0]
    return _days(cert.not_valid_after_utc, now)


def _days(not_after: dt.datetime, now: dt.datetime | None = None) -> float:
    now = now or dt.datetime.now(dt.UTC)
    return round((not_after - now).total_seconds() / 86400.0, 3)


def server_cert_days(url: str, connect_address: str | None = None, timeout: float = 10.0,
                     now: dt.datetime | None = None) -> tuple[float, dict[str, Any]]:
    """Days until the server certificate the DICOMweb endpoint presents expires.

    The handshake does not verify the chain (an expired or untrusted certificate must still be measured;
    the canary and the blackbox probe judge trust). No client certificate is sent and no request is made.
    """
    ep = Endpoint.parse(url, connect_address)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((ep.address, ep.port), timeout=timeout) as raw, \
            ctx.wrap_socket(raw, server_hostname=ep.host) as tls:
        der = tls.getpeercert(binary_form=True)
    if not der:
        raise ValueError(f"{ep.host}:{ep.port} presented no certificate")
    facts = cert_facts_der(der, now)
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    return _days(cert.not_valid_after_utc, now), facts
