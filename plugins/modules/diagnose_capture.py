#!/usr/bin/python
"""A bounded packet capture (tcpdump) on the gateway's WAN and tunnel/VIF interfaces."""

from __future__ import annotations

DOCUMENTATION = r"""
module: diagnose_capture
short_description: Bounded tcpdump capture of IKE/ESP/HTTPS on the gateway's WAN and tunnel/VIF interfaces
description:
  - Runs on a Linux gateway. Starts one C(tcpdump) per interface with a filter for IKE (UDP 500/4500),
    ESP and TCP 443, stopping after O(count) packets or O(seconds), whichever comes first, and writes
    C(<dir>/<interface>.pcap) (mode 0600). Changes no configuration.
  - Run it with C(async) so the capture covers the diagnose probes.
version_added: "0.2.0"
author: stowpath developers
options:
  interfaces: {description: Interfaces to capture on (default - the site's WAN and tunnel/VIF interfaces)., type: list, elements: str}
  site: {description: The masked site model (for the default interfaces)., type: dict}
  dir: {description: Directory for the capture files on the gateway., type: path, default: /var/tmp/stowpath-diagnose}
  count: {description: Packets per interface at most., type: int, default: 500}
  seconds: {description: Seconds at most., type: int, default: 20}
  filter: {description: tcpdump filter., type: str, default: "udp port 500 or udp port 4500 or esp or tcp port 443"}
"""

EXAMPLES = r"""
- name: Capture while the probes run
  stowpath.core.diagnose_capture:
    site: "{{ stowpath_model.site }}"
  async: 40
  poll: 0
  register: diagnose_capture_job
"""

RETURN = r"""
files: {description: The capture files written on the gateway., returned: always, type: list, elements: str}
errors: {description: Interfaces that could not be captured and why., returned: always, type: list, elements: str}
"""

import os
import re
import shutil
import subprocess

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stowpath.core.plugins.module_utils.verify.model import link_interfaces

IFNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,15}$")


def main() -> None:
    module = AnsibleModule(argument_spec={
        "interfaces": {"type": "list", "elements": "str"}, "site": {"type": "dict"},
        "dir": {"type": "path", "default": "/var/tmp/stowpath-diagnose"},
        "count": {"type": "int", "default": 500}, "seconds": {"type": "int", "default": 20},
        "filter": {"type": "str", "default": "udp port 500 or udp port 4500 or esp or tcp port 443"}},
        supports_check_mode=True)
    p = module.params
    interfaces = p["interfaces"]
    if not interfaces:
        site = p["site"] or {}
        interfaces = [i for i in [(site.get("wan") or {}).get("interface"), *link_interfaces(site)] if i]
    tcpdump = shutil.which("tcpdump") or "/usr/bin/tcpdump"
    os.makedirs(p["dir"], mode=0o700, exist_ok=True)
    procs, files, errors = [], [], []
    for ifname in dict.fromkeys(interfaces):
        if not IFNAME.match(ifname):
            errors.append(f"{ifname}: not an interface name")
            continue
        path = os.path.join(p["dir"], f"{ifname}.pcap")
        cmd = ["timeout", str(p["seconds"]), tcpdump, "-n", "-i", ifname, "-c", str(p["count"]), "-s", "256",
               "-U", "-w", path, *p["filter"].split()]
        procs.append((ifname, path, subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)))
    for ifname, path, proc in procs:
        _, err = proc.communicate(timeout=p["seconds"] + 10)
        if os.path.exists(path):
            os.chmod(path, 0o600)
            files.append(path)
        else:
            errors.append(f"{ifname}: {err.decode(errors='replace').strip()[-200:]}")
    module.exit_json(changed=False, files=files, errors=errors)


if __name__ == "__main__":
    main()
