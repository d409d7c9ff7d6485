"""Guide step 1, "Obtain connection details": one parser per vendor file format.

Each parser turns the file as the vendor hands it over into :class:`CloudParams`, raising
:class:`~..errors.SiteError` that names the file, the element and the fix.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from ..errors import SiteError
from .model import CloudParams, DxParams, TunnelParams  # noqa: F401

VAULT_HEADER = "$ANSIBLE_VAULT;"


def is_vaulted(text: str) -> bool:
    """True when the text is an Ansible Vault-encrypted file."""
    return text.lstrip().startswith(VAULT_HEADER)


def check_text(text: str, source: str) -> str:
    """The vendor file's text, refused while it is still vault-encrypted (no vault secret decrypted it)."""
    if is_vaulted(text):
        raise SiteError(source, "file", "is encrypted with Ansible Vault and no vault secret decrypted it",
                        "run with the vault password (--ask-vault-pass or --vault-password-file)")
    return text


def params_file_warnings(path: str) -> list[str]:
    """A warning when a clear-text vendor file (it holds keys) is readable by others than its owner."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        with open(path, "rb") as fh:
            head = fh.read(64).decode("utf-8", "replace")
    except OSError:
        return []
    readers = [who for bit, who in ((stat.S_IRGRP, "its group"), (stat.S_IROTH, "every user")) if mode & bit]
    if not readers or is_vaulted(head):
        return []
    return [f"{path} is readable by {' and '.join(readers)} (mode {mode:04o}) and holds the tunnel keys: chmod 600 "
            "it, or encrypt it with ansible-vault encrypt (README, vault layout)"]

# Providers whose answers come as several files (each recognised by its content).
MULTI_FILE = ("azure_vpn", "gcp_ha_vpn")


@dataclass
class ParseOptions:
    """Site variables that steer parsing: which connection/VIF, and the keys a provider does not return."""

    vpn_connection_id: str | None = None
    vif_id: str | None = None
    psk: list[str] | None = None


def parser_for(provider: str):
    """The parse function for a single-file ``cloud_provider`` (``aws_vpn``, ``aws_dx``, ``manual``)."""
    from . import aws_dx, aws_vpn, manual

    return {"aws_vpn": aws_vpn.parse, "aws_dx": aws_dx.parse, "manual": manual.parse}[provider]


def parse_documents(provider: str, docs: list[tuple[str, str]], options: ParseOptions | None = None) -> CloudParams:
    """Parse the (file, text) pairs of ``cloud_params_file`` for ``provider``."""
    from . import aws_dx, aws_vpn, aws_vpn_json, azure_vpn, gcp_ha_vpn, manual
    from .documents import looks_structured

    opts = options or ParseOptions()
    if provider in MULTI_FILE:
        module = azure_vpn if provider == "azure_vpn" else gcp_ha_vpn
        return module.parse_documents(docs, opts.psk, opts.vpn_connection_id)
    if len(docs) != 1:
        raise SiteError(", ".join(s for s, _ in docs), "cloud_params_file", f"{provider} takes exactly one file, "
                        f"got {len(docs)}", "list only the vendor file of this connection")
    source, text = docs[0]
    if provider == "aws_vpn":
        if looks_structured(text):
            return aws_vpn_json.parse(text, source, opts.vpn_connection_id)
        if aws_vpn_json.is_query_response(text):
            return aws_vpn_json.parse_query_xml(text, source, opts.vpn_connection_id)
        params = aws_vpn.parse(text, source)
        if opts.vpn_connection_id and params.connection_id != opts.vpn_connection_id:
            raise SiteError(source, "vpn_connection", f"is {params.connection_id}, not vpn_connection_id "
                            f"{opts.vpn_connection_id}", "point cloud_params_file at this connection's file or fix "
                            "vpn_connection_id")
        return params
    if provider == "aws_dx":
        return aws_dx.parse(text, source, opts.vif_id)
    return manual.parse(text, source)
