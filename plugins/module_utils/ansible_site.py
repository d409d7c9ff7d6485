"""Glue between Ansible and the site model (kept here so modules and action plugins stay thin)."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from .dicomweb.auth_policy import AUTH_VARIABLES, SECRET_AUTH_VARIABLES
from .errors import SiteError, SiteErrors
from .params import check_text, is_vaulted
from .site import load_site, read_params_file, resolve_params_file

SITE_ARGS: dict[str, Any] = {
    "site": {"type": "dict"},
    "hostname": {"type": "str", "required": True},
    "inventory_dir": {"type": "str", "default": "."},
    # {vendor file path: text} of the vault-encrypted vendor files, decrypted in memory by the action plugin
    "params_content": {"type": "dict", "no_log": True},
    # site variables that are secrets (moved out of ``site`` by the action plugin so no log shows them)
    "site_secrets": {"type": "dict", "no_log": True},
}
RENDER_ARGS: dict[str, Any] = {**SITE_ARGS, "templates_dir": {"type": "path", "required": True},
                               "dest": {"type": "path", "required": True}}
# The host variables that make up a site (the contract in README "Site variables"); the site_render
# role lists the same names in site_render_site_variables (a test keeps them equal).
SITE_VARIABLES: tuple[str, ...] = ("site_name", "gateway_platform", "cloud_provider", "cloud_params_file",
    "cloud_psk", "vpn_connection_id", "cloud_params_source", "cloud_api_region", "wan_interface", "wan_address",
    "lan_interface", "lan_cidrs", "local_asn", "dicomweb_url", "dicomweb_cidrs", "allow_legacy_crypto",
    "allow_icmp_diagnostics", "tcp_mss", "accept_prefixes", "bgp_router_id", "tunnel_id_base",
    "linux_tunnel_interface", "ipsec_udp_encap", "linux_ipsec_dataplane", "accept_min_prefixlen",
    "preferred_tunnel", "junos_lan_zone", "junos_wan_zone", "junos_vpn_zone", "dx_interface", "dx_vlan_interface",
    "dx_virtual_interface_id", "azure_resource_group", "azure_vpn_connection", "azure_subscription", "gcp_project",
    "gcp_region", "gcp_vpn_tunnels", *AUTH_VARIABLES)
# Site variables that hold secrets.
SECRET_SITE_VARIABLES = ("cloud_psk", *SECRET_AUTH_VARIABLES)


def error_list(exc: SiteError | SiteErrors) -> list[dict[str, str]]:
    errors = exc.errors if isinstance(exc, SiteErrors) else [exc]
    return [{"source": e.source, "field": e.field, "problem": e.problem, "fix": e.fix} for e in errors]


def load_from_params(p: Mapping[str, Any]) -> dict[str, Any]:
    """Load the site from site_model / site_render parameters (raises SiteError/SiteErrors)."""
    kwargs: dict[str, Any] = {}
    if p.get("params_content"):
        content = p["params_content"]

        def read(path: str, host: str) -> str:
            return check_text(content[path], path) if path in content else read_params_file(path, host)

        kwargs["read"] = read
    site = {**(p.get("site") or {}), **(p.get("site_secrets") or {})}
    return load_site(site, p["hostname"], p.get("inventory_dir") or ".", **kwargs)


def invalid_input(hostname: str, exc: SiteError | SiteErrors) -> dict[str, Any]:
    """The failure result for invalid input: every problem, named and fixable."""
    return {"failed": True, "msg": f"invalid input for host {hostname}, nothing was rendered or pushed:\n{exc}",
            "errors": error_list(exc)}


def load_or_fail(module: Any) -> dict[str, Any]:
    """Load the site from the module's params or ``fail_json`` with every problem, named and fixable."""
    try:
        return load_from_params(module.params)
    except (SiteError, SiteErrors) as exc:
        module.fail_json(**{k: v for k, v in invalid_input(module.params["hostname"], exc).items() if k != "failed"})
        raise  # unreachable: fail_json exits


def render_result(p: Mapping[str, Any], check_mode: bool, want_diff: bool) -> dict[str, Any]:
    """What site_render returns: validate, render into ``dest`` (unless check mode), the masked model,
    warnings, and the diff when asked (raises SiteError/SiteErrors on invalid input)."""
    from .render import render_to
    from .site import masked

    site = load_from_params(p)
    result = render_to(site, p["templates_dir"], p["dest"], check_mode)
    diff = result.pop("diff")
    out = dict(result, site=masked(site), warnings=list(site["warnings"]))
    if want_diff:
        out["diff"] = diff
    return out


def controller_site_args(args: Mapping[str, Any], task_vars: Mapping[str, Any], read_raw: Callable[[str], bytes],
                         decrypt: Callable[[bytes, str], bytes], require_connection: bool) -> dict[str, Any]:
    """The module arguments of site_render / site_model, completed on the controller (action plugin).

    * a vault-encrypted vendor file is decrypted in memory and passed in ``params_content`` (never
      written in clear); a plain file is left for the module to read;
    * ``site.stowpath_connection`` says which connection variables of the platform have a value (names
      only, never values), and whether this run needs them (it talks to the device).
    """
    out = dict(args)
    site = dict(out.get("site") or {})
    secrets = {k: site.pop(k) for k in SECRET_SITE_VARIABLES if k in site}
    if secrets:
        out["site_secrets"] = {**(out.get("site_secrets") or {}), **secrets}
    given = site.get("cloud_params_file")
    paths = [given] if isinstance(given, str) else [g for g in given or [] if isinstance(g, str)]
    decrypted: dict[str, str] = {}
    for path in paths if not out.get("params_content") else []:
        full = resolve_params_file(path, str(out.get("inventory_dir") or "."))
        try:
            raw = read_raw(full)
        except OSError:
            continue
        if raw and is_vaulted(raw.decode("utf-8", "replace")):
            try:
                decrypted[full] = decrypt(raw, full).decode("utf-8-sig")
            except ValueError:  # no or wrong vault secret: the module names the fix
                pass
    if decrypted:
        out["params_content"] = decrypted
    names: set[str] = set()
    try:
        from .platforms import get

        for alternatives in get(site.get("gateway_platform")).connection_vars:
            names.update(alternatives)
    except ValueError:
        pass
    site["stowpath_connection"] = {
        "required": bool(require_connection),
        "set": sorted(n for n in names if task_vars.get(n) not in (None, "")),
    }
    out["site"] = site
    return out
