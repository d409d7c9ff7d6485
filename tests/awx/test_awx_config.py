"""awx/configure.yml and awx/vars/stowpath.yml: AWX configuration as code that refers to real things.

There is no AWX server here: the playbook is syntax-checked (and linted by `make lint`), and its data is
checked against the project: the job templates' playbooks exist (diagnose-site.yml may still be missing,
configure.yml skips it), the variables the credential types inject and the job templates pass are ones
stowpath's playbooks and roles read, and the schedules point at job templates.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
AWX = REPO / "awx"
NOT_YET = {"playbooks/diagnose-site.yml"}


class Loader(yaml.SafeLoader):
    """YAML as Ansible reads it, with ``!unsafe`` strings kept as they are."""


Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))
DATA = yaml.load((AWX / "vars" / "stowpath.yml").read_text(), Loader=Loader)  # noqa: S506


def read_by_stowpath(var: str) -> bool:
    """The variable is read somewhere in the playbooks or roles (a role default or a template reference)."""
    pattern = re.compile(rf"(^|[^\w]){re.escape(var)}([^\w]|$)", re.M)
    return any(pattern.search(p.read_text()) for d in ("playbooks", "roles") for p in (REPO / d).rglob("*.yml"))


def test_configure_playbook_passes_the_syntax_check() -> None:
    proc = subprocess.run([str(BIN / "ansible-playbook"), "--syntax-check", str(AWX / "configure.yml"), "-i",
                           "localhost,"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_job_templates_cover_the_operations_and_their_playbooks_exist() -> None:
    templates = {t["name"]: t for t in DATA["stowpath_awx_job_templates"]}
    playbooks = {t["playbook"] for t in templates.values()}
    assert {"playbooks/onboard-site.yml", "playbooks/verify-site.yml", "playbooks/drift-check.yml",
            "playbooks/diagnose-site.yml"} <= playbooks
    missing = {p for p in playbooks if not (REPO / p).is_file()}
    assert missing <= NOT_YET, missing
    assert templates["stowpath drift remediation"]["extra_vars"] == {"remediate": True}
    assert templates["stowpath onboard"]["ask_job_type_on_launch"]  # job type "check" = --check
    # one facility = one inventory host: every template that runs on gateways takes a limit (the merge of the
    # sliced drift check's reports runs on the controller only)
    assert all(t["ask_limit_on_launch"] for t in templates.values() if t["name"] != "stowpath merge fleet reports")


def test_the_fleet_drift_check_is_sliced() -> None:
    (drift,) = [t for t in DATA["stowpath_awx_job_templates"] if t["name"] == "stowpath drift check"]
    assert drift["job_slice_count"] == "{{ stowpath_awx_drift_slices }}"
    assert int(DATA["stowpath_awx_drift_slices"]) > 1


def test_schedules_drift_nightly_verify_hourly() -> None:
    names = {t["name"] for t in DATA["stowpath_awx_job_templates"] + DATA["stowpath_awx_workflows"]}
    rules = {s["job_template"]: s["rrule"] for s in DATA["stowpath_awx_schedules"]}
    assert set(rules) <= names
    assert "FREQ=DAILY" in rules["stowpath fleet drift check"]  # the sliced drift check, then the merge
    assert "FREQ=HOURLY" in rules["stowpath verify"]
    for rule in rules.values():
        assert re.fullmatch(r"DTSTART;TZID=UTC:\d{8}T\d{6}Z? RRULE:FREQ=(DAILY|HOURLY);INTERVAL=1", rule), rule


def test_failures_notify_and_every_job_template_gets_the_credentials() -> None:
    play = yaml.safe_load((AWX / "configure.yml").read_text())[0]
    (jt,) = [t for t in play["tasks"] if "awx.awx.job_template" in t]
    args = jt["awx.awx.job_template"]
    assert args["notification_templates_error"] == "{{ stowpath_awx_notification_names }}"
    assert "stowpath_awx_credentials" in args["credentials"]
    assert DATA["stowpath_awx_notifications"]


def test_at_most_one_credential_per_type_and_vault_id() -> None:
    """AWX attaches one credential per type to a job (Vault: one per vault id)."""
    keys = [(c["credential_type"], c.get("vault_id")) for c in DATA["stowpath_awx_credentials"]]
    assert len(keys) == len(set(keys))
    custom = {t["name"] for t in DATA["stowpath_awx_credential_types"]}
    assert custom <= {c["credential_type"] for c in DATA["stowpath_awx_credentials"]}


def test_credential_types_inject_variables_stowpath_reads() -> None:
    for ctype in DATA["stowpath_awx_credential_types"]:
        fields = {f["id"] for f in ctype["inputs"]["fields"]}
        assert set(ctype["inputs"]["required"]) <= fields
        files = {key.split(".", 1)[1] for key in ctype["injectors"].get("file", {})}
        assert files <= fields
        for var, template in ctype["injectors"]["extra_vars"].items():
            assert read_by_stowpath(var), f"{ctype['name']}: nothing reads {var}"
            used = set(re.findall(r"\{\{\s*([\w.]+)\s*\}\}", template))
            for ref in used:
                assert ref in fields or (ref.startswith("tower.filename.") and ref.split(".")[2] in files), ref


def test_job_template_variables_are_read_by_stowpath() -> None:
    for var in [*DATA["stowpath_awx_job_vars"], *DATA["stowpath_awx_data_vars"]]:
        assert var == "inventory_dir" or read_by_stowpath(var), var
    for template in DATA["stowpath_awx_job_templates"]:
        for var in template.get("extra_vars") or {}:
            assert read_by_stowpath(var), f"{template['name']}: nothing reads {var}"
    assert DATA["stowpath_awx_inventory_dir"].endswith("/{{ stowpath_awx_inventory_source_path }}")
