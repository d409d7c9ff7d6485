"""``cloud_params_source: api`` for Azure and GCP: stowpath runs the provider's CLI with JSON output.

* ``azure_vpn``: ``az network vpn-connection show -g RG -n CONNECTION``, then the gateway and the local
  network gateway the connection names (``az network vnet-gateway show --ids ...``, ``az network
  local-gateway show --ids ...``), then ``az network vpn-connection shared-key show`` (skipped when
  ``cloud_psk`` carries the key);
* ``gcp_ha_vpn``: ``gcloud compute vpn-tunnels describe`` for each of ``gcp_vpn_tunnels``, then the Cloud
  Router(s) and HA VPN gateway(s) the tunnels name (``routers describe``, ``vpn-gateways describe``).

Each CLI uses its own login and credential chain (``az login`` / a service principal or managed identity;
``gcloud auth`` / application default credentials / ``CLOUDSDK_*``): stowpath never passes a secret on the
command line. Every call has a timeout; a missing CLI, a missing login, an unknown resource or a
permission problem is a :class:`~..errors.SiteError` naming the call and the fix. The answers are parsed
by the same parsers as saved files; the copy kept for people has every secret masked.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any, Callable

from ..errors import SiteError
from ..redact import MASK, mask_structure
from .documents import last_segment

CLI_PROVIDERS = {"azure_vpn": "az", "gcp_ha_vpn": "gcloud"}
DEFAULT_TIMEOUT_S = 60.0
INSTALL_FIX = {"az": "install the Azure CLI on the controller (https://learn.microsoft.com/cli/azure/install-azure-cli) "
                     "and put az on PATH, or save the answers as files (cloud_params_source: file)",
               "gcloud": "install the Google Cloud CLI on the controller (https://cloud.google.com/sdk/docs/install) "
                         "and put gcloud on PATH, or save the answers as files (cloud_params_source: file)"}
LOGIN_FIX = {"az": "log the controller in: az login (or a service principal / managed identity: az login "
                   "--service-principal / --identity); IAM: Reader on the resource group",
             "gcloud": "log the controller in: gcloud auth login, or gcloud auth activate-service-account / "
                       "application default credentials; IAM: compute.vpnTunnels.get, compute.routers.get, "
                       "compute.vpnGateways.get"}
_LOGIN = re.compile(r"az login|AADSTS|expired|no active account|do not currently have an active account|"
                    r"gcloud auth login|Reauthentication|credentials|not logged in|Please run", re.IGNORECASE)
_NOT_FOUND = re.compile(r"ResourceNotFound|ResourceGroupNotFound|was not found|could not be found|notFound|404",
                        re.IGNORECASE)
_DENIED = re.compile(r"AuthorizationFailed|PERMISSION_DENIED|Forbidden|403|does not have authorization",
                     re.IGNORECASE)
# Long opaque runs (tokens, keys) are cut from any CLI text shown in an error.
_OPAQUE = re.compile(r"[A-Za-z0-9+/=_.~-]{32,}")
_SECRET_KEYS = re.compile(r"(?i)^(sharedkey|sharedsecret|value)$")

Runner = Callable[[list[str], float], "subprocess.CompletedProcess[str]"]


def run_cli(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run one CLI call: no shell, no stdin (a login prompt cannot hang the run), the caller's environment."""
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env=dict(os.environ), check=False)


def excerpt(text: str) -> str:
    """The first line of a CLI's error output, short and with opaque runs (tokens) removed."""
    line = next((ln.strip() for ln in (text or "").splitlines() if ln.strip()), "")
    return _OPAQUE.sub(MASK, line)[:200]


def call(argv: list[str], label: str, timeout: float = DEFAULT_TIMEOUT_S, runner: Runner = run_cli) -> Any:
    """One CLI call's JSON answer, or a :class:`SiteError` naming the call (``label``) and the fix."""
    exe = argv[0]
    where = f"{exe} {label}"
    try:
        done = runner(argv, timeout)
    except FileNotFoundError:
        raise SiteError("controller", "cloud_params_source", f"{exe} is not installed or not on PATH",
                        INSTALL_FIX[exe]) from None
    except subprocess.TimeoutExpired:
        raise SiteError("cloud API", where, f"no answer within {timeout:.0f} s",
                        f"check the controller's network access to the cloud API and that {exe} needs no prompt "
                        f"({LOGIN_FIX[exe]})") from None
    if done.returncode != 0:
        text = excerpt(done.stderr or done.stdout)
        if _LOGIN.search(done.stderr or ""):
            problem, fix = f"{exe} is not logged in ({text})", LOGIN_FIX[exe]
        elif _DENIED.search(done.stderr or ""):
            problem, fix = f"permission denied ({text})", LOGIN_FIX[exe]
        elif _NOT_FOUND.search(done.stderr or ""):
            problem, fix = f"not found ({text})", "check the names in the host variables (docs/cloud-parameters.md)"
        else:
            problem, fix = f"exited {done.returncode} ({text})", f"run the same {exe} command by hand to see why"
        raise SiteError("cloud API", where, problem, fix)
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise SiteError("cloud API", where, "did not print JSON",
                        f"use a {exe} version that supports JSON output ({exe} --version)") from None


def mask_cli_answer(doc: Any) -> Any:
    """An answer with shared keys masked (Azure's ``sharedKey`` and the shared-key call's ``value``,
    GCP's ``sharedSecret``) plus every secret-named field."""
    found: list[str] = []

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if isinstance(k, str) and _SECRET_KEYS.match(k) and isinstance(v, str) and v:
                    found.append(v)
                    out[k] = MASK
                else:
                    out[k] = walk(v)
            return out
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return mask_structure(walk(doc), found)


def _props(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        return {}
    inner = doc.get("properties")
    return {**doc, **inner} if isinstance(inner, dict) else doc


def _ref_id(value: Any) -> str | None:
    return str(value.get("id")) if isinstance(value, dict) and value.get("id") else None


def azure_answers(ids: dict[str, Any], timeout: float, runner: Runner) -> list[tuple[str, Any]]:
    """The ``az`` answers of one connection: connection, gateway, local gateway, shared key."""
    rg, name = ids["azure_resource_group"], ids["azure_vpn_connection"]
    sub = ["--subscription", ids["azure_subscription"]] if ids.get("azure_subscription") else []
    out = []
    conn = call(["az", "network", "vpn-connection", "show", "-g", rg, "-n", name, *sub, "-o", "json"],
                f"network vpn-connection show -g {rg} -n {name}", timeout, runner)
    out.append((f"az network vpn-connection show -n {name}", conn))
    props = _props(conn)
    gateway = _ref_id(props.get("virtualNetworkGateway1"))
    if not gateway:
        raise SiteError("cloud API", f"az network vpn-connection show -n {name}",
                        "the connection names no virtual network gateway (virtualNetworkGateway1)",
                        "check azure_vpn_connection: it must be a site-to-site (IPsec) connection")
    for kind, ref in (("vnet-gateway", gateway), ("local-gateway", _ref_id(props.get("localNetworkGateway2")))):
        if ref:
            doc = call(["az", "network", kind, "show", "--ids", ref, "-o", "json"],
                       f"network {kind} show -n {last_segment(ref)}", timeout, runner)
            out.append((f"az network {kind} show -n {last_segment(ref)}", doc))
    if ids.get("shared_key", True):
        key = call(["az", "network", "vpn-connection", "shared-key", "show", "-g", rg, "--connection-name", name,
                    *sub, "-o", "json"], f"network vpn-connection shared-key show -n {name}", timeout, runner)
        out.append((f"az network vpn-connection shared-key show -n {name}", key))
    return out


def gcp_answers(ids: dict[str, Any], timeout: float, runner: Runner) -> list[tuple[str, Any]]:
    """The ``gcloud`` answers: each tunnel, then the Cloud Router(s) and HA VPN gateway(s) they name."""
    where = ["--region", ids["gcp_region"], "--project", ids["gcp_project"], "--format=json"]
    out: list[tuple[str, Any]] = []
    refs: dict[str, list[str]] = {"routers": [], "vpn-gateways": []}
    for tunnel in ids["gcp_vpn_tunnels"]:
        doc = call(["gcloud", "compute", "vpn-tunnels", "describe", tunnel, *where],
                   f"compute vpn-tunnels describe {tunnel}", timeout, runner)
        out.append((f"gcloud compute vpn-tunnels describe {tunnel}", doc))
        for kind, key in (("routers", "router"), ("vpn-gateways", "vpnGateway")):
            ref = last_segment(doc.get(key)) if isinstance(doc, dict) and doc.get(key) else ""
            if ref and ref not in refs[kind]:
                refs[kind].append(ref)
    for kind, names in refs.items():
        for ref in names:
            doc = call(["gcloud", "compute", kind, "describe", ref, *where], f"compute {kind} describe {ref}",
                       timeout, runner)
            out.append((f"gcloud compute {kind} describe {ref}", doc))
    return out


def fetch_cli(provider: str, ids: dict[str, Any], timeout: float = DEFAULT_TIMEOUT_S, runner: Runner = run_cli) -> Any:
    """The :class:`.api.Fetched` of an Azure / GCP connection (answers in ``parts``, masked copy in ``masked``)."""
    from .api import Fetched

    if provider == "azure_vpn":
        answers = azure_answers(ids, timeout, runner)
        resource_id = f"{ids['azure_resource_group']}-{ids['azure_vpn_connection']}"
    else:
        answers = gcp_answers(ids, timeout, runner)
        resource_id = f"{ids['gcp_project']}-{ids['gcp_region']}-{ids['gcp_vpn_tunnels'][0]}"
    parts = [(f"api:{label}", json.dumps(doc, sort_keys=True)) for label, doc in answers]
    masked = {label: mask_cli_answer(doc) for label, doc in answers}
    exe = CLI_PROVIDERS[provider]
    return Fetched(provider=provider, call=f"{exe}:{len(answers)} calls", resource_id=resource_id,
                   text=json.dumps(masked, sort_keys=True), masked=masked, parts=parts)
