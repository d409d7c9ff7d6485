"""``cloud_params_source: api``: stowpath asks the cloud API for the parameters itself.

AWS through boto3 and the standard credential chain (environment, shared config/credentials files, SSO,
instance/container role): ``DescribeVpnConnections`` for ``aws_vpn`` (``vpn_connection_id``),
``DescribeVirtualInterfaces`` for ``aws_dx`` (``dx_virtual_interface_id``). Azure and GCP through their CLIs'
JSON output (:mod:`.cli_source`: ``az`` / ``gcloud`` with their own login). The answers are handed to the same
parsers as saved files. A copy with every secret masked is cached (mode 0600) and returned for display
(``--check`` shows it); credentials never appear in results or errors.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ..errors import SiteError
from ..redact import MASK, mask_structure

API_CALLS = {"aws_vpn": ("ec2", "DescribeVpnConnections"), "aws_dx": ("directconnect", "DescribeVirtualInterfaces")}
_XML_SECRETS = re.compile(r"(<(pre_shared_key|bgp_auth_key|auth_key)>)([^<]*)(</\2>)")
FIX_CREDENTIALS = ("configure the standard AWS credential chain on the controller (AWS_PROFILE / ~/.aws/credentials, "
                   "SSO, or an instance role) with ec2:DescribeVpnConnections / directconnect:DescribeVirtualInterfaces")


@dataclass
class Fetched:
    """One API answer: ``text`` (JSON, secrets included) is parsed like a file; ``masked`` is for people."""

    provider: str
    call: str
    resource_id: str
    text: str
    masked: dict[str, Any] = field(default_factory=dict)
    cache_path: str | None = None
    # several answers (the CLI sources): (source, text) pairs, parsed like a list of files
    parts: list[tuple[str, str]] = field(default_factory=list, repr=False)

    @property
    def source(self) -> str:
        return f"api:{self.call}({self.resource_id})"

    def documents(self) -> list[tuple[str, str]]:
        """The (source, text) pairs to parse, as ``cloud_params_file`` would give them."""
        return list(self.parts) or [(self.source, self.text)]

    def summary(self) -> dict[str, Any]:
        return {"call": self.call, "id": self.resource_id, "cache": self.cache_path, "answer": self.masked}


def _json_default(value: Any) -> str:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def mask_answer(doc: Any) -> Any:
    """The answer with secret-named fields masked, also inside embedded XML strings."""
    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str) and "<" in value:
            return _XML_SECRETS.sub(lambda m: m.group(1) + MASK + m.group(4), value)
        return value
    return mask_structure(walk(doc))


def _client(service: str, region: str | None) -> Any:
    try:
        import boto3
    except ImportError:
        raise SiteError("controller", "cloud_params_source", "boto3 is not installed",
                        "install the Python requirements (requirements.lock) on the controller") from None
    return boto3.session.Session().client(service, region_name=region or None)


def _call(client: Any, provider: str, resource_id: str) -> dict[str, Any]:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    where = f"{API_CALLS[provider][1]}({resource_id})"
    try:
        if provider == "aws_vpn":
            answer = client.describe_vpn_connections(VpnConnectionIds=[resource_id])
        else:
            answer = client.describe_virtual_interfaces(virtualInterfaceId=resource_id)
    except NoCredentialsError:
        raise SiteError("cloud API", where, "no AWS credentials found", FIX_CREDENTIALS) from None
    except NoRegionError:
        raise SiteError("cloud API", where, "no AWS region configured",
                        "set cloud_api_region (or AWS_REGION / the profile's region)") from None
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise SiteError("cloud API", where, f"AWS answered {err.get('Code', 'an error')}: {err.get('Message', '')}",
                        "check the id, the region (cloud_api_region) and the credentials' permissions") from None
    except BotoCoreError as exc:
        raise SiteError("cloud API", where, f"the AWS API could not be reached ({type(exc).__name__})",
                        "check the controller's network access to the AWS endpoint") from None
    answer = {k: v for k, v in answer.items() if k != "ResponseMetadata"}
    return answer


def cache_dir() -> str:
    base = os.environ.get("STOWPATH_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "stowpath")
    return os.path.join(base, "cloud-params")


def _write_cache(fetched: Fetched, directory: str) -> str:
    os.makedirs(directory, mode=0o700, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9._-]", "_", f"{fetched.provider}-{fetched.resource_id}")
    path = os.path.join(directory, f"{name}.json")
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(fetched.masked, fh, indent=2, sort_keys=True, default=_json_default)
        fh.write("\n")
    os.replace(path + ".tmp", path)
    return path


def fetch(provider: str, resource_id: str, region: str | None = None, client: Any = None,
          cache: str | None = None, ids: dict[str, Any] | None = None) -> Fetched:
    """Ask the provider's API for one connection; ``client`` (a boto3 client) is for tests and callers
    with their own session. ``cache``: directory for the masked copy ("" to skip). ``ids``: the Azure /
    GCP resource names (:func:`.cli_source.fetch_cli`)."""
    from .cli_source import CLI_PROVIDERS, fetch_cli

    if provider in CLI_PROVIDERS:
        fetched = fetch_cli(provider, ids or {})
        if cache != "":
            fetched.cache_path = _write_cache(fetched, cache or cache_dir())
        return fetched
    if provider not in API_CALLS:
        raise SiteError("cloud API", "cloud_params_source", f"api is not available for {provider}",
                        "save the CLI answers as files and list them in cloud_params_file (docs/cloud-parameters.md)")
    service, call = API_CALLS[provider]
    answer = _call(client or _client(service, region), provider, resource_id)
    text = json.dumps(answer, default=_json_default, sort_keys=True)
    fetched = Fetched(provider=provider, call=f"{service}:{call}", resource_id=resource_id, text=text,
                      masked=mask_answer(json.loads(text)))
    if cache != "":
        fetched.cache_path = _write_cache(fetched, cache or cache_dir())
    return fetched
