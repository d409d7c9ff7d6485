"""Action plugin of stowpath.core.drift_gateway: the whole drift check of one gateway in one Ansible task.

1. render the intended configuration in this process (site_render's own functions: ``render_here``),
   into ``build_dir/<host>/`` as ``site_render`` would;
2. read the gateway:

   * a Linux gateway (its platform runs_on ``device``): ONE shell command over the host's connection
     (``drift.linux.collect_script``: owned files, swanctl, FRR running config and BGP state, nft ruleset,
     the intended nft table listed by nft in a scratch netns, the push's state file), the intended nft
     table on its stdin; a second command (``frr-reload.py --test``) only when FRR's owned sections differ;
   * a router (runs_on ``controller``): the drift_vendor code in this process through the
     platform's transport, with the connection options of the action group ``stowpath.core.device``
     (its ``module_defaults``);

3. compare on the controller and return the gateway's entry for the fleet report (``entry``) plus what
   site_render returns (``site``, ``artifacts``) for a remediation.

A gateway that cannot be reached is a drift verdict (``unreachable`` in ``entry``), not an Ansible
"host unreachable": the host stays in the play so the fleet report names it and the verdict fails it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

ARGS: dict[str, dict[str, Any]] = {
    "build_dir": {"type": "path", "required": True},
    "templates_dir": {"type": "path", "required": True},
    "paths": {"type": "dict"},
    "state_dir": {"type": "str", "default": "/var/lib/stowpath"},
    "runtime": {"type": "bool", "default": True},
    "backup": {"type": "bool", "default": True},
    "client_cert": {"type": "str", "default": ""},
    "push_state_dir": {"type": "str", "default": ""},
    "lock_wait": {"type": "int", "default": 30},
    "device_key": {"type": "str"},
    "round": {"type": "int", "default": 1},
    "remediation": {"type": "dict"},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        checked = ArgumentSpecValidator(ARGS).validate(dict(self._task.args))
        if checked.error_messages:
            return {**result, "failed": True, "msg": "drift_gateway: " + "; ".join(checked.error_messages)}
        p = checked.validated_parameters
        host = str(task_vars.get("inventory_hostname"))
        problems = self._role_spec_errors(task_vars)
        if problems:
            return {**result, "failed": True, "msg": "Validation of the drift_check role's variables failed: "
                    + "; ".join(problems)}
        t0 = time.monotonic()
        rendered = self._render(host, p, task_vars)
        t_render = time.monotonic() - t0
        if rendered.get("failed"):
            return {**result, **rendered}
        from ansible_collections.stowpath.core.plugins.module_utils.platforms import get

        platform = str(self._templar.template(task_vars["gateway_platform"]))
        dest = os.path.join(p["build_dir"], host)
        if get(platform).runs_on == "device":
            found = self._linux(host, dest, rendered["site"], p)
        else:
            found = self._vendor(host, dest, p, task_vars)
        from ansible_collections.stowpath.core.plugins.module_utils.drift.model import summary, verdict

        found.setdefault("status", verdict(found))
        found.setdefault("summary", summary(found))
        found.setdefault("facts", {})["task_s"] = {"render": round(t_render, 3), "total": round(time.monotonic() - t0, 3)}
        entry = {"host": host, "site_name": rendered["site"].get("site_name"), "platform": platform, "result": found,
                 "client_cert": p["client_cert"], "remediation": p["remediation"], "round": p["round"]}
        return {**result, "changed": False, "site": rendered["site"], "artifacts": rendered.get("artifacts"),
                "entry": entry, "status": found.get("status"), "summary": found.get("summary")}

    # -- 0. the role's argument spec (instead of a validation task per host) ----------------------------------
    def _role_spec_errors(self, task_vars: dict[str, Any]) -> list[str]:
        """The calling role's ``meta/argument_specs.yml`` (entry point main) checked against its variables."""
        role = getattr(self._task, "_role", None)
        path = os.path.join(role._role_path, "meta", "argument_specs.yml") if role is not None else ""
        if not path or not os.path.exists(path):
            return []
        import yaml

        with open(path, encoding="utf-8") as fh:
            options = ((yaml.safe_load(fh) or {}).get("argument_specs") or {}).get("main", {}).get("options") or {}
        values = {name: self._templar.template(task_vars[name]) for name in options if name in task_vars}
        spec = {name: {k: v for k, v in opt.items() if k not in ("description", "default")}
                for name, opt in options.items()}
        return ArgumentSpecValidator(spec).validate(values).error_messages

    # -- 1. render --------------------------------------------------------------------------------------------
    def _render(self, host: str, p: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        from ansible_collections.stowpath.core.plugins.action.site_render import render_here, vault_decrypt
        from ansible_collections.stowpath.core.plugins.module_utils.ansible_site import (
            SITE_VARIABLES,
            controller_site_args,
        )

        site = {n: self._templar.template(task_vars[n]) for n in SITE_VARIABLES if n in task_vars}
        args = {"site": site, "hostname": host,
                "inventory_dir": str(task_vars.get("inventory_dir") or task_vars.get("playbook_dir") or "."),
                "templates_dir": p["templates_dir"], "dest": os.path.join(p["build_dir"], host)}
        args = controller_site_args(args, task_vars, lambda f: Path(f).read_bytes(), vault_decrypt(self._loader), False)
        # the drift check always refreshes build/ (local output; the device is only read)
        return render_here(args, SimpleNamespace(check_mode=False, diff=False))

    # -- 2a. a Linux gateway: one round trip -----------------------------------------------------------------
    def _linux(self, host: str, dest: str, site: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
        from ansible_collections.stowpath.core.plugins.module_utils import linux_gateway as lg
        from ansible_collections.stowpath.core.plugins.module_utils.drift import linux

        artifacts = {name: Path(dest, name).read_text() for name in lg.ARTIFACT_KEYS}
        paths = dict(lg.DEFAULT_PATHS, **(p["paths"] or {}))

        def remote(cmd: str, stdin: str) -> tuple[int, str, str]:
            res = self._low_level_execute_command(cmd, in_data=stdin)
            return int(res.get("rc", 1)), str(res.get("stdout", "")), str(res.get("stderr", ""))

        def frr_reload(intended: str) -> tuple[int, str, str]:
            import shlex

            return remote(shlex.join(["sh", "-c", linux.FRR_RELOAD_SCRIPT]), intended)

        try:
            return linux.collect(remote, artifacts, paths, p["state_dir"], site, p["runtime"], p["backup"],
                                 f"build/{host}", frr_reload)
        except AnsibleConnectionFailure as exc:
            return {"unreachable": True, "msg": f"{host}: {exc}"}
        except (lg.GatewayError, AnsibleError) as exc:
            return {"failed": True, "msg": f"cannot read the gateway's state: {exc}"}

    # -- 2b. routers: the drift_vendor code through the platform's transport --------------------------------------
    def _vendor(self, host: str, dest: str, p: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        from ansible.executor.module_common import _apply_action_arg_defaults
        from ansible_collections.stowpath.core.plugins.module_utils.drift.vendor import artifact_path, collect
        from ansible_collections.stowpath.core.plugins.module_utils.transports.ansible_args import (
            DEVICE_ARGS,
            connection,
        )
        from ansible_collections.stowpath.core.plugins.module_utils.transports.errors import TransportError

        device = _apply_action_arg_defaults("stowpath.core.drift_vendor", self._task, {}, self._templar)
        checked = ArgumentSpecValidator(DEVICE_ARGS).validate({k: v for k, v in device.items() if k in DEVICE_ARGS})
        if checked.error_messages:
            return {"failed": True, "msg": "; ".join(checked.error_messages)}
        d = checked.validated_parameters
        try:
            spec, transport, conn = connection(d)
            intended = artifact_path(spec.name, transport, dest)
            found = collect(spec.name, transport, conn, intended, state_dir=p["push_state_dir"] or None,
                            owner=str(self._templar.template(task_vars.get("site_name") or "stowpath")),
                            secrets=d.get("secrets") or [], key=p["device_key"] or host, lock_wait=float(p["lock_wait"]))
        except (ValueError, TransportError, OSError) as exc:
            return {"failed": True, "msg": str(exc)}
        from ansible_collections.stowpath.core.plugins.module_utils.drift.model import summary, verdict

        found.update(status=verdict(found), summary=summary(found))
        if found.get("unreachable") or found.get("status") == "unreachable":
            found.pop("unreachable", None)
            found["device_unreachable"] = True
        return found
