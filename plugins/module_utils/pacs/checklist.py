"""PACS without an API: the exact destination settings as a checklist a person types in.

Guide section 5 ("DICOMweb Destinations > STOW"): Label, URL, Authentication, Timeout, and the CA
the PACS verifies the cloud with; then save and restart the transfer service if required.
Secrets are never printed: the checklist says where the value comes from instead.
"""

from __future__ import annotations

from typing import Any

from .base import DestinationSpec, FieldChange, PacsDriver, PacsError


def checklist(spec: DestinationSpec, min_timeout: int = 300) -> list[dict[str, str]]:
    """One ``{"setting", "value", "note"}`` item per PACS field, in the order the PACS UI asks."""
    if spec.auth == "none":
        auth = "None"
    else:
        parts = []
        if spec.client_cert:
            key = f"key file {spec.client_key}"
            if spec.client_key_password:
                key += " (encrypted: its password is in your vault, not shown here)"
            parts.append(f"mTLS: upload client certificate {spec.client_cert} and {key}")
        if spec.username:
            parts.append(f"Basic Auth: user {spec.username!r}, password from your vault (not shown here)")
        auth = "; and ".join(parts)
    items = [
        {"setting": "Label", "value": spec.label, "note": "DICOMweb Destinations > STOW > New destination"},
        {"setting": "URL", "value": spec.stow_url,
         "note": f"if the PACS asks for the DICOMweb base URL instead, enter {spec.base_url}"},
        {"setting": "Authentication", "value": auth, "note": "as issued by the cloud vendor"},
        {"setting": "Timeout", "value": f"{spec.timeout} seconds",
         "note": f"never less than {min_timeout} seconds (large studies)"},
        {"setting": "CA", "value": (f"trust the vendor CA bundle {spec.ca_file} and keep certificate "
                                    "verification ON") if spec.ca_file else
         "keep certificate verification ON; the vendor's CA must be in the PACS's trust store",
         "note": "the CA that signs the cloud's server certificate"},
    ]
    if spec.http_headers:
        items.append({"setting": "HTTP headers", "value": ", ".join(sorted(spec.http_headers)),
                      "note": "values from your vault (not shown here)"})
    items.append({"setting": "Save and restart", "value": "Save; restart the PACS transfer service if required",
                  "note": "then confirm the destination is still listed after the restart"})
    return items


def checklist_text(spec: DestinationSpec, min_timeout: int = 300) -> str:
    """The checklist as plain text, one ``[ ] Setting: value  (note)`` line per item."""
    lines = [f"PACS STOW-RS destination for {spec.stow_url} (configure by hand):"]
    for item in checklist(spec, min_timeout):
        note = f"  ({item['note']})" if item["note"] else ""
        lines.append(f"[ ] {item['setting']}: {item['value']}{note}")
    return "\n".join(lines)


class ManualDriver(PacsDriver):
    """A PACS configured by hand: nothing to read or write, only the checklist."""

    product = "manual"
    has_api = False

    def get_destination(self, name: str) -> dict[str, Any] | None:
        return None

    def diff(self, desired: DestinationSpec, current: dict[str, Any] | None) -> list[FieldChange]:
        return []

    def apply(self, desired: DestinationSpec) -> dict[str, Any]:
        raise PacsError("a manual PACS cannot be configured by stowpath", "apply the checklist in the PACS UI")

    def delete(self, name: str) -> bool:
        raise PacsError("a manual PACS cannot be configured by stowpath", "remove the destination in the PACS UI")
