"""The platform registry is the only place that knows the platforms.

``test_platform_names_stay_in_their_places`` lists every tracked file that names a platform outside the
places a platform owns (``platforms/<name>.py``, ``templates/<name>/``, its parsers, tests, docs,
inventories, the lab's simulators) and fails when a file not in ``ALLOWED`` appears: adding a platform
must not mean editing the rest of the code (docs/adding-a-platform.md).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from ansible_collections.stowpath.core.plugins.module_utils import platforms
from ansible_collections.stowpath.core.plugins.module_utils.transports.base import open_transport
from ansible_collections.stowpath.core.plugins.module_utils.transports.errors import TransportError

REPO = Path(__file__).resolve().parents[2]
NAMES = re.compile(r"\b(" + "|".join(platforms.names()) + r")\b")
PLATFORM_PLACES = re.compile(r"^(plugins/module_utils/platforms/|plugins/module_utils/parsers/|templates/|tests/|docs/"
                             r"|inventories/|lab/vendor/|README\.md$|CHANGELOG)")
# Files outside those places that may name a platform, and why. Keep this list short.
ALLOWED = {
    "plugins/module_utils/linux_gateway.py": "the Linux gateway's push implementation (wrapped by transports/linux.py)",
    "plugins/module_utils/drift/linux.py": "the Linux gateway's on-device drift collector",
    "plugins/module_utils/drift/frr.py": "FRR section ownership for the Linux gateway's drift (docstring)",
    "plugins/module_utils/drift/vendor.py": "docstring: which platforms run from the controller",
    "plugins/module_utils/transports/napalm_drv.py": "docstring: NAPALM driver names",
    "plugins/module_utils/transports/netconf.py": "docstring: which data models",
    "plugins/module_utils/transports/netmiko_cli.py": "docstring: the CLI planner it uses",
    "plugins/module_utils/crypto_policy.py": "docstring example of spell()",
    "plugins/modules/drift_linux.py": "the Linux gateway's drift module",
    "plugins/modules/drift_vendor.py": "EXAMPLES",
    "plugins/modules/gateway_push.py": "DOCUMENTATION: where modules run",
    "plugins/modules/tunnel_status.py": "DOCUMENTATION: how the Linux state is read",
    "plugins/modules/bgp_status.py": "DOCUMENTATION: how the Linux state is read",
    "plugins/doc_fragments/device.py": "DOCUMENTATION",
    "roles/drift_check/README.md": "role documentation",
    "roles/drift_check/defaults/main.yml": "comments",
    "roles/drift_check/meta/argument_specs.yml": "option descriptions",
    "roles/gateway_push/meta/argument_specs.yml": "option descriptions",
    "roles/site_render/defaults/main.yml": "comment",
    "roles/site_render/meta/argument_specs.yml": "option descriptions of the Linux-only site variables",
    "requirements.yml": "the junipernetworks.junos collection",
    "requirements.lock": "package names",
    "execution-environment.yml": "package names (junos-eznc)",
    "bench/lab_bench.py": "benchmarks the Linux lab gateway",
    "bench/onboard_bench.py": "watches the Linux lab gateways during the onboarding benchmark",
    "bench/vendor_bench.py": "benchmarks the router transports",
    "bench/render_bench.py": "generates sites of every platform",
    "lab/stowlab/vendor_files.py": "the lab fleet's gateways are Linux gateways",
}


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                         capture_output=True, text=True, check=True)
    return [f for f in out.stdout.splitlines() if (REPO / f).is_file()]


def test_platform_names_stay_in_their_places() -> None:
    naming = set()
    for name in tracked_files():
        if PLATFORM_PLACES.search(name):
            continue
        try:
            text = (REPO / name).read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if NAMES.search(text):
            naming.add(name)
    new = sorted(naming - set(ALLOWED))
    assert not new, ("these files name a platform outside the platform's own places: move the knowledge into "
                     f"plugins/module_utils/platforms/<name>.py (docs/adding-a-platform.md): {new}")


@pytest.mark.parametrize("name", platforms.names())
def test_every_platform_spec_is_complete(name: str) -> None:
    spec = platforms.get(name)
    assert spec.name == name
    assert (REPO / "templates" / name).is_dir()
    rendered = {p.name[:-3] for p in (REPO / "templates" / name).glob("*.j2") if not p.name.startswith("_")}
    assert set(spec.artifacts) <= rendered, f"{name}: artifacts without a template: {set(spec.artifacts) - rendered}"
    assert spec.default_transport in spec.transports
    for tname, t in spec.transports.items():
        for artifact in ([t.artifact] if isinstance(t.artifact, str) else list(t.artifact)):
            assert artifact in spec.artifacts, f"{name}/{tname} pushes {artifact}, which the platform does not render"
    assert spec.state, f"{name} cannot read tunnel/BGP state over any transport"
    for kind in ("ike_encryption", "esp_encryption", "ike_integrity", "esp_integrity", "dh"):
        assert spec.crypto[kind], f"{name} has no {kind} spellings"
    assert spec.mask("pre-shared-key 0 Sup3rSecret", ["Sup3rSecret"]).count("Sup3rSecret") == 0


def test_unknown_platform_and_transport_are_clear_errors() -> None:
    with pytest.raises(platforms.UnknownPlatformError, match="use one of linux_strongswan"):
        platforms.get("fortios")
    with pytest.raises(platforms.UnknownPlatformError, match="use one of napalm, netconf"):
        platforms.get("junos").transport("netmiko")
    with pytest.raises(TransportError, match="not available for junos"):
        open_transport("junos", "netmiko", None)  # type: ignore[arg-type]


def test_link_interfaces_follow_the_rendered_names() -> None:
    site = {"connection_type": "vpn", "tunnels": [{"index": 1, "if_index": 11}, {"index": 2, "if_index": 12}],
            "linux": {"tunnel_interface": "ipsec0"}}
    assert platforms.get("cisco_iosxe").link_interfaces(site) == ["Tunnel11", "Tunnel12"]
    assert platforms.get("junos").link_interfaces(site) == ["st0.11", "st0.12"]
    assert platforms.get("linux_strongswan").link_interfaces(site) == ["ipsec0"]
    dx = {"connection_type": "dx", "dx": {"vlan_interface": "eth2.412"}}
    assert {tuple(platforms.get(n).link_interfaces(dx)) for n in platforms.names()} == {("eth2.412",)}
