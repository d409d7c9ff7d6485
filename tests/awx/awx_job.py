"""Run stowpath's playbooks the way AWX / Ansible Automation Platform runs a job.

AWX prepares a private data directory for every job and hands it to ansible-runner:

* ``project/``: the project checkout (here: a copy of the playbooks, roles, plugins, templates, collection
  and inventories, so reports and backups land in the copy and never in the shared checkout);
* ``inventory/hosts``: the inventory AWX imported from the project's inventory source, written back as a
  script that prints JSON; the magic ``inventory_dir`` is gone, so the job template's extra variables set it
  to the inventory's directory in the project (see awx/README.md);
* ``env/extravars``, ``env/envvars``, ``env/settings``: the job template's variables, environment, timeouts.

Nobody sits at a terminal: a prompt (vault password, SSH passphrase) would hang, and the idle timeout of
``env/settings`` turns that into a ``timeout`` status instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ansible_runner
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PROJECT_PARTS = ("ansible.cfg", "playbooks", "roles", "plugins", "templates", "collections", "inventories")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "molecule", "files")
LAB_PARAMS = Path(os.environ.get("STOWPATH_LAB_STATE", "/run/stowpath-lab")) / "params.json"


@dataclass
class Job:
    """What AWX keeps of a job: status, rc, the event stream and the project's output directories."""

    status: str
    rc: int
    ident: str
    pdd: Path
    events: list[dict[str, Any]]
    stdout: str

    @property
    def project(self) -> Path:
        return self.pdd / "project"

    @property
    def artifacts(self) -> Path:
        return self.pdd / "artifacts" / self.ident

    def recap(self) -> dict[str, Any]:
        (stats,) = [e for e in self.events if e.get("event") == "playbook_on_stats"]
        return stats["event_data"]


def make_project(pdd: Path, inventory: str) -> Path:
    """``pdd/project``: the project as AWX checks it out (a copy; links inside the collection kept relative)."""
    project = pdd / "project"
    project.mkdir(parents=True)
    for part in PROJECT_PARTS:
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, project / part, symlinks=True, ignore=IGNORE)
        else:
            shutil.copy2(src, project / part)
    # the lab's PACS host runs its modules with the project's virtualenv (inventories/lab/host_vars/pacs.yml)
    (project / ".venv").symlink_to(REPO / ".venv")
    if inventory == "inventories/lab":
        write_lab_vendor_files(project / inventory / "files")
    return project


def write_lab_vendor_files(dest: Path) -> None:
    """The vendor files of the lab that is up now, from its parameters (whichever checkout started it)."""
    sys.path.insert(0, str(REPO / "lab"))
    from stowlab.vendor_files import aws_dx_json, aws_vpn_xml

    params = json.loads(LAB_PARAMS.read_text())
    dest.mkdir(mode=0o700, exist_ok=True)
    for name, text in (("aws-vpn.xml", aws_vpn_xml(params["vpn"])), ("aws-dx.json", aws_dx_json(params["dx"]))):
        (dest / name).write_text(text)
        (dest / name).chmod(0o600)


def awx_inventory(pdd: Path, project: Path, inventory: str) -> Path:
    """``pdd/inventory/hosts``: the project's inventory source imported (``ansible-inventory --list``) and
    written back as a script, as AWX does for every job."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(project / "ansible.cfg"))
    out = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(project / inventory), "--list"], cwd=project,
                         env=env, capture_output=True, text=True, check=True, timeout=60).stdout
    data = json.loads(out)
    hosts = pdd / "inventory" / "hosts"
    hosts.parent.mkdir()
    hosts.write_text(f"#!{sys.executable}\nimport sys\nsys.stdout.write({json.dumps(json.dumps(data))})\n")
    hosts.chmod(0o700)
    return hosts


def run_job(tmp_path: Path, playbook: str, inventory: str, *, limit: str | None = None, check: bool = False,
            extravars: dict[str, Any] | None = None, timeout: int = 120) -> Job:
    """One AWX job: private data directory, ansible_runner.run, the artifacts it leaves."""
    pdd = tmp_path / "pdd"
    project = make_project(pdd, inventory)
    awx_inventory(pdd, project, inventory)
    env = pdd / "env"
    env.mkdir()
    # the job template's variables (awx/vars/stowpath.yml: stowpath_job_template_extra_vars)
    job_vars = {"inventory_dir": str(project / inventory), **(extravars or {})}
    (env / "extravars").write_text(yaml.safe_dump(job_vars))
    (env / "envvars").write_text(yaml.safe_dump({
        "ANSIBLE_CONFIG": str(project / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}))
    (env / "settings").write_text(yaml.safe_dump({"job_timeout": timeout, "idle_timeout": 120,
                                                  "suppress_ansible_output": True}))
    cmdline = "--check --diff" if check else None
    result = ansible_runner.run(private_data_dir=str(pdd), playbook=f"playbooks/{playbook}", limit=limit,
                                cmdline=cmdline, ident="job", quiet=True,
                                envvars={"ANSIBLE_CONFIG": str(project / "ansible.cfg")})
    events = list(result.events)
    stdout = result.stdout.read()
    return Job(status=result.status, rc=result.rc, ident="job", pdd=pdd, events=events, stdout=stdout)
