"""TLS material: certificate facts, key/cert match, chain to the CA bundle, expiry; SSL contexts.

Pure functions over PEM bytes (``cryptography``), so the ``tls_material`` module, the probes and
the report share one view of a certificate. Nothing here ever returns key material.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..checks import check

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID

    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR: Exception | None = None
except ImportError as exc:  # pragma: no cover - the managed host lacks python3-cryptography
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = exc

DEFAULT_WARN_DAYS = 30


class MaterialError(ValueError):
    """A certificate or key that cannot be used; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def load_certs(pem: bytes, what: str = "certificate") -> list[Any]:
    """Every certificate in a PEM blob (a bundle or a leaf + intermediates)."""
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        if b"PRIVATE KEY-----" in pem:
            raise MaterialError("not_a_certificate", f"the {what} file holds a private key, not a certificate")
        raise MaterialError("not_a_certificate", f"the {what} is not PEM (no BEGIN CERTIFICATE block)")
    try:
        return list(x509.load_pem_x509_certificates(pem))
    except ValueError as exc:
        raise MaterialError("unreadable_certificate", f"the {what} cannot be parsed: {exc}") from None


def load_key(pem: bytes, password: str | None) -> Any:
    """The private key; a clear ``MaterialError`` for encrypted-without-password or wrong password."""
    if b"PRIVATE KEY-----" not in pem:
        if b"-----BEGIN CERTIFICATE-----" in pem:
            raise MaterialError("not_a_key", "the client key file holds a certificate, not a private key")
        raise MaterialError("not_a_key", "the client key is not a PEM private key")
    encrypted = b"ENCRYPTED" in pem
    if encrypted and not password:
        raise MaterialError(
            "key_encrypted", "the client key is encrypted and no key password was given (client_key_password)"
        )
    try:
        return serialization.load_pem_private_key(pem, password.encode() if (password and encrypted) else None)
    except (ValueError, TypeError) as exc:
        if encrypted:
            raise MaterialError("key_bad_password", "the client key password does not decrypt the key") from None
        raise MaterialError("unreadable_key", f"the client key cannot be parsed: {exc}") from None


def _public_der(public_key: Any) -> bytes:
    return bytes(public_key.public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo))


def key_matches_cert(key: Any, cert: Any) -> bool:
    """True when the private key belongs to the certificate's public key."""
    return _public_der(key.public_key()) == _public_der(cert.public_key())


def key_description(key_or_public: Any) -> str:
    """``RSA 2048`` / ``EC secp256r1`` / ``Ed25519`` (no key material)."""
    pub = key_or_public.public_key() if hasattr(key_or_public, "private_bytes") else key_or_public
    if isinstance(pub, rsa.RSAPublicKey):
        return f"RSA {pub.key_size}"
    if isinstance(pub, ec.EllipticCurvePublicKey):
        return f"EC {pub.curve.name}"
    if isinstance(pub, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(pub, ed448.Ed448PublicKey):
        return "Ed448"
    if isinstance(pub, dsa.DSAPublicKey):
        return f"DSA {pub.key_size}"
    return type(pub).__name__


def _sans(cert: Any) -> list[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    out = [f"DNS:{n}" for n in ext.get_values_for_type(x509.DNSName)]
    out += [f"IP:{ip}" for ip in ext.get_values_for_type(x509.IPAddress)]
    return out


def _eku(cert: Any) -> list[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return []
    names = {ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth", ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth"}
    return [names.get(oid, oid.dotted_string) for oid in ext]


def _is_ca(cert: Any) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def days_left(cert: Any, now: dt.datetime | None = None) -> int:
    """Whole days until ``notAfter`` (negative when expired)."""
    delta = cert.not_valid_after_utc - (now or utcnow())
    return int(delta.total_seconds() // 86400)


def cert_facts(cert: Any, now: dt.datetime | None = None) -> dict[str, Any]:
    """What an admin (or the vendor) needs to know about one certificate; never secret."""
    now = now or utcnow()
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": format(cert.serial_number, "x"),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "days_left": days_left(cert, now),
        "expired": now > cert.not_valid_after_utc,
        "not_yet_valid": now < cert.not_valid_before_utc,
        "sans": _sans(cert),
        "extended_key_usage": _eku(cert),
        "is_ca": _is_ca(cert),
        "key": key_description(cert.public_key()),
        "sha256_fingerprint": hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest(),
    }


def cert_facts_der(der: bytes, now: dt.datetime | None = None) -> dict[str, Any]:
    return cert_facts(x509.load_der_x509_certificate(der), now)


@dataclass
class ChainResult:
    ok: bool
    chain: list[Any]
    problem: str | None = None
    code: str | None = None


def verify_chain(leaf: Any, intermediates: Sequence[Any], roots: Sequence[Any]) -> ChainResult:
    """Build and signature-check ``leaf`` -> intermediates -> a certificate of the CA bundle.

    Deliberately tolerant of policy details (that is the TLS peer's job); expiry is checked
    separately so the cause stays clear.
    """
    root_fps = {r.fingerprint(_sha256()) for r in roots}
    chain = [leaf]
    current = leaf
    if current.fingerprint(_sha256()) in root_fps:
        return ChainResult(True, chain)
    for _ in range(10):
        bad_signature = None
        for root in roots:
            if root.subject == current.issuer:
                try:
                    current.verify_directly_issued_by(root)
                except (ValueError, TypeError, InvalidSignature) as exc:
                    bad_signature = f"{root.subject.rfc4514_string()}: {exc or 'invalid signature'}"
                    continue
                chain.append(root)
                return ChainResult(True, chain)
        step = None
        for cand in intermediates:
            if cand.subject == current.issuer and cand is not current:
                try:
                    current.verify_directly_issued_by(cand)
                except (ValueError, TypeError, InvalidSignature):
                    continue
                step = cand
                break
        if step is None:
            if bad_signature:
                return ChainResult(False, chain, f"signature does not verify against {bad_signature}",
                                   "bad_signature")
            return ChainResult(
                False, chain,
                f"issuer '{current.issuer.rfc4514_string()}' of '{current.subject.rfc4514_string()}' "
                "is not in the CA bundle",
                "unknown_ca",
            )
        chain.append(step)
        current = step
    return ChainResult(False, chain, "chain longer than 10 certificates", "chain_too_long")


def _sha256() -> Any:
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


def _worse(a: str, b: str) -> str:
    order = ("pass", "skip", "warn", "fail")
    return a if order.index(a) >= order.index(b) else b


def _expiry_status(facts: dict[str, Any], warn_days: int) -> tuple[str, str | None, str | None]:
    if facts["expired"]:
        return "fail", f"certificate expired on {facts['not_after'][:10]}", "obtain a renewed certificate"
    if facts["not_yet_valid"]:
        return ("fail", f"certificate is not valid before {facts['not_before']}",
                "check this host's clock (NTP) or wait until the certificate becomes valid")
    if facts["days_left"] < warn_days:
        return ("warn", f"certificate expires in {facts['days_left']} days ({facts['not_after'][:10]})",
                "request a renewed certificate now")
    return "pass", None, None


def _readable_certs(pem: bytes, what: str, check_id: str, action: str, checks: list[dict[str, Any]]) -> list[Any]:
    """The certificates in ``pem``; none, and a failed ``check_id`` in ``checks``, when it cannot be read."""
    try:
        return load_certs(pem, what)
    except MaterialError as exc:
        checks.append(check(check_id, "tls", f"{what[:1].upper()}{what[1:]} is readable", "fail",
                            cause=str(exc), action=action))
        return []


def validate_material(
    ca_pem: bytes | None,
    cert_pem: bytes | None,
    key_pem: bytes | None,
    key_password: str | None = None,
    warn_days: int = DEFAULT_WARN_DAYS,
    now: dt.datetime | None = None,
    require_client_chain: bool = True,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Check TLS material before it is installed; return ``(checks, facts)``.

    Checks (group ``tls``): ``tls.material.ca_bundle``, ``tls.material.client_cert`` (expiry,
    ``warn`` within ``warn_days``), ``tls.material.client_key`` (readable, matches the
    certificate), ``tls.material.chain`` (client certificate chains to the CA bundle).
    """
    now = now or utcnow()
    checks: list[dict[str, Any]] = []
    facts: dict[str, Any] = {}
    roots: list[Any] = []
    if ca_pem is not None:
        roots = _readable_certs(ca_pem, "CA bundle", "tls.material.ca_bundle",
                                "use the PEM CA bundle the vendor provided", checks)
        if roots:
            ca_facts = [cert_facts(c, now) for c in roots]
            facts["ca_bundle"] = ca_facts
            problems = []
            worst = "pass"
            for f in ca_facts:
                st, cause, _ = _expiry_status(f, warn_days)
                if st == "fail" and len(ca_facts) > 1:
                    st = "warn"  # another certificate of the bundle may still do the job
                if st != "pass":
                    problems.append(f"{f['subject']}: {cause}")
                if not f["is_ca"]:
                    problems.append(f"{f['subject']}: not a CA certificate (basicConstraints CA:FALSE)")
                    st = "warn" if st == "pass" else st
                worst = _worse(worst, st)
            status = worst
            checks.append(check(
                "tls.material.ca_bundle", "tls", f"CA bundle holds {len(roots)} certificate(s)", status,
                detail={"certificates": [{k: f[k] for k in ("subject", "not_after", "days_left")} for f in ca_facts]},
                cause="; ".join(problems) or None,
                action="ask the vendor for a current CA bundle" if problems else None,
            ))

    leaf = None
    extra: list[Any] = []
    if cert_pem is not None:
        certs = _readable_certs(cert_pem, "client certificate", "tls.material.client_cert",
                                "use the PEM client certificate the vendor issued", checks)
        if certs:
            leaf, extra = certs[0], certs[1:]
            f = cert_facts(leaf, now)
            facts["client_cert"] = f
            st, cause, action = _expiry_status(f, warn_days)
            if st == "pass" and f["extended_key_usage"] and "clientAuth" not in f["extended_key_usage"]:
                st, cause, action = ("warn", "certificate has no clientAuth extended key usage",
                                     "ask the vendor for a client (clientAuth) certificate")
            title = f"Client certificate {f['subject']} valid until {f['not_after'][:10]} ({f['days_left']} days)"
            checks.append(check("tls.material.client_cert", "tls", title, st,
                                detail={k: f[k] for k in ("subject", "issuer", "not_after", "days_left", "sans",
                                                          "extended_key_usage", "key", "sha256_fingerprint")},
                                cause=cause, action=action))

    if key_pem is not None:
        try:
            key = load_key(key_pem, key_password)
        except MaterialError as exc:
            action = {
                "key_encrypted": "give client_key_password (from Ansible Vault)",
                "key_bad_password": "check client_key_password against the vendor's hand-over",
            }.get(exc.code, "use the PEM private key that belongs to the client certificate")
            checks.append(check("tls.material.client_key", "tls", "Client key is readable", "fail",
                                detail={"problem": exc.code}, cause=str(exc), action=action))
        else:
            facts["client_key"] = {"type": key_description(key), "encrypted": b"ENCRYPTED" in key_pem}
            if leaf is not None:
                ok = key_matches_cert(key, leaf)
                checks.append(check(
                    "tls.material.client_key", "tls",
                    "Client key matches the client certificate" if ok else "Client key does not match the certificate",
                    "pass" if ok else "fail", detail=facts["client_key"],
                    cause=None if ok else "the private key belongs to a different certificate",
                    action=None if ok else "install the key generated together with this certificate",
                ))
            else:
                checks.append(check("tls.material.client_key", "tls", "Client key is readable", "pass",
                                    detail=facts["client_key"]))

    if leaf is not None and roots:
        res = verify_chain(leaf, extra, roots)
        names = [c.subject.rfc4514_string() for c in res.chain]
        facts["client_chain"] = names
        checks.append(check(
            "tls.material.chain", "tls",
            "Client certificate chains to the CA bundle" if res.ok else "Client certificate does not chain to the CA bundle",
            "pass" if res.ok else ("fail" if require_client_chain else "warn"),
            detail={"chain": names},
            cause=res.problem,
            action=None if res.ok else (
                "the CA bundle verifies the server; the client certificate may come from another CA the "
                "service trusts. Confirm with the vendor which CA issued the client certificate"),
        ))
    return checks, facts


# --------------------------------------------------------------------------- SSL contexts


def make_context(
    ca_bundle: str | None,
    client_cert: str | None = None,
    client_key: str | None = None,
    client_key_password: str | None = None,
    verify: bool = True,
) -> ssl.SSLContext:
    """A client context that trusts ONLY ``ca_bundle``.

    Never ``set_default_verify_paths``: this machine (and many CI runners) set
    ``SSL_CERT_FILE``/``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``, and a probe that silently trusts
    them proves nothing about the CA the facility installed. Only ``ca_bundle=None`` (a caller
    given no CA bundle at all) falls back to the system's trust store. An encrypted key is loaded
    with its password (never prompts: an empty password is passed instead of ``None``).
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if verify and ca_bundle is None:
        ctx.load_default_certs()
    elif verify:
        ctx.load_verify_locations(cafile=ca_bundle)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if client_cert:
        ctx.load_cert_chain(client_cert, client_key or None, password=client_key_password or "")
    return ctx


# --------------------------------------------------------------------------- install helpers


def describe_pem(pem: bytes | None, kind: str) -> str:
    """A diff-safe summary of PEM material: subjects/expiry for certificates, type only for keys."""
    if pem is None:
        return "(absent)\n"
    if kind == "key":
        try:
            key = serialization.load_pem_private_key(pem, None)
            fp = hashlib.sha256(_public_der(key.public_key())).hexdigest()[:16]
            return f"private key {key_description(key)} (public key sha256 {fp}...); content hidden\n"
        except (ValueError, TypeError):
            digest = hashlib.sha256(pem).hexdigest()[:8]
            return f"private key (encrypted or unreadable; file sha256 {digest}...); content hidden\n"
    try:
        certs = load_certs(pem)
    except MaterialError:
        return f"not PEM certificates ({len(pem)} bytes)\n"
    lines = [
        f"{c.subject.rfc4514_string()} | issuer {c.issuer.rfc4514_string()} | not after "
        f"{c.not_valid_after_utc.date()} | sha256 {c.fingerprint(_sha256()).hex()[:16]}..."
        for c in certs
    ]
    return "\n".join(lines) + "\n"


def normalise_pem(data: bytes | str) -> bytes:
    """PEM text from a file or a (vault) variable: bytes, trailing newline, no CRs."""
    raw = data.encode() if isinstance(data, str) else data
    raw = raw.replace(b"\r\n", b"\n").strip() + b"\n"
    return raw
