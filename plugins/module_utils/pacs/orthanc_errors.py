"""What an Orthanc STOW-RS job failure means, for a facility admin.

Orthanc's synchronous ``/stow`` hides every failure behind HTTP 500 ("Error encountered within the
plugin engine"); the asynchronous job carries ``Content.FunctionErrorCode`` (Orthanc's ErrorCode
enum). Orthanc's HTTP client maps the cloud's answer to it: 400 -> 8, 401/403 -> 29, 404 -> 17,
every other status and every curl error (refused, timeout, TLS) -> 9. Orthanc's log line names the
curl error or HTTP status ("Error code 28 in libcurl: Timeout was reached", "received HTTP status
415"), which refines code 9 when the log is readable (:func:`log_facts`).

Measured here (Orthanc 1.10.1 + DICOMweb 1.7, cloud = nginx mTLS + Orthanc): no client
certificate, expired client certificate and a client certificate of another CA -> nginx 400 -> 8;
wrong Basic password -> 29; wrong path -> 17; wrong CA / hostname mismatch / service down (502) /
refused / timeout / wrong key password -> 9; missing certificate file -> 13.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# The guide's "Common Issues" rows (section 7), referenced by every explanation.
GUIDE_TLS = "TLS handshake failures"
GUIDE_TIMEOUT = "Transfer timeouts"
GUIDE_HTTP = "400/404/500 HTTP responses"


@dataclass(frozen=True)
class Explanation:
    category: str
    cause: str
    action: str
    guide_row: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"category": self.category, "cause": self.cause, "action": self.action, "guide_row": self.guide_row}


FUNCTION_ERRORS: dict[int, Explanation] = {
    9: Explanation(
        "network_or_tls",
        "the PACS could not complete the HTTPS exchange with the cloud: connection refused, timeout, TLS "
        "handshake failure (CA not trusted, hostname mismatch, expired certificate, wrong key password) or "
        "an unexpected HTTP status (409/413/415/5xx)",
        "check the tunnel and route to the cloud and that the firewall allows TCP 443; validate the cert chain "
        "and expiry and that the PACS trusts the vendor CA (HttpsCACertificates); read the PACS log line for "
        "the exact curl error",
        GUIDE_TLS),
    8: Explanation(
        "http_400",
        "the cloud answered HTTP 400 Bad Request: behind an mTLS proxy this is a missing, expired or "
        "untrusted client certificate; otherwise a URL or payload error",
        "check the destination's client certificate/key (CertificateFile/CertificateKeyFile) are the "
        "vendor-issued, unexpired ones; confirm endpoint path and payload format",
        GUIDE_HTTP),
    29: Explanation(
        "http_401",
        "the cloud rejected the credentials (HTTP 401/403): wrong Basic-auth user or password",
        "re-enter the Basic-auth username and password from the vendor in the destination",
        GUIDE_HTTP),
    17: Explanation(
        "http_404",
        "the cloud answered HTTP 404 Not Found: wrong DICOMweb path in the destination URL",
        "confirm endpoint path: the URL must be the vendor's DICOMweb root ending in /dicomweb/ "
        "(the PACS appends studies)",
        GUIDE_HTTP),
    13: Explanation(
        "certificate_file_missing",
        "the PACS cannot open the client certificate or key file named in the destination",
        "install the client certificate and key on the PACS host at the configured paths (readable by the "
        "PACS service)",
        GUIDE_TLS),
    15: Explanation(
        "bad_file_format",
        "a certificate or key file has a format the PACS cannot read",
        "provide PEM-encoded certificate and key files",
        GUIDE_TLS),
    16: Explanation(
        "timeout",
        "the transfer timed out",
        "increase timeouts (>= 300 s); verify the firewall allows 443 and the path MTU/MSS clamp",
        GUIDE_TIMEOUT),
    39: Explanation(
        "tls_init",
        "the PACS could not initialise TLS",
        "check the PACS's TLS configuration and certificate files",
        GUIDE_TLS),
    7: Explanation("unknown_destination", "the PACS has no DICOMweb destination of that name (or the study is gone)",
                   "configure the destination first (stowpath.core.pacs_destination) and check its name"),
    37: Explanation("canceled", "the transfer job was canceled on the PACS", "re-run the send"),
}

# curl error numbers (from Orthanc's log) -> a precise explanation of FunctionErrorCode 9.
CURL_ERRORS: dict[int, Explanation] = {
    6: Explanation("dns", "the PACS cannot resolve the cloud's host name",
                   "fix DNS on the PACS host (or use the vendor's address) for the DICOMweb host", GUIDE_HTTP),
    7: Explanation("connection_refused", "connection to the cloud refused or unreachable: service down, no route, "
                   "or a firewall rejecting TCP 443",
                   "check the tunnel/BGP is up, the route to the cloud CIDR goes over it and the firewall allows "
                   "TCP 443; ask the vendor whether the service is up", GUIDE_TIMEOUT),
    28: Explanation("timeout", "the transfer timed out: latency or firewall blocking (packets dropped)",
                    "increase timeouts; verify firewall allows 443 and the MSS clamp on the tunnel", GUIDE_TIMEOUT),
    35: Explanation("tls_handshake", "TLS handshake failed (protocol/cipher mismatch or client certificate refused)",
                    "validate cert chain and expiration dates; check TLS versions", GUIDE_TLS),
    51: Explanation("tls_hostname", "the cloud's certificate does not match the host name in the URL",
                    "use the host name the certificate is issued for in the destination URL", GUIDE_TLS),
    58: Explanation("client_cert_unusable", "the PACS cannot use its client certificate/key (key does not "
                    "match, wrong key password or unreadable)",
                    "check the client key matches the certificate and the key password in the destination",
                    GUIDE_TLS),
    60: Explanation("tls_untrusted", "the cloud's certificate is not trusted by the PACS (unknown CA, hostname "
                    "mismatch or expired)",
                    "validate cert chain and expiration dates; make HttpsCACertificates contain the vendor CA "
                    "and use the certificate's host name in the URL", GUIDE_TLS),
    77: Explanation("ca_bundle_unreadable", "the PACS's CA bundle (HttpsCACertificates) is missing or unreadable",
                    "set HttpsCACertificates to the vendor CA bundle on the PACS host and restart Orthanc",
                    GUIDE_TLS),
}

_HTTP_STATUS_RE = re.compile(r"received HTTP status (\d{3})")
_CURL_RE = re.compile(r"Error code (\d+) in libcurl: ([^\n]*)")


def http_status_explanation(status: int) -> Explanation:
    """Explain an HTTP status the cloud answered (from the PACS log or a direct probe)."""
    if status == 400:
        return FUNCTION_ERRORS[8]
    if status in (401, 403):
        return FUNCTION_ERRORS[29]
    if status == 404:
        return FUNCTION_ERRORS[17]
    if status == 409:
        return Explanation("http_409", "the cloud answered 409 Conflict: the study was rejected (e.g. Study "
                           "Instance UID mismatch with the URL)", "confirm endpoint path (no study UID in the URL) "
                           "and payload format", GUIDE_HTTP)
    if status == 413:
        return Explanation("http_413", "the cloud refused the upload size (413 Payload Too Large)",
                           "ask the vendor to lift the request body limit", GUIDE_HTTP)
    if status == 415:
        return Explanation("http_415", "the cloud refused the content type (415): it expects a different STOW-RS "
                           "request form", "confirm endpoint path and payload format (multipart/related; "
                           "type=\"application/dicom\")", GUIDE_HTTP)
    if status in (502, 503, 504):
        return Explanation("service_down", f"the cloud's front end answered {status}: the DICOMweb service "
                           "behind it is down or overloaded", "ask the vendor to check the service; retry later",
                           GUIDE_HTTP)
    if status >= 500:
        return Explanation("http_5xx", f"the cloud answered {status} (server error)",
                           "confirm endpoint path and payload format; ask the vendor", GUIDE_HTTP)
    return Explanation(f"http_{status}", f"the cloud answered HTTP {status}",
                       "confirm endpoint path and payload format", GUIDE_HTTP)


def log_facts(lines: list[str]) -> dict[str, Any]:
    """The last HTTP status and curl error named in Orthanc log lines (``{}`` when none)."""
    facts: dict[str, Any] = {}
    for line in lines:
        m = _HTTP_STATUS_RE.search(line)
        if m:
            facts = {"http_status": int(m.group(1)), "log": line.strip()}
        m = _CURL_RE.search(line)
        if m:
            facts = {"curl_error": int(m.group(1)), "curl_message": m.group(2).strip(), "log": line.strip()}
    return facts


def explain_job_failure(function_error_code: int | None, error_code: int | None = None,
                        log_lines: list[str] | None = None) -> Explanation:
    """The likely cause and action for a failed STOW job; log lines (if any) refine code 9."""
    facts = log_facts(log_lines or [])
    if "curl_error" in facts and facts["curl_error"] in CURL_ERRORS:
        return CURL_ERRORS[facts["curl_error"]]
    if "http_status" in facts:
        return http_status_explanation(facts["http_status"])
    if function_error_code in FUNCTION_ERRORS:
        return FUNCTION_ERRORS[function_error_code]
    if "curl_error" in facts:
        return Explanation("network_or_tls", f"network/TLS error: {facts['curl_message']}",
                           FUNCTION_ERRORS[9].action, GUIDE_TLS)
    return Explanation("unknown", f"the PACS job failed (ErrorCode {error_code}, FunctionErrorCode "
                       f"{function_error_code})", "read the PACS log around the job's time", None)
