"""``dicomweb_auth: sigv4``: AWS Signature Version 4 for AWS HealthImaging's DICOMweb API.

Every request is signed with botocore's own signer (``SigV4Auth``, service ``medical-imaging``) and the
standard AWS credential chain of the host that sends (environment, profile, SSO, instance/container role;
temporary credentials are renewed by botocore). The payload hash covers the exact bytes sent: a streamed
STOW-RS body (multipart from disk) is read once to hash it, then sent.

Signing adds ``Authorization``, ``X-Amz-Date`` (and ``X-Amz-Security-Token`` with temporary credentials);
the secret key never leaves botocore, and the signature is masked like any ``Authorization`` value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

SERVICE = "medical-imaging"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def payload_sha256(body: bytes | bytearray | Iterable[bytes | memoryview] | None) -> str:
    """The hex SHA-256 of the body as it will be sent (a re-iterable streamed body is read once here)."""
    if body is None:
        return EMPTY_SHA256
    if isinstance(body, (bytes, bytearray)):
        return hashlib.sha256(body).hexdigest()
    digest = hashlib.sha256()
    for chunk in body:
        digest.update(chunk)
    return digest.hexdigest()


class SigV4Error(Exception):
    """No credentials or no region: the request cannot be signed (the message names the fix)."""


@dataclass
class SigV4Signer:
    """Signs requests for one region and service; ``credentials`` default to the standard chain."""

    region: str
    service: str = SERVICE
    credentials: Any = field(default=None, repr=False)

    def _credentials(self) -> Any:
        if self.credentials is None:
            import botocore.session

            self.credentials = botocore.session.get_session().get_credentials()
        if self.credentials is None:
            raise SigV4Error("no AWS credentials found for SigV4 signing: configure the standard AWS credential "
                             "chain on the sending host (AWS_PROFILE / ~/.aws/credentials, SSO, or an instance role "
                             "with medical-imaging permissions)")
        return self.credentials

    def sign(self, method: str, url: str, headers: dict[str, str], payload_hash: str) -> dict[str, str]:
        """The headers to add to the request (``Authorization``, ``X-Amz-Date``, ``X-Amz-Security-Token``)."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        if not self.region:
            raise SigV4Error("SigV4 signing needs the AWS region: set dicomweb_aws_region")

        class _Auth(SigV4Auth):
            def payload(self, request: Any) -> str:  # the hash of the streamed body, computed by the caller
                return payload_hash

        request = AWSRequest(method=method, url=url, headers=dict(headers))
        _Auth(self._credentials().get_frozen_credentials(), self.service, self.region).add_auth(request)
        names = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")
        return {n: str(request.headers[n]) for n in names if request.headers.get(n)}
