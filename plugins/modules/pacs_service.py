#!/usr/bin/python
"""Deploy and run one small stowpath service on the PACS host (e.g. the auto-router), in one task."""

from __future__ import annotations

DOCUMENTATION = r"""
module: pacs_service
short_description: Deploy and run one of stowpath's small services on the PACS host, idempotently
description:
  - One task for what a service needs (before - directories, code copy, config, unit, status, stop, start as
    separate tasks) - its directories (mode 0700), its code (the service's module under C(plugins/module_utils)
    and every stowpath module it imports, taken from this module's own payload, so no copy from the
    controller), its JSON config (mode 0600; O(config_secrets) inside, never in results or diffs), and a
    running process - a systemd unit (O(manager=systemd)) or a C(start-stop-daemon) PID-file daemon
    (O(manager=process), hosts without systemd as PID 1).
  - The service is restarted only when a file it reads changed (config, code, unit), started when it is
    not running, and left alone otherwise (C(changed=false)).
  - Check mode reports what would change and changes nothing; C(--diff) shows the config with the secret
    keys masked and lists the code files that would change.
  - A new service - one entry in C(SERVICES) of C(plugins/module_utils/pacs/service.py) and one task.
version_added: "0.2.0"
author: stowpath developers
options:
  name:
    description: Service name (PID file, log file, systemd unit name), e.g. C(stowpath-autoroute).
    type: str
    required: true
  service:
    description: Which service runs (its module in C(plugins/module_utils/pacs/service.py) C(SERVICES)).
    type: str
    required: true
    choices: [autoroute]
  config_file:
    description: The service's JSON config file (written 0600; its directory 0700).
    type: path
    required: true
  config:
    description: The config file's keys that are not secret (shown masked-free in C(--diff)).
    type: dict
    default: {}
  config_secrets:
    description: Config keys whose values are secrets (e.g. the PACS API password); masked in every output.
    type: dict
    default: {}
  dirs:
    description: Further directories the service needs (mode 0700), e.g. its state directory.
    type: list
    elements: path
    default: []
  python:
    description: The Python that runs the service on this host (standard library only is needed).
    type: str
    default: /usr/bin/python3
  lib:
    description: Where stowpath's code lives on this host (C(PYTHONPATH) of the service).
    type: path
    required: true
  deploy_code:
    description: Write the service's code under O(lib) (false - O(lib) already holds stowpath, e.g. a checkout).
    type: bool
    default: true
  manager:
    description: C(systemd) (a unit in C(/etc/systemd/system)) or C(process) (C(start-stop-daemon) with a PID file).
    type: str
    choices: [systemd, process]
    default: systemd
  user:
    description: The unit's C(User=) (O(manager=systemd)).
    type: str
    default: root
  run_dir:
    description: PID file directory (O(manager=process)).
    type: path
    default: /run/stowpath-monitor
  log_dir:
    description: Log file directory (O(manager=process)).
    type: path
    default: /var/log/stowpath-monitor
  restart:
    description: Restart the service even when none of its files changed (e.g. the token refresher after the
      PACS destination was rewritten without its header).
    type: bool
    default: false
notes:
  - Supports check mode and diff.
"""

EXAMPLES = r"""
- name: Auto-router on the PACS host
  stowpath.core.pacs_service:
    name: stowpath-autoroute
    service: autoroute
    config_file: /etc/stowpath-autoroute/autoroute.json
    config: {api_url: "http://127.0.0.1:8042", destination: cloud-stow-rs, state_file: /var/lib/stowpath/autoroute/state.json}
    config_secrets: {api_password: "{{ pacs_api_password }}"}
    dirs: [/var/lib/stowpath/autoroute]
    lib: /opt/stowpath/lib
  delegate_to: pacs
"""

RETURN = r"""
files_changed:
  description: Paths written (or that would be, in check mode).
  returned: always
  type: list
  elements: str
action:
  description: C(none), C(started) or C(restarted).
  returned: always
  type: str
argv:
  description: The service's command line.
  returned: always
  type: list
  elements: str
"""

import importlib.util
import os
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stowpath.core.plugins.module_utils import fileutil
from ansible_collections.stowpath.core.plugins.module_utils.pacs import (
    autoroute,  # noqa: F401  (in the payload)
    token_refresh,  # noqa: F401  (in the payload)
)
from ansible_collections.stowpath.core.plugins.module_utils.pacs import service as svc

UNIT_DIR = "/etc/systemd/system"
# coreutils timeout around every command: a hung systemctl/start-stop-daemon cannot hold the play
COMMAND_TIMEOUT_S = "60"


def read_module(dotted: str) -> tuple[bytes, bool] | None:
    """Source of a module of this module's payload (zip or files) and whether it is a package."""
    try:
        spec = importlib.util.find_spec(dotted)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin in (None, "namespace") or not spec.origin.endswith(".py"):
        return None
    try:
        data = spec.loader.get_data(spec.origin)  # type: ignore[union-attr]
    except OSError:
        return None
    return data, spec.submodule_search_locations is not None


def current(path: str) -> tuple[bytes | None, int | None]:
    data = fileutil.read_bytes(path)
    return data, (stat.S_IMODE(os.stat(path).st_mode) if data is not None else None)


def desired_files(p: dict, command: list[str], env: dict[str, str]) -> list[svc.Desired]:
    files = [svc.Desired(p["config_file"], svc.config_bytes(p["config"], p["config_secrets"]), svc.CONFIG_MODE,
                         secret=True)]
    if p["deploy_code"]:
        code = svc.code_closure(svc.module_name(p["service"]), read_module)
        files += [svc.Desired(os.path.join(p["lib"], rel), src, svc.CODE_MODE) for rel, src in sorted(code.items())]
    if p["manager"] == "systemd":
        files.append(svc.Desired(f"{UNIT_DIR}/{p['name']}.service", svc.unit_text(p["name"], command, env, p["user"]),
                                 svc.UNIT_MODE))
    return files


def missing_dirs(p: dict) -> list[tuple[str, int]]:
    want = [(os.path.dirname(p["config_file"]), 0o700)] + [(d, 0o700) for d in p["dirs"]]
    if p["manager"] == "process":
        want += [(p["run_dir"], 0o755), (p["log_dir"], 0o755)]
    return [(d, m) for d, m in want if not os.path.isdir(d)]


def running(module: AnsibleModule, p: dict, command: list[str], env: dict[str, str]) -> bool:
    if p["manager"] == "systemd":
        return module.run_command(["timeout", "-k", "5", COMMAND_TIMEOUT_S, "systemctl", "is-active", "--quiet",
                                   p["name"]])[0] == 0
    if not os.path.isdir(p["run_dir"]):
        return False
    status = svc.start_stop_daemon("status", p["name"], p["run_dir"], p["log_dir"], command, env)
    rc, _, err = module.run_command(["timeout", "-k", "5", COMMAND_TIMEOUT_S, *status])
    if rc not in (0, 1, 3, 4):
        module.fail_json(msg=f"start-stop-daemon --status for {p['name']} failed (rc {rc}): {err.strip()}")
    return rc == 0


def run_or_fail(module: AnsibleModule, cmd: list[str], what: str) -> None:
    rc, out, err = module.run_command(["timeout", "-k", "5", COMMAND_TIMEOUT_S, *cmd])
    if rc != 0:
        module.fail_json(msg=f"{what} failed (rc {rc}): {(err or out).strip()[-500:]}")


def apply(module: AnsibleModule, p: dict, files: list[svc.Desired], plan: svc.Plan, action: str,
          command: list[str], env: dict[str, str]) -> None:
    """Directories, changed files, then ``action`` (none | started | restarted) on the service."""
    for d, mode in missing_dirs(p):
        os.makedirs(d, mode=mode, exist_ok=True)
        os.chmod(d, mode)
    for f in files:
        if f.path in plan.changed:
            fileutil.write_atomic(f.path, f.content, f.mode)
    name = p["name"]
    if p["manager"] == "systemd":
        if plan.unit_changed:
            run_or_fail(module, ["systemctl", "daemon-reload"], "systemctl daemon-reload")
        run_or_fail(module, ["systemctl", "enable", name], f"systemctl enable {name}")
        if action != "none":
            verb = action[:-2]  # restart | start
            run_or_fail(module, ["systemctl", verb, name], f"systemctl {verb} {name}")
        return
    ssd = [p["name"], p["run_dir"], p["log_dir"], command, env]
    if action == "restarted":
        run_or_fail(module, svc.start_stop_daemon("stop", *ssd), f"stopping {name}")
    if action != "none":
        run_or_fail(module, svc.start_stop_daemon("start", *ssd), f"starting {name}")


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "service": {"type": "str", "required": True, "choices": sorted(svc.SERVICES)},
            "config_file": {"type": "path", "required": True},
            "config": {"type": "dict", "default": {}},
            "config_secrets": {"type": "dict", "default": {}, "no_log": True},
            "dirs": {"type": "list", "elements": "path", "default": []},
            "python": {"type": "str", "default": "/usr/bin/python3"},
            "lib": {"type": "path", "required": True},
            "deploy_code": {"type": "bool", "default": True},
            "manager": {"type": "str", "choices": ["systemd", "process"], "default": "systemd"},
            "user": {"type": "str", "default": "root"},
            "run_dir": {"type": "path", "default": "/run/stowpath-monitor"},
            "log_dir": {"type": "path", "default": "/var/log/stowpath-monitor"},
            "restart": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        command = svc.argv(p["python"], svc.module_name(p["service"]), p["config_file"])
        env = {"PYTHONPATH": p["lib"]}
        files = desired_files(p, command, env)
    except ValueError as exc:
        module.fail_json(msg=f"pacs_service {p['name']}: {exc}")
    plan = svc.plan(files, current)
    is_running = running(module, p, command, env)
    dirs = missing_dirs(p)
    action = ("restarted" if plan.restart or p["restart"] else "none") if is_running else "started"
    changed = bool(plan.changed or dirs or action != "none")
    result = {"changed": changed, "files_changed": plan.changed, "action": action, "argv": command}
    if module._diff and changed:
        old = fileutil.read_bytes(p["config_file"])
        secret_keys = sorted(p["config_secrets"])
        result["diff"] = [{"before_header": p["config_file"], "after_header": p["config_file"],
                           "before": svc.masked_config(old, secret_keys),
                           "after": svc.masked_config(files[0].content, secret_keys)},
                          {"before": "", "after": "".join(f"write {f}\n" for f in plan.changed)
                           + "".join(f"mkdir {d}\n" for d, _ in dirs) + f"service {p['name']}: {action}\n"}]
    if changed and not module.check_mode:
        apply(module, p, files, plan, action, command, env)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
