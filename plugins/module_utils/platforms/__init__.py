"""The platform registry: everything stowpath knows about a gateway platform, behind one lookup.

Each platform is one module ``platforms/<name>.py`` exposing ``SPEC`` (a :class:`PlatformSpec`), plus its
templates in ``templates/<name>/``. ``get(name)`` is the only lookup (like napalm's
``get_network_driver``); code elsewhere reads the spec's data and calls its functions and never
branches on a platform name.

A spec says:

* which artifacts the platform renders and which transport pushes which one (``transports``), the
  default transport and management port, and whether stowpath's modules run on the device itself
  (``runs_on="device"``: a Linux gateway managed over SSH by Ansible) or on the controller, talking to
  the device through a transport (``runs_on="controller"``: routers);
* what stowpath owns on the device (``owned``), and the per-transport details the generic transports
  need (``netconf``, ``napalm``, ``cli``);
* how secrets look there (``mask``, ``extract_secrets``);
* how to read the live state over each transport (``state``): tunnels and BGP in the neutral shapes of
  ``verify/model.py``;
* the names of its tunnel/VIF interfaces (``link_interfaces``) and its algorithm spellings (``crypto``);
* optionally, what a change plan checks in the device's existing configuration (``preflight``) and the
  connection variables a host needs (``connection_vars``).

The module list below is static on purpose: Ansible ships a module's ``module_utils`` by following
its import statements, so each platform is imported by name (lazily: a Linux gateway never loads
hier_config or ncclient).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

Query = Callable[[list[str]], "dict[str, Any]"]
TunnelReader = Callable[[Query, "dict[str, Any]"], "tuple[list[dict[str, Any]], list[dict[str, Any]] | None]"]
BgpReader = Callable[[Query, "dict[str, Any]"], "dict[str, Any]"]


class UnknownPlatformError(ValueError):
    """No such platform (the message lists the known ones)."""


@dataclass(frozen=True)
class TransportSpec:
    """How one transport pushes this platform: the artifact(s) it consumes and the default port."""

    artifact: str | tuple[str, ...]
    port: int
    replace_artifact: str | None = None  # the artifact in replace mode, when it differs

    def artifact_for(self, mode: str = "merge") -> str | tuple[str, ...]:
        return self.replace_artifact if mode == "replace" and self.replace_artifact else self.artifact


@dataclass(frozen=True)
class SiteVar:
    """A site variable only this platform has: validated by ``site.py`` and rendered as
    ``site.<site_section>.<key>`` in the platform's templates."""

    key: str
    default: Any
    kind: str  # "bool" | "interface" (interface name) | "zone" (security zone name)


@dataclass(frozen=True)
class StateRecipe:
    """Read the live state over one transport: ``tunnels(query, exp)`` -> (observed, configured or None),
    ``bgp(query, exp)`` -> the BGP shape; ``query(list_of_queries) -> {query: answer}`` is the
    transport's generic executor."""

    tunnels: TunnelReader
    bgp: BgpReader


def parser_recipe(load: Callable[[], Any]) -> StateRecipe:
    """The state read through one parser module (``parsers/``), imported by ``load()`` at the first read:
    its ``tunnel_queries(exp)``/``parse_tunnels(answers, exp)`` and ``bgp_queries(exp)``/``parse_bgp(answers,
    exp)`` pairs. The tunnel reader reports no configured tunnels (None)."""

    def tunnels(query: Query, exp: dict[str, Any]) -> tuple[list[dict[str, Any]], None]:
        parser = load()
        return parser.parse_tunnels(query(parser.tunnel_queries(exp)), exp), None

    def bgp(query: Query, exp: dict[str, Any]) -> dict[str, Any]:
        parser = load()
        return parser.parse_bgp(query(parser.bgp_queries(exp)), exp)

    return StateRecipe(tunnels=tunnels, bgp=bgp)


def dx_or_tunnel_interfaces(site: Mapping[str, Any], tunnel_interface: Callable[[Mapping[str, Any]], str]) -> list[str]:
    """The interfaces the cloud routes must use: the DX VLAN interface of a Direct Connect site, else
    ``tunnel_interface(tunnel)`` of every tunnel."""
    if site.get("connection_type") == "dx" or site.get("dx"):
        return [str((site.get("dx") or {}).get("vlan_interface") or "")]
    return [tunnel_interface(t) for t in site.get("tunnels") or []]


@dataclass(frozen=True)
class PlatformSpec:
    name: str
    title: str
    runs_on: str  # "device" (modules run on the gateway over SSH) | "controller" (through a transport)
    artifacts: tuple[str, ...]
    default_transport: str
    transports: Mapping[str, TransportSpec]
    owned: tuple[str, ...]  # what stowpath owns on the device (files, sections, YANG paths), for humans
    mask: Callable[[str, Iterable[str]], str]
    link_interfaces: Callable[[Mapping[str, Any]], list[str]]
    state: Mapping[str, StateRecipe] = field(default_factory=dict)
    crypto: Mapping[str, Mapping[Any, str]] = field(default_factory=dict)
    extract_secrets: Callable[[str], list[str]] = lambda text: []
    netconf: Mapping[str, Any] | None = None  # filter, device handler, owned and shared paths
    napalm: Mapping[str, Any] | None = None  # driver, replace_owned paths
    cli: Any = None  # the CLI planner (remediation, restore_commands, unified) for line-by-line pushes
    report_areas: tuple[tuple[str, str], ...] = ()  # (regex of a config line, report area)
    xref: tuple[list[tuple[str, str]], list[tuple[str, str]]] | None = None  # (defines, references)
    site_section: str | None = None  # the site model's section for site_vars (``site.linux``, ``site.junos``)
    site_vars: Mapping[str, SiteVar] = field(default_factory=dict)
    # pre-flight review of a change: ``preflight(running_text, intended_text, site)`` -> findings about the
    # device's existing configuration (see plan/__init__.py); None: only the generic checks run
    preflight: Callable[[str, str, Mapping[str, Any]], list[dict[str, Any]]] | None = None
    # connection variables a host of this platform needs (validated by site.py): each entry is a tuple of
    # alternatives, one of which must be set
    connection_vars: tuple[tuple[str, ...], ...] = ()

    def transport(self, name: str | None = None) -> tuple[str, TransportSpec]:
        """The transport ``name`` (default: the platform's), or a clear error naming the valid ones."""
        chosen = name or self.default_transport
        if chosen not in self.transports:
            raise UnknownPlatformError(f"transport {chosen!r} is not available for {self.name} "
                                       f"(use one of {', '.join(self.transports)})")
        return chosen, self.transports[chosen]

    def artifact(self, transport: str | None = None, mode: str = "merge") -> str | tuple[str, ...]:
        return self.transport(transport)[1].artifact_for(mode)

    def port(self, transport: str | None = None) -> int:
        return self.transport(transport)[1].port

    def state_for(self, transport: str | None = None) -> StateRecipe:
        chosen, _ = self.transport(transport)
        if chosen not in self.state:
            raise UnknownPlatformError(f"{self.name} cannot read tunnel/BGP state over {chosen} "
                                       f"(state is readable over {', '.join(self.state) or 'no transport'})")
        return self.state[chosen]

    def facts(self) -> dict[str, Any]:
        """What playbooks need to know (the ``stowpath.core.platform`` filter returns this)."""
        return {
            "name": self.name, "title": self.title, "runs_on": self.runs_on, "artifacts": list(self.artifacts),
            "default_transport": self.default_transport,
            "transports": {n: {"artifacts": _names(t.artifact), "replace_artifacts": _names(t.artifact_for("replace")),
                               "port": t.port, "reads_state": n in self.state}
                           for n, t in self.transports.items()},
            "owned": list(self.owned), "site_vars": {k: v.default for k, v in self.site_vars.items()},
        }


def _names(artifact: str | tuple[str, ...]) -> list[str]:
    return [artifact] if isinstance(artifact, str) else list(artifact)


def _linux_strongswan() -> PlatformSpec:
    from . import linux_strongswan

    return linux_strongswan.SPEC


def _cisco_iosxe() -> PlatformSpec:
    from . import cisco_iosxe

    return cisco_iosxe.SPEC


def _junos() -> PlatformSpec:
    from . import junos

    return junos.SPEC


_LOADERS: dict[str, Callable[[], PlatformSpec]] = {
    "linux_strongswan": _linux_strongswan,
    "cisco_iosxe": _cisco_iosxe,
    "junos": _junos,
}


#: The platform of a site model that names none (a Linux gateway, as before platforms were configurable).
DEFAULT_PLATFORM = "linux_strongswan"


def names() -> tuple[str, ...]:
    """Every platform stowpath supports (nothing is imported)."""
    return tuple(_LOADERS)


def get(name: str) -> PlatformSpec:
    """The spec of platform ``name``; an unknown name is a clear error listing the known ones."""
    loader = _LOADERS.get(str(name))
    if loader is None:
        raise UnknownPlatformError(f"platform {name!r} is not supported (use one of {', '.join(_LOADERS)})")
    return loader()
