"""Guide step 2: render a site into its platform's artifacts (one Jinja2 template per artifact).

A platform is a folder ``templates/<platform>/``; every ``*.j2`` in it (not starting with ``_``,
which marks includes/macros) is an artifact named by dropping ``.j2``. Rendering is pure: it returns
the texts; writing them is :func:`write_artifacts`.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
import tempfile
from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemBytecodeCache, FileSystemLoader, StrictUndefined

from . import crypto_policy as cp
from .redact import mask_secrets
from .site import masked, site_secrets

SITE_JSON = "site.json"
ARTIFACT_MODE = 0o600


def _filters() -> dict[str, Any]:
    def net(cidr: str) -> ipaddress.IPv4Network:
        return ipaddress.ip_network(cidr)

    return {
        "network": lambda c: str(net(c).network_address),
        "netmask": lambda c: str(net(c).netmask),
        "wildcard": lambda c: str(net(c).hostmask),
        "prefixlen": lambda c: net(c).prefixlen,
        "ios_acl": lambda c: (f"host {net(c).network_address}" if net(c).prefixlen == 32
                              else f"{net(c).network_address} {net(c).hostmask}"),
        "junos_name": lambda c: str(c).replace(".", "_").replace("/", "_"),
    }


def _bytecode_cache() -> FileSystemBytecodeCache | None:
    """Compiled templates on disk (keyed by the template's source checksum, so an edited template is
    recompiled): compiling is most of a render's cost, and Ansible renders each host in a new process."""
    folder = os.path.join(tempfile.gettempdir(), f"stowpath-jinja-{os.getuid()}")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if os.stat(folder).st_uid != os.getuid() or os.stat(folder).st_mode & 0o077:
            return None  # not ours or not private: compile every time
    except OSError:
        return None
    return FileSystemBytecodeCache(folder)


@lru_cache(maxsize=16)
def environment(platform: str, templates_root: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(os.path.join(templates_root, platform)),
        bytecode_cache=_bytecode_cache(),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(_filters())
    env.globals["algo"] = lambda kind, value: cp.spell(platform, kind, value)
    env.globals["is_aead"] = cp.is_aead
    env.globals["ss_proposal"] = cp.strongswan_proposal
    return env


def template_names(platform: str, templates_root: str) -> list[str]:
    folder = os.path.join(templates_root, platform)
    if not os.path.isdir(folder):
        raise ValueError(f"no templates for platform {platform!r} in {folder}")
    return sorted(n for n in os.listdir(folder) if n.endswith(".j2") and not n.startswith("_"))


def render_site(site: dict[str, Any], templates_root: str) -> dict[str, str]:
    """All artifacts of the site's platform plus ``site.json`` (masked): ``{name: text}``."""
    platform = site["gateway_platform"]
    env = environment(platform, templates_root)
    out = {name[:-3]: env.get_template(name).render(site=site) for name in template_names(platform, templates_root)}
    out[SITE_JSON] = json.dumps(masked(site), indent=2, sort_keys=True) + "\n"
    return out


def masked_diff(name: str, before: str | None, after: str | None, secrets: list[str]) -> str:
    """Unified diff of one artifact with every secret masked."""
    a = mask_secrets(before or "", secrets).splitlines(keepends=True)
    b = mask_secrets(after or "", secrets).splitlines(keepends=True)
    return "".join(difflib.unified_diff(a, b, f"a/{name}", f"b/{name}"))


def plan_artifacts(dest: str, artifacts: dict[str, str]) -> dict[str, tuple[str | None, str | None]]:
    """What would change in ``dest``: ``{name: (current text or None, new text or None)}``.

    A file in ``dest`` that is no longer an artifact is planned for removal (new text None).
    """
    plan: dict[str, tuple[str | None, str | None]] = {}
    existing = set(os.listdir(dest)) if os.path.isdir(dest) else set()
    for name in sorted(existing | set(artifacts)):
        path = os.path.join(dest, name)
        if not os.path.isfile(path) and name in existing:
            continue
        current = None
        if name in existing:
            with open(path, encoding="utf-8", errors="replace") as fh:
                current = fh.read()
        new = artifacts.get(name)
        if current != new or (new is not None and (os.stat(path).st_mode & 0o777) != ARTIFACT_MODE):
            plan[name] = (current, new)
    return plan


def write_artifacts(dest: str, plan: dict[str, tuple[str | None, str | None]]) -> None:
    """Apply a plan: atomic writes, mode 0600, removal of stale artifacts."""
    os.makedirs(dest, mode=0o700, exist_ok=True)
    for name, (_, new) in plan.items():
        path = os.path.join(dest, name)
        if new is None:
            os.unlink(path)
            continue
        fd, tmp = tempfile.mkstemp(dir=dest, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(new)
            os.chmod(tmp, ARTIFACT_MODE)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


def render_to(site: dict[str, Any], templates_root: str, dest: str, check_mode: bool) -> dict[str, Any]:
    """Render and (unless check mode) write; returns changed, per-artifact masked diffs, paths."""
    artifacts = render_site(site, templates_root)
    plan = plan_artifacts(dest, artifacts)
    if plan and not check_mode:
        write_artifacts(dest, plan)
    secrets = site_secrets(site)
    return {
        "changed": bool(plan),
        "artifacts": {name: os.path.join(dest, name) for name in sorted(artifacts)},
        "changed_artifacts": sorted(plan),
        "diff": [
            {"before_header": f"{dest}/{n}", "after_header": f"{dest}/{n}",
             "prepared": masked_diff(n, b, a, secrets) or f"(mode of {n} set to 0600)\n"}
            for n, (b, a) in plan.items()
        ],
    }
