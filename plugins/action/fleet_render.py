"""Action plugin of stowpath.core.fleet_render: validate and render every gateway of the play in one task.

``render-site.yml`` renders a whole inventory on the controller. Running ``site_render`` once per host costs
an Ansible task per host (templating the host's variables, a worker process, the role's argument
check); for a fleet of a thousand facilities that is minutes. Here one task (``run_once``) reads each
gateway's site variables, validates and renders it in this process with the same functions as
``site_render`` (``ansible_site.render_result``), says every warning once (with the hosts it concerns)
and returns the hosts that failed or changed.
Called again (``report: true``) for such a host, it reports the host's own outcome: changed, failed with
every problem named, warnings, and the masked diff under ``--diff``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

# The per-host report runs once per host in a new worker process: it imports nothing of the site model.
# The fleet render (once) imports it in the functions below.

ARGS = {
    "hosts": {"type": "list", "elements": "str"},
    "build_dir": {"type": "path"},
    "templates_dir": {"type": "path"},
    "site_variables": {"type": "list", "elements": "str"},
    "report": {"type": "bool", "default": False},
}


def outcomes_dir(build_dir: str) -> str:
    """Private folder for the per-host outcome files of a render into ``build_dir`` (not in build_dir:
    check mode writes nothing there); each file is removed when its host reports it."""
    key = hashlib.sha256(os.path.realpath(build_dir).encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"stowpath-render-{os.getuid()}-{key}")


def fleet_warnings(by_host: dict[str, list[str]], shown: int = 5) -> list[str]:
    """One line per distinct warning, naming the hosts it concerns (the first ``shown`` and a count)."""
    hosts_of: dict[str, list[str]] = {}
    for host in sorted(by_host):
        for text in by_host[host]:
            hosts_of.setdefault(text, []).append(host)
    lines = []
    for text, hosts in hosts_of.items():
        more = f" and {len(hosts) - shown} more" if len(hosts) > shown else ""
        lines.append(f"{', '.join(hosts[:shown])}{more}: {text}")
    return lines


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        checked = ArgumentSpecValidator(ARGS).validate(dict(self._task.args))
        if checked.error_messages:
            return {**result, "failed": True, "msg": "; ".join(checked.error_messages)}
        p = checked.validated_parameters
        if not p["build_dir"]:
            return {**result, "failed": True, "msg": "build_dir is required"}
        if p["report"]:
            return {**result, **self._report(p["build_dir"], str(task_vars.get("inventory_hostname")))}
        if not p["templates_dir"]:
            return {**result, "failed": True, "msg": "templates_dir is required to render"}
        from ansible_collections.stowpath.core.plugins.module_utils.ansible_site import SITE_VARIABLES

        hosts = p["hosts"] if p["hosts"] is not None else list(task_vars.get("ansible_play_hosts_all") or [])
        names = p["site_variables"] or list(SITE_VARIABLES)
        outcomes: dict[str, dict[str, Any]] = {}
        for host in hosts:
            hv = task_vars["hostvars"][host]
            if "gateway_platform" not in hv:
                continue
            outcomes[host] = self._render_one(host, hv, names, p)
        failed = sorted(h for h, o in outcomes.items() if o.get("failed"))
        self._keep(p["build_dir"], outcomes)
        # the hosts that failed (and, with --diff, changed) report their own outcome in a per-host task;
        # warnings are said here, once per text with the hosts it concerns
        warnings = fleet_warnings({h: o.get("warnings") or [] for h, o in outcomes.items() if not o.get("failed")})
        return {**result, "changed": False, "changed_hosts": sorted(h for h, o in outcomes.items() if o.get("changed")),
                **({"warnings": warnings} if warnings else {}),
                "rendered": len(outcomes) - len(failed), "invalid": failed,
                "msg": f"{len(outcomes) - len(failed)} of {len(outcomes)} gateway(s) rendered into {p['build_dir']}"
                       + (f"; invalid input: {', '.join(failed)}" if failed else "")}

    def _render_one(self, host: str, hv: Any, names: list[str], p: dict[str, Any]) -> dict[str, Any]:
        from ansible_collections.stowpath.core.plugins.action.site_render import render_here, vault_decrypt
        from ansible_collections.stowpath.core.plugins.module_utils.ansible_site import controller_site_args

        site = {name: self._templar.template(hv[name]) for name in names if name in hv}
        args = {"site": site, "hostname": host,
                "inventory_dir": str(self._templar.template(hv.get("inventory_dir") or ".")),
                "templates_dir": p["templates_dir"], "dest": os.path.join(p["build_dir"], host)}
        args = controller_site_args(args, hv, lambda f: Path(f).read_bytes(), vault_decrypt(self._loader), False)
        out = render_here(args, self._play_context)
        if out.get("failed"):
            return out
        return {"changed": out["changed"], "artifacts": out.get("artifacts"), "warnings": out.get("warnings", []),
                "diff": out.get("diff"), "msg": f"{host}: {os.path.join(p['build_dir'], host)}"}

    @staticmethod
    def _keep(build_dir: str, outcomes: dict[str, dict[str, Any]]) -> None:
        """One small file per host (masked content only), read back by that host's report task."""
        folder = outcomes_dir(build_dir)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder, mode=0o700)
        for host, outcome in outcomes.items():
            fd = os.open(os.path.join(folder, f"{host}.json"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(outcome, fh)

    @staticmethod
    def _report(build_dir: str, host: str) -> dict[str, Any]:
        path = os.path.join(outcomes_dir(build_dir), f"{host}.json")
        try:
            with open(path, encoding="utf-8") as fh:
                entry = json.load(fh)
        except FileNotFoundError:
            return {"skipped": True, "msg": "not a gateway (no gateway_platform)"}
        os.unlink(path)
        out = {k: v for k, v in entry.items() if v is not None and k != "warnings"}
        if entry.get("warnings"):
            out["warnings"] = entry["warnings"]
        return out
