"""Live: each fault of the lab's catalogue makes its alert reach the webhook, and clearing it resolves it.

Needs the lab (`make lab-up`), the lab facility onboarded (`make demo`) and monitoring deployed
(`playbooks/monitor-site.yml -i inventories/lab`, done here). Fault-to-alert times go to
reports/monitoring/timings.json.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from .lablive import PY, REPO, clear, inject, lab, record, wait_notification

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("monitoring")]


def _cycle(alert: str, fault: str, fire_timeout: float = 240, resolve_timeout: float = 240) -> None:
    t0 = inject(fault)
    try:
        fired = wait_notification(alert, "firing", t0, fire_timeout, site="lab-facility")
    finally:
        t1 = clear()
    resolved = wait_notification(alert, "resolved", t1, resolve_timeout, site="lab-facility")
    record(alert, fault=fault, fault_to_alert_s=fired, clear_to_resolved_s=resolved)


def test_tunnel_degraded() -> None:
    _cycle("TunnelDegraded", "vpn-endpoint-down")


def test_tunnel_down() -> None:
    _cycle("TunnelDown", "vpn-down")


def test_bgp_down() -> None:
    _cycle("BgpDown", "bgp-asn-mismatch")


def test_stow_canary_failing() -> None:
    _cycle("StowCanaryFailing", "service-503")


def test_client_cert_expiring_soon() -> None:
    """Replace the client certificate on the monitoring host by one (same key, same lab CA) that expires in
    10 days: below cert_expiry_warn_days (30)."""
    site_dir = "/etc/stowpath-monitor/tls/lab-facility"
    script = (
        "import sys, datetime as dt; sys.path.insert(0, 'lab')\n"
        "from cryptography import x509\n"
        "from cryptography.hazmat.primitives import hashes, serialization\n"
        "pki = '/run/stowpath-lab/pki/'\n"
        "ca = x509.load_pem_x509_certificate(open(pki + 'ca.crt', 'rb').read())\n"
        "ca_key = serialization.load_pem_private_key(open(pki + 'ca.key', 'rb').read(), None)\n"
        "old = x509.load_pem_x509_certificate(open(pki + 'client.crt', 'rb').read())\n"
        "now = dt.datetime.now(dt.UTC)\n"
        "b = x509.CertificateBuilder().subject_name(old.subject).issuer_name(ca.subject).public_key(old.public_key())\n"
        "b = b.serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))\n"
        "b = b.not_valid_after(now + dt.timedelta(days=10))\n"
        "for e in old.extensions: b = b.add_extension(e.value, e.critical)\n"
        "open('/tmp/stowpath-mon-short.crt', 'wb').write(b.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))\n")
    subprocess.run([PY, "-c", script], cwd=REPO, check=True)
    t0 = time.time()
    lab("exec", "mon", "--", "sh", "-c", f"cp {site_dir}/client.crt {site_dir}/client.crt.orig && "
        f"cp /tmp/stowpath-mon-short.crt {site_dir}/client.crt")
    try:
        fired = wait_notification("ClientCertExpiringSoon", "firing", t0, 120, site="lab-facility")
    finally:
        t1 = time.time()
        lab("exec", "mon", "--", "sh", "-c", f"mv {site_dir}/client.crt.orig {site_dir}/client.crt")
        os.unlink("/tmp/stowpath-mon-short.crt")
    resolved = wait_notification("ClientCertExpiringSoon", "resolved", t1, 120, site="lab-facility")
    record("ClientCertExpiringSoon", fault="client certificate with 10 days left", fault_to_alert_s=fired,
           clear_to_resolved_s=resolved)
