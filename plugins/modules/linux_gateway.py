#!/usr/bin/python
"""Push a rendered linux_strongswan configuration to the gateway, or roll it back."""

from __future__ import annotations

DOCUMENTATION = r"""
module: linux_gateway
short_description: Install, load and roll back stowpath's configuration on a Linux gateway
description:
  - Runs on a linux_strongswan gateway (strongSwan swanctl + FRR + nftables). With O(state=present) it
    compares the rendered artifacts with the device's files and runtime state, snapshots what it
    owns, writes the files (secrets mode 0600), and reloads only what changed
    (C(swanctl --load-all), C(frr-reload.py --reload), C(nft -f)), with no daemon restart.
  - Any failure while applying restores the snapshot before the module fails (nothing half-applied).
  - O(state=rolled_back) restores the snapshot O(backup_id) byte for byte and reloads.
  - Check mode reports exactly what would change (file diffs with secrets masked, FRR's pending
    lines, runtime drift) and changes nothing.
version_added: "0.1.0"
author: stowpath developers
options:
  state:
    description: V(present) to install and load, V(rolled_back) to restore O(backup_id).
    type: str
    choices: [present, rolled_back]
    default: present
  artifacts:
    description: Rendered artifacts by name (C(swanctl.conf), C(frr.conf), C(nftables.conf)); hold secrets.
    type: dict
  backup_id:
    description: The snapshot to restore with O(state=rolled_back) (returned by O(state=present)).
    type: str
  paths:
    description: Device paths stowpath owns (keys swanctl, frr, nft, nft_main); defaults documented above.
    type: dict
  state_dir:
    description: Where snapshots (last 10) and the runtime fingerprints are kept on the device.
    type: path
    default: /var/lib/stowpath
"""

EXAMPLES = r"""
- name: Install and load the configuration
  stowpath.core.linux_gateway:
    artifacts:
      swanctl.conf: "{{ lookup('ansible.builtin.file', build + '/swanctl.conf', rstrip=false) }}"
      frr.conf: "{{ lookup('ansible.builtin.file', build + '/frr.conf', rstrip=false) }}"
      nftables.conf: "{{ lookup('ansible.builtin.file', build + '/nftables.conf', rstrip=false) }}"
  register: push

- name: Roll back
  stowpath.core.linux_gateway:
    state: rolled_back
    backup_id: "{{ push.backup_id }}"
"""

RETURN = r"""
backup_id:
  description: The snapshot taken before applying (use it to roll back).
  returned: when something was applied
  type: str
reloaded:
  description: Subsystems reloaded (or, in check mode, that would be) - swanctl, frr, nft.
  returned: always
  type: list
  elements: str
files:
  description: Device files written, restored or (check mode) that would be.
  returned: always
  type: list
  elements: str
frr_changes:
  description: FRR running-config lines to delete (-) or add (+), secrets masked.
  returned: state=present
  type: list
  elements: str
initiated:
  description: IPsec children that had no installed SA and were (or in check mode would be) initiated.
  returned: state=present
  type: list
  elements: str
"""

import difflib

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stowpath.core.plugins.module_utils import linux_gateway as lg
from ansible_collections.stowpath.core.plugins.module_utils.redact import mask_secrets


def file_diff(path: str, before: bytes | None, after: bytes) -> dict:
    a = mask_secrets((before or b"").decode(errors="replace")).splitlines(keepends=True)
    b = mask_secrets(after.decode(errors="replace")).splitlines(keepends=True)
    return {"before_header": path, "after_header": path,
            "prepared": "".join(difflib.unified_diff(a, b, path, path)) or f"({path}: mode/owner only)\n"}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "state": {"type": "str", "choices": ["present", "rolled_back"], "default": "present"},
            "artifacts": {"type": "dict", "no_log": True},
            "backup_id": {"type": "str"},
            "paths": {"type": "dict"},
            "state_dir": {"type": "path", "default": "/var/lib/stowpath"},
        },
        required_if=[("state", "present", ["artifacts"]), ("state", "rolled_back", ["backup_id"])],
        supports_check_mode=True,
    )
    p = module.params
    paths = dict(lg.DEFAULT_PATHS, **(p["paths"] or {}))

    def run(cmd: list[str]) -> tuple[int, str, str]:
        return module.run_command(cmd)

    applying = False
    try:
        if p["state"] == "rolled_back":
            if module.check_mode:
                module.exit_json(changed=True, reloaded=["nft", "frr", "swanctl"], files=[])
            restored = lg.rollback(run, p["state_dir"], p["backup_id"], paths)
            module.exit_json(changed=True, reloaded=["nft", "frr", "swanctl"], files=restored)
        plan = lg.plan(run, p["artifacts"], paths, p["state_dir"])
        result = {
            # idle children (e.g. after an outage or a failed authentication, which charon does not retry)
            # are initiated: an unchanged configuration must still come up
            "changed": bool(plan.files or plan.reload or plan.idle),
            "initiated": plan.idle,
            "reloaded": plan.reload,
            "files": sorted(plan.files),
            "frr_changes": [mask_secrets(line) for line in plan.frr_changes],
        }
        if module._diff:
            result["diff"] = [file_diff(path, cur, new) for path, (cur, new) in sorted(plan.files.items())]
            if plan.frr_changes and not plan.files.get(paths["frr"]):
                result["diff"].append({"before_header": "FRR running-config", "after_header": "intended",
                                       "prepared": "\n".join(result["frr_changes"]) + "\n"})
        if result["changed"] and not module.check_mode:
            applying = True
            result["backup_id"] = lg.apply(run, plan, paths, p["state_dir"])
        module.exit_json(**result)
    except lg.GatewayError as exc:
        outcome = "the previous configuration was restored" if applying else "nothing was changed"
        module.fail_json(msg=f"{mask_secrets(str(exc))} ({outcome})", step=exc.step)


if __name__ == "__main__":
    main()
