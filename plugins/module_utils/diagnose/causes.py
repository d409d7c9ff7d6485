"""Every cause diagnose can name, in one table (README "Troubleshooting (diagnose)" prints the same).

A finding is ``{layer, cause, severity, title, summary, evidence: [str], action, guide}``; ``cause`` is a
stable id from :data:`CAUSES`, ``severity`` is ``broken`` (transfers fail), ``degraded`` (they still
flow, with less margin) or ``info``. ``guide`` names the row of the onboarding guide's Common Issues
table when the cause is one of its symptoms; the action then starts with the guide's words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LAYERS = ("gateway", "routing", "firewall", "path", "tls", "http", "pacs")
SEVERITIES = ("broken", "degraded", "info")

GUIDE_TLS = "TLS handshake failures"
GUIDE_TIMEOUT = "Transfer timeouts"
GUIDE_HTTP = "400/404/500 HTTP responses"
GUIDE_ACTIONS = {
    GUIDE_TLS: "Validate cert chain and expiration dates",
    GUIDE_TIMEOUT: "Increase timeouts; verify firewall allows 443",
    GUIDE_HTTP: "Confirm endpoint path and payload format",
}


@dataclass(frozen=True)
class Cause:
    id: str
    layer: str
    severity: str
    title: str
    action: str
    guide: str | None = None

    def full_action(self) -> str:
        if self.guide:
            return f"{GUIDE_ACTIONS[self.guide]}: {self.action}"
        return self.action


_TABLE: tuple[Cause, ...] = (
    # gateway: IKE/IPsec
    Cause("ike.tunnel_not_configured", "gateway", "broken", "A tunnel of the site is not loaded on the gateway",
          "run onboard-site.yml for this site (the gateway lacks the tunnel's configuration)"),
    Cause("ike.auth_failed", "gateway", "broken", "IKE authentication failed (pre-shared key mismatch)",
          "put the vendor's current pre-shared key in place (new vendor file or vault value) and run "
          "onboard-site.yml; rotate one tunnel at a time"),
    Cause("ike.no_proposal", "gateway", "broken", "IKE/ESP proposal not accepted (no proposal chosen)",
          "compare the IKE/ESP algorithms, DH groups and IKE version with the vendor's tunnel options"),
    Cause("ike.peer_unreachable", "gateway", "broken", "The cloud VPN endpoint does not answer IKE",
          "check UDP 500/4500 to the endpoint (WAN firewall, NAT, internet path) and the vendor's endpoint status"),
    Cause("ike.dpd_timeout", "gateway", "broken", "Dead peer detection declared the cloud endpoint dead",
          "the endpoint stopped answering: check the internet path and the vendor's status page; the tunnel "
          "restarts by itself when the endpoint answers again"),
    Cause("ike.deleted_by_peer", "gateway", "broken", "The cloud endpoint closed the tunnel",
          "ask the vendor why the tunnel was closed (maintenance, changed tunnel options)"),
    Cause("ike.tunnel_down", "gateway", "broken", "IPsec tunnel down (no reason in the device log)",
          "read the IKE log around the time it went down; re-initiate the tunnel"),
    # routing: BGP and routes
    Cause("bgp.peer_as_mismatch", "routing", "broken", "BGP refused: bad peer AS",
          "compare local_asn and the cloud ASN with the vendor's file; the cloud expects the ASN it was given"),
    Cause("bgp.auth_failed", "routing", "broken", "BGP TCP MD5 authentication fails (key mismatch)",
          "put the vendor's current BGP key (authKey) in place and run onboard-site.yml"),
    Cause("bgp.hold_timer_expired", "routing", "broken", "BGP hold timer expired",
          "keepalives are lost: check the tunnel/VIF for loss and the peer's state"),
    Cause("bgp.neighbor_down", "routing", "broken", "BGP session not established",
          "check the neighbor's state and the last error; the tunnel/VIF must carry TCP 179"),
    Cause("bgp.prefix_not_received", "routing", "broken", "The cloud does not advertise the DICOMweb range",
          "ask the vendor to advertise the VPC CIDR over this connection (route propagation / VGW association)"),
    Cause("bgp.lan_not_advertised", "routing", "broken", "The facility LAN is not advertised to the cloud",
          "check the gateway's BGP network statements and outbound filter for lan_cidrs"),
    Cause("route.missing", "routing", "broken", "No route to the DICOMweb range on the gateway",
          "restore the BGP routes (or static routes) for dicomweb_cidrs over the link"),
    Cause("route.via_internet", "routing", "broken", "The route to the DICOMweb range leaves via the internet",
          "remove the route that bypasses the tunnel/VIF (static or more specific route); PHI must not leave "
          "the facility outside the encrypted link"),
    # firewall
    Cause("firewall.foreign_rule_drops_443", "firewall", "broken",
          "A firewall rule stowpath does not own drops HTTPS to the cloud",
          "allow TCP 443 from lan_cidrs to dicomweb_cidrs in the named table/ACL (it is not stowpath's, so "
          "stowpath leaves it alone: its owner must change it)", GUIDE_TIMEOUT),
    Cause("firewall.stowpath_drops", "firewall", "info", "stowpath's own rules dropped traffic toward the cloud",
          "expected for traffic other than TCP 443/ICMP; if the PACS uses another port, fix dicomweb_url"),
    # path
    Cause("path.unreachable", "path", "broken", "The DICOMweb host does not answer from the LAN",
          "fix the lower layers first (tunnel, BGP, routes); then check the cloud's route back to the LAN"),
    Cause("path.packet_loss", "path", "degraded", "Packet loss on the path to the cloud",
          "transfers slow down and time out: check the internet/transit link and the WAN interface errors",
          GUIDE_TIMEOUT),
    Cause("path.mtu_blackhole", "path", "broken", "Path MTU black hole: large packets vanish without ICMP",
          "lower tcp_mss below the path MTU minus 40 (and ask the provider to pass ICMP fragmentation-needed)",
          GUIDE_TIMEOUT),
    Cause("path.low_throughput", "path", "degraded", "Upload throughput to the cloud is low",
          "large studies will time out: check the link's bandwidth and shaping; increase the PACS timeout",
          GUIDE_TIMEOUT),
    Cause("path.tcp443_blocked", "path", "broken",
          "TCP 443 to the DICOMweb host is blocked beyond the facility gateway",
          "nothing on the facility gateway drops it, so ask the vendor to allow TCP 443 from lan_cidrs "
          "(security group, network ACL, cloud firewall)", GUIDE_TIMEOUT),
    Cause("path.tcp443_refused", "path", "broken", "Nothing listens on TCP 443 at the DICOMweb host",
          "check dicomweb_url's host and port with the vendor"),
    # TLS
    Cause("tls.server_cert_expired", "tls", "broken", "The server certificate has expired",
          "the vendor must renew the server certificate; also check this host's clock (NTP)", GUIDE_TLS),
    Cause("tls.server_cert_not_yet_valid", "tls", "broken", "The server certificate is not valid yet",
          "check this host's clock (NTP)", GUIDE_TLS),
    Cause("tls.unknown_ca", "tls", "broken", "The server certificate is not from a CA in the CA bundle",
          "install the CA bundle the vendor provided", GUIDE_TLS),
    Cause("tls.hostname_mismatch", "tls", "broken", "The server certificate does not cover the URL's host name",
          "connect by the vendor's host name (DNS/hosts), not by IP or another name", GUIDE_TLS),
    Cause("tls.client_cert_rejected", "tls", "broken", "The cloud rejects the facility's client certificate",
          "use the client certificate the vendor issued, from the CA the service trusts; ask the vendor "
          "whether it still trusts it", GUIDE_TLS),
    Cause("tls.client_cert_missing", "tls", "broken", "The cloud requires a client certificate and none was sent",
          "install the vendor's client certificate and key (tls_material) and point the PACS at them", GUIDE_TLS),
    Cause("tls.client_cert_expired", "tls", "broken", "The facility's client certificate has expired",
          "obtain a renewed client certificate from the vendor", GUIDE_TLS),
    Cause("tls.cert_expiring", "tls", "degraded", "A certificate expires soon",
          "renew it before it expires (cert_expiry_warn_days)", GUIDE_TLS),
    Cause("tls.handshake_timeout", "tls", "broken", "The TLS handshake timed out",
          "large handshake packets are lost (MTU) or the path is congested", GUIDE_TIMEOUT),
    Cause("tls.handshake_failed", "tls", "broken", "The TLS handshake failed",
          "compare TLS versions/ciphers with the vendor's requirements", GUIDE_TLS),
    # HTTP / STOW-RS
    Cause("http.bad_request", "http", "broken", "STOW-RS answered 400 (payload rejected)",
          "check the request form (multipart/related; type=application/dicom) and the instance", GUIDE_HTTP),
    Cause("http.auth_rejected", "http", "broken", "STOW-RS answered 401/403 (authentication/authorisation)",
          "check the Basic-auth credentials / the certificate's authorisation with the vendor", GUIDE_HTTP),
    Cause("http.path_not_found", "http", "broken", "STOW-RS answered 404 (wrong path)",
          "use the exact STOW-RS URL from the vendor (e.g. /dicomweb/studies) in dicomweb_url and the PACS",
          GUIDE_HTTP),
    Cause("http.conflict", "http", "broken", "STOW-RS answered 409 (conflict with stored data)",
          "read the FailureReason: the instance conflicts with the study on the cloud (UIDs)", GUIDE_HTTP),
    Cause("http.payload_too_large", "http", "broken", "STOW-RS answered 413 (request too large)",
          "ask the vendor to raise the body size limit, or send smaller requests", GUIDE_HTTP),
    Cause("http.media_type", "http", "broken", "STOW-RS answered 415 (media type)",
          "use the request form the service accepts (multipart/related or single application/dicom)", GUIDE_HTTP),
    Cause("http.service_error", "http", "broken", "The DICOMweb service answered 500 (internal error)",
          "retry later and report the time and status to the vendor", GUIDE_HTTP),
    Cause("http.service_unavailable", "http", "broken", "The DICOMweb service is unavailable (502/503/504)",
          "the service behind the vendor's front end is down or overloaded: retry later, tell the vendor",
          GUIDE_HTTP),
    Cause("http.partial", "http", "degraded", "STOW-RS stored only part of the request (202 / warnings)",
          "read the FailureReason/WarningReason codes (PS3.18) in the evidence", GUIDE_HTTP),
    Cause("http.timeout", "http", "broken", "The DICOMweb service did not answer in time",
          "the time went to the service (connect and TLS were quick): tell the vendor, and give the PACS a "
          "timeout long enough for the service",
          GUIDE_TIMEOUT),
    Cause("http.error", "http", "broken", "STOW-RS failed", "see the status and body in the evidence", GUIDE_HTTP),
    # PACS
    Cause("pacs.api_unreachable", "pacs", "degraded", "The PACS API does not answer",
          "check pacs_api_url and the PACS service"),
    Cause("pacs.destination_missing", "pacs", "broken", "The PACS has no STOW-RS destination for the cloud",
          "run onboard-site.yml (pacs_destination) to configure it"),
    Cause("pacs.url_mismatch", "pacs", "broken", "The PACS destination's URL differs from dicomweb_url",
          "set the destination's URL to dicomweb_url (run onboard-site.yml)", GUIDE_HTTP),
    Cause("pacs.timeout_low", "pacs", "degraded", "The PACS destination's timeout is below 300 s",
          "set the destination's timeout to 300 s or more (pacs_timeout) and run onboard-site.yml", GUIDE_TIMEOUT),
    Cause("pacs.tls_file_missing", "pacs", "broken", "A certificate/key file the PACS destination names is missing",
          "reinstall the TLS material (tls_material) and point the destination at it", GUIDE_TLS),
    Cause("pacs.failed_transfers", "pacs", "info", "Recent PACS transfers to the cloud failed",
          "see the HTTP/curl errors in the evidence; fix the cause named by the other findings, then resend"),
)

CAUSES: dict[str, Cause] = {c.id: c for c in _TABLE}
ORDER: dict[str, int] = {c.id: i for i, c in enumerate(_TABLE)}


def finding(cause: str, summary: str, evidence: list[str] | None = None, severity: str | None = None,
            **detail: Any) -> dict[str, Any]:
    """A finding for ``cause`` (KeyError for an unknown id: the table is the contract)."""
    c = CAUSES[cause]
    sev = severity or c.severity
    if sev not in SEVERITIES:
        raise ValueError(f"severity {sev!r}")
    return {"layer": c.layer, "cause": c.id, "severity": sev, "title": c.title, "summary": summary,
            "evidence": [str(e) for e in (evidence or [])][:40], "action": c.full_action(), "guide": c.guide,
            "detail": detail}


def table_markdown() -> str:
    """The cause table as Markdown (README)."""
    rows = ["| cause | layer | severity | meaning | action |", "|---|---|---|---|---|"]
    for c in _TABLE:
        rows.append(f"| `{c.id}` | {c.layer} | {c.severity} | {c.title} | {c.full_action()} |")
    return "\n".join(rows)
