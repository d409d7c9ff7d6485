#!/usr/bin/env python3
"""The lab PKI: a CA, the cloud service's server certificate, the facility's client certificate.

Like a vendor hands a facility its client certificate and CA bundle. Also the broken material the
tests need to make every TLS failure real (expired, foreign CA, wrong hostname, expiring soon).

Function API::

    from lab.services.pki import generate_lab_pki
    files = generate_lab_pki("/tmp/pki", server_ips=["127.0.0.1", "203.0.113.140"],
                             client_key_password="s3cret")
    files["ca"], files["server_cert"], files["client_cert"], files["client_key"], ...

CLI::

    python lab/services/pki.py DIR [--ip 203.0.113.140 ...] [--dns dicom.lab.example ...]
        [--client-key-password-file FILE] [--no-test-material] [--key-type rsa|ec]

Everything is written fresh; private keys are mode 0600. ``DIR/pki.json`` lists the files.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lab.stowlab.host import atomic_write as _write  # noqa: E402

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

DEFAULT_SERVER_NAME = "dicom.lab.example"
DEFAULT_CLIENT_CN = "lab-facility PACS"
ORG = "stowpath lab (NOT A REAL PKI)"


@dataclass
class CertKey:
    """A certificate with its private key."""

    cert: x509.Certificate
    key: PrivateKey


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_key(key_type: str = "rsa") -> PrivateKey:
    """A fresh private key: RSA 2048 (what vendors usually hand out) or EC P-256."""
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"key_type must be rsa or ec, not {key_type!r}")


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORG),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_ca(common_name: str = "stowpath Lab CA", days: int = 3650, key_type: str = "rsa") -> CertKey:
    """A self-signed root CA."""
    key = make_key(key_type)
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertKey(cert, key)


def issue_cert(
    ca: CertKey,
    common_name: str,
    *,
    server: bool = False,
    client: bool = False,
    dns_names: Iterable[str] = (),
    ips: Iterable[str] = (),
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    days: int = 825,
    key_type: str = "rsa",
) -> CertKey:
    """A leaf certificate signed by ``ca`` (serverAuth and/or clientAuth, SANs for servers)."""
    key = make_key(key_type)
    now = _now()
    nb = not_before or (now - dt.timedelta(minutes=5))
    na = not_after or (now + dt.timedelta(days=days))
    usages = []
    if server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if client:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(nb)
        .not_valid_after(na)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False,
                key_encipherment=isinstance(key, rsa.RSAPrivateKey), data_encipherment=False,
                key_agreement=False, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
    )
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return CertKey(builder.sign(ca.key, hashes.SHA256()), key)


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: PrivateKey, password: str | None = None) -> bytes:
    """PKCS#8 PEM, encrypted (``ENCRYPTED PRIVATE KEY``) when a password is given."""
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


def write_pair(directory: Path, stem: str, pair: CertKey, password: str | None = None) -> tuple[Path, Path]:
    """Write ``stem.crt`` (0644) and ``stem.key`` (0600); return both paths."""
    crt, key = directory / f"{stem}.crt", directory / f"{stem}.key"
    _write(crt, cert_pem(pair.cert), 0o644)
    _write(key, key_pem(pair.key, password), 0o600)
    return crt, key


def generate_lab_pki(
    out_dir: str | os.PathLike[str],
    *,
    server_names: Iterable[str] = (DEFAULT_SERVER_NAME,),
    server_ips: Iterable[str] = ("127.0.0.1",),
    client_cn: str = DEFAULT_CLIENT_CN,
    client_key_password: str | None = None,
    test_material: bool = True,
    key_type: str = "rsa",
) -> dict[str, str]:
    """Generate the lab PKI into ``out_dir`` and return ``{name: path}`` (also in ``pki.json``).

    Always: ``ca`` (the CA bundle), ``ca_key``, ``server_cert``/``server_key`` (SAN = server_names
    + server_ips), ``client_cert``/``client_key``; ``client_key_encrypted`` when a password is given.
    With ``test_material``: ``client_expired_*``, ``client_expiring_*`` (10 days left),
    ``other_ca`` (a foreign CA), ``client_other_ca_*``, ``server_other_ca_*``,
    ``server_wrong_host_*`` (SAN wrong.lab.example only) and ``server_expired_*``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = list(server_names)
    ips = list(server_ips)
    now = _now()
    files: dict[str, str] = {}

    ca = make_ca(key_type=key_type)
    _write(out / "ca.crt", cert_pem(ca.cert), 0o644)
    _write(out / "ca.key", key_pem(ca.key), 0o600)
    files["ca"], files["ca_key"] = str(out / "ca.crt"), str(out / "ca.key")

    server = issue_cert(ca, names[0] if names else "dicomweb", server=True, dns_names=names, ips=ips,
                        key_type=key_type)
    files["server_cert"], files["server_key"] = map(str, write_pair(out, "server", server))
    client = issue_cert(ca, client_cn, client=True, key_type=key_type)
    files["client_cert"], files["client_key"] = map(str, write_pair(out, "client", client))
    if client_key_password:
        path = out / "client-encrypted.key"
        _write(path, key_pem(client.key, client_key_password), 0o600)
        files["client_key_encrypted"] = str(path)

    if test_material:
        t = out / "test"
        expired = issue_cert(ca, f"{client_cn} (expired)", client=True, key_type=key_type,
                             not_before=now - dt.timedelta(days=400), not_after=now - dt.timedelta(days=2))
        files["client_expired_cert"], files["client_expired_key"] = map(
            str, write_pair(t, "client-expired", expired))
        expiring = issue_cert(ca, f"{client_cn} (expiring)", client=True, key_type=key_type,
                              not_after=now + dt.timedelta(days=10))
        files["client_expiring_cert"], files["client_expiring_key"] = map(
            str, write_pair(t, "client-expiring", expiring))
        other = make_ca("Other Vendor CA (not the lab CA)", key_type=key_type)
        _write(t / "other-ca.crt", cert_pem(other.cert), 0o644)
        _write(t / "other-ca.key", key_pem(other.key), 0o600)
        files["other_ca"], files["other_ca_key"] = str(t / "other-ca.crt"), str(t / "other-ca.key")
        c_other = issue_cert(other, f"{client_cn} (other CA)", client=True, key_type=key_type)
        files["client_other_ca_cert"], files["client_other_ca_key"] = map(
            str, write_pair(t, "client-other-ca", c_other))
        s_other = issue_cert(other, names[0] if names else "dicomweb", server=True, dns_names=names,
                             ips=ips, key_type=key_type)
        files["server_other_ca_cert"], files["server_other_ca_key"] = map(
            str, write_pair(t, "server-other-ca", s_other))
        wrong = issue_cert(ca, "wrong.lab.example", server=True, dns_names=["wrong.lab.example"],
                           key_type=key_type)
        files["server_wrong_host_cert"], files["server_wrong_host_key"] = map(
            str, write_pair(t, "server-wrong-host", wrong))
        s_exp = issue_cert(ca, names[0] if names else "dicomweb", server=True, dns_names=names, ips=ips,
                           key_type=key_type, not_before=now - dt.timedelta(days=400),
                           not_after=now - dt.timedelta(days=3))
        files["server_expired_cert"], files["server_expired_key"] = map(
            str, write_pair(t, "server-expired", s_exp))

    manifest = {
        "files": files,
        "server_names": names,
        "server_ips": ips,
        "client_cn": client_cn,
        "generated": now.isoformat(timespec="seconds"),
    }
    _write(out / "pki.json", (json.dumps(manifest, indent=2) + "\n").encode(), 0o644)
    return files


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", help="output directory (written fresh)")
    ap.add_argument("--dns", action="append", help=f"server DNS SAN (default {DEFAULT_SERVER_NAME})")
    ap.add_argument("--ip", action="append", help="server IP SAN (default 127.0.0.1)")
    ap.add_argument("--client-cn", default=DEFAULT_CLIENT_CN)
    ap.add_argument("--client-key-password-file", help="also write client-encrypted.key with this password")
    ap.add_argument("--no-test-material", action="store_true", help="skip the broken certificates")
    ap.add_argument("--key-type", choices=("rsa", "ec"), default="rsa")
    args = ap.parse_args(argv)
    password = None
    if args.client_key_password_file:
        password = Path(args.client_key_password_file).read_text().strip()
    files = generate_lab_pki(
        args.dir,
        server_names=args.dns or [DEFAULT_SERVER_NAME],
        server_ips=args.ip or ["127.0.0.1"],
        client_cn=args.client_cn,
        client_key_password=password,
        test_material=not args.no_test_material,
        key_type=args.key_type,
    )
    for name, path in files.items():
        print(f"{name:24s} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
