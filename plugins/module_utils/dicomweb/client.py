"""HTTPS to a DICOMweb endpoint: connections with timings, streaming requests, failure classes.

Built on ``http.client`` + ``ssl`` (stdlib) with an explicit SSL context, so nothing from the
environment (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, ``SSL_CERT_FILE``, proxies) changes what
is trusted or where traffic goes, and so an encrypted client key works. A request body may be an
iterable of chunks (streamed from disk with a known ``Content-Length``).
"""

from __future__ import annotations

import base64
import errno
import http.client
import socket
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

MAX_BODY = 8 * 1024 * 1024  # responses we keep (STOW/QIDO answers are small)


@dataclass(frozen=True)
class Endpoint:
    """A DICOMweb STOW-RS URL (``https://host[:port]/base/studies``) and where to connect."""

    url: str
    scheme: str
    host: str
    port: int
    path: str
    connect_address: str | None = None

    @classmethod
    def parse(cls, url: str, connect_address: str | None = None) -> Endpoint:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"dicomweb_url must be https://host[:port]/path, not {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        path = parts.path or "/"
        return cls(url, parts.scheme, parts.hostname, port, path, connect_address or None)

    @property
    def address(self) -> str:
        return self.connect_address or self.host

    @property
    def studies_path(self) -> str:
        """The ``studies`` resource (STOW-RS POST, QIDO-RS GET): the URL path, ``/studies`` added if absent."""
        path = self.path.rstrip("/")
        return path if path.endswith("/studies") else path + "/studies"

    def target(self, query: Mapping[str, object] | None = None) -> str:
        """Request target for the ``studies`` resource with an optional query."""
        if not query:
            return self.studies_path
        return self.studies_path + "?" + "&".join(f"{quote(k)}={quote(str(v))}" for k, v in query.items())


@dataclass
class Failure:
    """One failure, classified: ``code`` for machines, ``cause`` and ``action`` for the admin."""

    code: str
    cause: str
    action: str
    detail: dict[str, Any] = field(default_factory=dict)


class ProbeError(Exception):
    """A request that did not get an HTTP answer; ``phase`` is connect, tls, send or response."""

    def __init__(self, phase: str, failure: Failure, timings: dict[str, float] | None = None) -> None:
        self.phase = phase
        self.failure = failure
        self.timings = timings or {}
        super().__init__(f"{phase}: {failure.cause}")


@dataclass
class Response:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    timings: dict[str, float]
    tls: dict[str, Any]
    auth: str = ""

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def text(self, limit: int = 2000) -> str:
        return self.body[:limit].decode("utf-8", "replace")


# --------------------------------------------------------------------------- classification

VERIFY_CODES = {
    10: "expired_certificate",
    9: "certificate_not_yet_valid",
    62: "hostname_mismatch",
    64: "hostname_mismatch",
    2: "unknown_ca",
    18: "unknown_ca",
    19: "unknown_ca",
    20: "unknown_ca",
    21: "unknown_ca",
    7: "bad_certificate",
    26: "bad_certificate",
}

ALERTS_CLIENT_CERT = {
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "client_cert_missing",
    "SSLV3_ALERT_BAD_CERTIFICATE": "client_cert_rejected",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "client_cert_rejected",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": "client_cert_rejected",
    "SSLV3_ALERT_CERTIFICATE_REVOKED": "client_cert_rejected",
    "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE": "client_cert_rejected",
    "TLSV1_ALERT_UNKNOWN_CA": "client_cert_rejected",
    "TLSV1_ALERT_ACCESS_DENIED": "client_cert_rejected",
    "TLSV1_ALERT_DECRYPT_ERROR": "client_cert_rejected",
}

ACTIONS = {
    "expired_certificate": "the vendor must renew the server certificate; also check this host's clock (NTP)",
    "certificate_not_yet_valid": "check this host's clock (NTP)",
    "unknown_ca": "install the CA bundle the vendor provided (ca_bundle); it must contain the CA that "
                  "issued the server certificate",
    "hostname_mismatch": "connect by the hostname of the vendor's dicomweb_url (DNS or hosts entry pointing "
                         "at the service), not by IP or another name",
    "bad_certificate": "the server certificate cannot be used for TLS server authentication: contact the vendor",
    "client_cert_missing": "configure the client certificate and key (mTLS) issued by the vendor",
    "client_cert_rejected": "use the client certificate the vendor issued (valid, from the CA the service "
                            "trusts); renew it if expired",
    "auth_rejected": "check the Basic-auth user and password (Ansible Vault) with the vendor",
    "forbidden": "the service knows the client but denies access: ask the vendor to authorise this "
                 "certificate/user for STOW-RS",
    "connection_refused": "nothing listens on that address/port: check dicomweb_url's host and port, "
                          "and that the service is running",
    "timeout": "increase the timeout; check latency, the tunnel and that the firewall allows TCP 443 to "
               "the DICOMweb CIDR",
    "wrong_path": "use the exact dicomweb_url path from the vendor (e.g. /dicomweb/studies)",
    "method_not_allowed": "the URL is not the STOW-RS studies resource: check the dicomweb_url path",
    "service_error": "the DICOMweb service failed: retry later and report the status and time to the vendor",
    "unsupported_media_type": "switch the request form (request_form) to what the service accepts",
    "payload_too_large": "a proxy limits the request size: ask the vendor to raise it or send smaller studies",
    "conflict": "the instance conflicts with stored data (e.g. study UID mismatch): check the payload",
    "bad_request": "the service rejected the request payload: confirm endpoint path and payload format",
    "dns_failure": "the hostname does not resolve here: add a DNS/hosts entry or set connect_address",
    "network_unreachable": "no route to the service: check the tunnel/BGP routes for the DICOMweb CIDR",
    "connection_reset": "the connection was cut: check firewalls/proxies on the path and the service logs",
    "not_tls": "the port does not speak TLS: use https:// with the TLS port (443)",
    "tls_error": "TLS negotiation failed: compare TLS versions/ciphers with the vendor's requirements",
    "client_material": "fix the client certificate/key (see tls_material)",
    "http_error": "see the HTTP status and body",
}


def failure(code: str, cause: str, **detail: Any) -> Failure:
    return Failure(code, cause, ACTIONS.get(code, ACTIONS["http_error"]), dict(detail))


def classify_exception(exc: BaseException, endpoint: Endpoint, phase: str, timeout: float) -> Failure:
    """Map a socket/SSL exception to a failure class an admin can act on."""
    where = f"{endpoint.address}:{endpoint.port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = VERIFY_CODES.get(exc.verify_code or -1, "tls_error")
        msg = exc.verify_message or str(exc)
        causes = {
            "expired_certificate": f"the server certificate of {endpoint.host} has expired ({msg})",
            "certificate_not_yet_valid": f"the server certificate of {endpoint.host} is not valid yet ({msg})",
            "unknown_ca": f"the server certificate is not issued by a CA in the given CA bundle ({msg})",
            "hostname_mismatch": f"the server certificate does not cover the name {endpoint.host} ({msg})",
            "bad_certificate": f"the server certificate was refused ({msg})",
        }
        return failure(code, causes.get(code, f"server certificate verification failed: {msg}"),
                       verify_code=exc.verify_code, verify_message=msg)
    if isinstance(exc, ssl.SSLError):
        reason = getattr(exc, "reason", None) or ""
        if reason in ALERTS_CLIENT_CERT:
            code = ALERTS_CLIENT_CERT[reason]
            text = ("the service requires a client certificate and none was sent" if code == "client_cert_missing"
                    else f"the service rejected the client certificate (TLS alert {reason})")
            return failure(code, text, tls_alert=reason)
        if reason in ("WRONG_VERSION_NUMBER", "HTTP_REQUEST", "RECORD_LAYER_FAILURE"):
            return failure("not_tls", f"{where} does not answer TLS ({reason})", ssl_reason=reason)
        if reason in ("UNEXPECTED_EOF_WHILE_READING",) or isinstance(exc, ssl.SSLEOFError):
            return failure("connection_reset", f"{where} closed the connection during TLS ({reason or exc})",
                           ssl_reason=reason)
        return failure("tls_error", f"TLS with {where} failed: {reason or exc}", ssl_reason=reason)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        if phase == "connect":
            cause = f"TCP connect to {where} timed out after {timeout:g} s (packets dropped: firewall, route or tunnel)"
        elif phase == "tls":
            cause = f"TLS handshake with {where} timed out after {timeout:g} s"
        else:
            cause = f"the service did not answer within {timeout:g} s (slow service or path)"
        return failure("timeout", cause, phase=phase, timeout_s=timeout)
    if isinstance(exc, ConnectionRefusedError):
        return failure("connection_refused", f"connection to {where} refused (nothing listens there)")
    if isinstance(exc, socket.gaierror):
        return failure("dns_failure", f"{endpoint.host} does not resolve ({exc.strerror})")
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)):
        return failure("connection_reset", f"{where} closed the connection ({type(exc).__name__}) during {phase}")
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return failure("network_unreachable", f"no route to {where} ({exc.strerror})")
    if isinstance(exc, OSError):
        return failure("connection_reset", f"network error with {where} during {phase}: {exc}")
    return failure("http_error", f"{type(exc).__name__}: {exc}")


def classify_http(resp: Response, *, has_client_cert: bool, has_basic_auth: bool) -> Failure | None:
    """``None`` for 2xx; otherwise the failure class of an HTTP answer."""
    status = resp.status
    if 200 <= status < 300:
        return None
    body = resp.text(4000)
    low = body.lower()
    detail = {"http_status": status, "http_reason": resp.reason, "body_excerpt": body[:300]}
    if status in (400, 495, 496) and ("ssl certificate" in low or "client certificate" in low or status != 400):
        if "no required ssl certificate" in low or status == 496 or not has_client_cert:
            return failure("client_cert_missing",
                           f"HTTP {status}: the service requires a client certificate (mTLS) and none was sent",
                           **detail)
        return failure("client_cert_rejected",
                       f"HTTP {status}: the TLS front end rejected the client certificate ({_title(body)})", **detail)
    bearer = classify_bearer_challenge(resp, detail)
    if bearer is not None:
        return bearer
    if status == 401:
        challenge = resp.headers.get("www-authenticate", "")
        detail["www_authenticate"] = challenge
        if has_basic_auth:
            return failure("auth_rejected", "HTTP 401: Basic auth rejected (wrong user or password)", **detail)
        return failure("auth_rejected", f"HTTP 401: the service requires credentials ({challenge or 'no challenge'})",
                       **detail)
    if status == 403:
        return failure("forbidden", "HTTP 403: access denied for this client", **detail)
    if status == 404:
        return failure("wrong_path", f"HTTP 404: no DICOMweb resource at {resp.tls.get('target', 'that path')}",
                       **detail)
    if status == 405:
        return failure("method_not_allowed", "HTTP 405: method not allowed at this URL", **detail)
    if status == 413:
        return failure("payload_too_large", "HTTP 413: request body too large for the service or a proxy", **detail)
    if status == 415:
        return failure("unsupported_media_type", "HTTP 415: the service does not accept this content type", **detail)
    if status == 409:
        return failure("conflict", "HTTP 409: conflict with stored data", **detail)
    if status in (408, 504):
        return failure("timeout", f"HTTP {status}: a gateway timed out waiting for the service", **detail)
    if status in (502, 503):
        return failure("service_error",
                       f"HTTP {status}: the service behind the TLS front end is unavailable ({resp.reason})", **detail)
    if status >= 500:
        return failure("service_error", f"HTTP {status}: internal error of the DICOMweb service", **detail)
    if status == 400:
        return failure("bad_request", f"HTTP 400: the service rejected the request ({_title(body)})", **detail)
    return failure("http_error", f"HTTP {status} {resp.reason}", **detail)


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``(scheme, params)`` of a ``WWW-Authenticate`` header (the first challenge)."""
    import re

    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
              for m in re.finditer(r'([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))', rest)}
    return scheme.lower(), params


def classify_bearer_challenge(resp: Response, detail: dict[str, Any]) -> Failure | None:
    """A 401/403 with a ``Bearer`` challenge (RFC 6750 section 3) as a token failure class, else None."""
    if resp.status not in (401, 403):
        return None
    header = resp.headers.get("www-authenticate", "")
    scheme, params = parse_challenge(header)
    if scheme != "bearer":
        return None
    from .oauth import token_failure

    error = params.get("error", "")
    desc = params.get("error_description", "")
    info = {**detail, "www_authenticate": header[:300], "bearer_error": error or None}
    sent = "bearer" in resp.auth
    low = desc.lower()
    if error == "insufficient_scope" or (resp.status == 403 and sent):
        return token_failure("token_scope", f"HTTP {resp.status}: the token lacks the permission needed "
                             f"({desc or error or 'forbidden'}; required scope: {params.get('scope', 'not named')})",
                             **info)
    if not sent or (not error and not desc):
        if not sent:
            return token_failure("token_required", f"HTTP {resp.status}: the service requires a bearer token "
                                 f"and none was sent ({header[:120]})", **info)
        return token_failure("token_rejected", f"HTTP {resp.status}: the bearer token was rejected", **info)
    if "expired" in low:
        return token_failure("token_expired", f"HTTP {resp.status}: the bearer token has expired ({desc})", **info)
    if "audience" in low or " aud" in f" {low}":
        return token_failure("token_wrong_audience", f"HTTP {resp.status}: the token is for another audience "
                             f"({desc})", **info)
    return token_failure("token_rejected", f"HTTP {resp.status}: the bearer token was rejected "
                         f"({error}{': ' + desc if desc else ''})", **info)


def _title(html: str) -> str:
    low = html.lower()
    if "<title>" in low:
        start = low.index("<title>") + 7
        end = low.find("</title>", start)
        return html[start:end if end > 0 else start + 100].strip()
    return html.strip().splitlines()[0][:120] if html.strip() else "empty body"


# --------------------------------------------------------------------------- connections


class _Connection(http.client.HTTPSConnection):
    """HTTPSConnection that connects to ``connect_address`` but verifies/SNIs the URL host."""

    def __init__(self, endpoint: Endpoint, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__(endpoint.host, endpoint.port, timeout=timeout, context=context)
        self._endpoint = endpoint
        self._ctx = context
        self.timings: dict[str, float] = {}
        self.phase = "connect"

    def connect(self) -> None:
        self.phase = "connect"
        t0 = time.monotonic()
        raw = socket.create_connection((self._endpoint.address, self.port), self.timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t1 = time.monotonic()
        self.timings["connect_s"] = t1 - t0
        self.phase = "tls"
        try:
            self.sock = self._ctx.wrap_socket(raw, server_hostname=self._endpoint.host)
        except BaseException:
            raw.close()
            raise
        self.timings["tls_s"] = time.monotonic() - t1
        self.phase = "send"


class _PlainConnection(http.client.HTTPConnection):
    def __init__(self, endpoint: Endpoint, timeout: float) -> None:
        super().__init__(endpoint.host, endpoint.port, timeout=timeout)
        self._endpoint = endpoint
        self.timings: dict[str, float] = {}
        self.phase = "connect"

    def connect(self) -> None:
        t0 = time.monotonic()
        self.sock = socket.create_connection((self._endpoint.address, self.port), self.timeout)
        self.timings["connect_s"] = time.monotonic() - t0
        self.phase = "send"


def tls_info(sock: Any) -> dict[str, Any]:
    """Protocol, cipher and the peer chain (DER) of an established TLS socket."""
    if not isinstance(sock, ssl.SSLSocket):
        return {}
    cipher = sock.cipher() or ("", "", 0)
    chain: list[bytes] = []
    sslobj = getattr(sock, "_sslobj", None)
    getter = getattr(sock, "get_verified_chain", None) or getattr(sslobj, "get_verified_chain", None)
    if getter is not None:
        try:
            chain = [c.public_bytes(ssl._ssl.ENCODING_DER) if not isinstance(c, bytes) else c  # type: ignore[attr-defined]
                     for c in getter()]
        except Exception:  # noqa: BLE001 - private API on 3.10-3.12; fall back to the leaf
            chain = []
    if not chain:
        leaf = sock.getpeercert(binary_form=True)
        chain = [leaf] if leaf else []
    return {"protocol": sock.version(), "cipher": cipher[0], "cipher_bits": cipher[2], "peer_chain_der": chain}


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (credentials over plain http stay on the machine)."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def basic_auth_header(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return f"Basic {token}"


class Client:
    """Requests to one endpoint over a reusable connection (reconnects when the server closed)."""

    def __init__(
        self,
        endpoint: Endpoint,
        context: ssl.SSLContext | None,
        *,
        timeout: float = 30.0,
        username: str | None = None,
        password: str | None = None,
        user_agent: str = "stowpath-probe/1",
        authorization: str | None = None,
        signer: Any = None,
    ) -> None:
        self.endpoint = endpoint
        # a request signer (``.sigv4.SigV4Signer``): signs every request instead of a fixed Authorization
        self.signer = signer
        self.context = context
        self.timeout = timeout
        self.auth = authorization or (basic_auth_header(username, password or "") if username else None)
        self.auth_kind = (self.auth or "").split(" ", 1)[0].lower() or ("sigv4" if signer is not None else "")
        self.extra_headers: dict[str, str] = {}
        if (self.auth or signer is not None) and endpoint.scheme != "https" and not is_loopback(endpoint.host):
            raise ValueError(f"refusing to send {self.auth_kind.capitalize() or 'the'} credentials over plain http "
                             f"to {endpoint.host}: use an https:// URL")
        self.user_agent = user_agent
        self._conn: _Connection | _PlainConnection | None = None

    def _new(self) -> _Connection | _PlainConnection:
        if self.endpoint.scheme == "https":
            if self.context is None:
                raise ValueError("https needs an SSL context")
            return _Connection(self.endpoint, self.context, self.timeout)
        return _PlainConnection(self.endpoint, self.timeout)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Client:  # noqa: PYI034 - Self needs 3.11 typing; keep simple
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _signature(self, method: str, target: str, hdrs: Mapping[str, str],
                   body: bytes | Iterable[bytes | memoryview] | None) -> dict[str, str]:
        """The signer's headers for this request (the body is hashed as it will be sent)."""
        from .sigv4 import SigV4Error, payload_sha256

        ep = self.endpoint
        default = 443 if ep.scheme == "https" else 80
        url = f"{ep.scheme}://{ep.host}{'' if ep.port == default else f':{ep.port}'}{target}"
        try:
            return self.signer.sign(method, url, {k: v for k, v in hdrs.items() if k.lower() != "authorization"},
                                    payload_sha256(body))
        except SigV4Error as exc:
            raise ProbeError("send", failure("client_material", str(exc)), {}) from None

    def request(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | Iterable[bytes | memoryview] | None = None,
        content_length: int | None = None,
    ) -> Response:
        """One request; the body may be bytes or an iterable of chunks (``content_length`` needed).

        Raises :class:`ProbeError` (classified) when no HTTP answer arrives. If the server answers
        early (e.g. 400/401/413 before the body is sent) and closes, that answer is returned.
        """
        conn = self._conn
        if conn is None or conn.sock is None:
            conn = self._conn = self._new()
        conn.timings = {}
        t_start = time.monotonic()
        hdrs = {"User-Agent": self.user_agent, **self.extra_headers, **(headers or {})}
        if self.auth:
            hdrs["Authorization"] = self.auth
        if isinstance(body, (bytes, bytearray)):
            content_length = len(body)
        if self.signer is not None:
            hdrs.update(self._signature(method, target, hdrs, body))
        try:
            if conn.sock is None:
                conn.connect()
            conn.phase = "send"
            conn.putrequest(method, target, skip_accept_encoding=True)
            for k, v in hdrs.items():
                conn.putheader(k, v)
            if body is not None:
                conn.putheader("Content-Length", str(content_length or 0))
            t_sent_headers = time.monotonic()
            send_error: BaseException | None = None
            try:
                conn.endheaders()
                if body is not None:
                    sock = conn.sock
                    if isinstance(body, (bytes, bytearray)):
                        sock.sendall(body)
                    else:
                        for chunk in body:
                            sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError) as exc:
                send_error = exc  # the server may have answered (or sent a TLS alert) early: read it
            t_sent = time.monotonic()
            conn.phase = "response"
            try:
                resp = conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionError, ssl.SSLError, OSError) as exc:
                alert = isinstance(exc, ssl.SSLError) and getattr(exc, "reason", None) in ALERTS_CLIENT_CERT
                if send_error is not None and not alert:
                    raise send_error from None
                raise
            t_first = time.monotonic()
            data = resp.read(MAX_BODY)
            t_done = time.monotonic()
            info = tls_info(conn.sock)
            info["target"] = target
            timings = dict(conn.timings)
            timings.update({
                "send_s": t_sent - t_sent_headers,
                "wait_s": t_first - t_sent,
                "read_s": t_done - t_first,
                "total_s": t_done - t_start,
            })
            result = Response(resp.status, resp.reason, {k.lower(): v for k, v in resp.getheaders()},
                              data, timings, info, self.auth_kind if "Authorization" not in (headers or {}) else
                              str((headers or {})["Authorization"]).split(" ", 1)[0].lower())
            if resp.will_close or send_error is not None or not resp.isclosed():
                self.close()
            return result
        except ProbeError:
            self.close()
            raise
        except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
            phase = conn.phase
            timings = dict(conn.timings)
            timings["total_s"] = time.monotonic() - t_start
            self.close()
            raise ProbeError(phase, classify_exception(exc, self.endpoint, phase, self.timeout), timings) from None
