"""The PACS host's small services (module pacs_service): code closure, config bytes, plan, and one real run
through Ansible (PID-file manager in a temporary tree: deploy, idempotent rerun, check mode + masked diff,
restart on a config change)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from ansible_collections.stowpath.core.plugins.module_utils.pacs import service as svc

REPO = Path(__file__).resolve().parents[2]
MU = REPO / "plugins" / "module_utils"
SECRET = "fake-api-password-3f9a"


def read_repo(dotted: str) -> tuple[bytes, bool] | None:
    rel = dotted.removeprefix(svc.PACKAGE).lstrip(".").replace(".", "/")
    pkg, mod = MU / rel / "__init__.py", MU / f"{rel}.py"
    if pkg.is_file():
        return pkg.read_bytes(), True
    return (mod.read_bytes(), False) if mod.is_file() and rel else None


def test_code_closure_follows_relative_and_absolute_imports() -> None:
    files = svc.code_closure(svc.module_name("autoroute"), read_repo)
    base = "ansible_collections/stowpath/core/plugins/module_utils/"
    for rel in ("pacs/autoroute.py", "pacs/orthanc.py", "pacs/orthanc_config.py", "pacs/base.py",
                "dicomweb/target.py", "pacs/__init__.py", "__init__.py"):
        assert base + rel in files, rel
    assert base + "pacs/send.py" not in files  # not imported by the router
    assert files[base + "pacs/autoroute.py"] == (MU / "pacs" / "autoroute.py").read_bytes()


def test_unknown_service_is_named() -> None:
    with pytest.raises(ValueError, match="unknown service 'nope'.*SERVICES"):
        svc.module_name("nope")


def test_config_bytes_match_to_nice_json_and_refuse_overlap() -> None:
    cfg = {"api_url": "http://127.0.0.1:8042", "backoff_base_s": 5.0, "max_parallel": 2}
    out = svc.config_bytes(cfg, {"api_password": SECRET})
    assert out == json.dumps({**cfg, "api_password": SECRET}, indent=4, sort_keys=True, separators=(",", ": ")).encode()
    with pytest.raises(ValueError, match="api_url"):
        svc.config_bytes(cfg, {"api_url": "x"})


def test_masked_config_hides_secret_values() -> None:
    text = svc.masked_config(svc.config_bytes({"a": 1}, {"api_password": SECRET}), ["api_password"])
    assert SECRET not in text and svc.MASK in text
    assert svc.masked_config(b"garbage", []) == "(not JSON: content not shown)\n"


def test_plan_restarts_on_content_or_mode_change_only() -> None:
    want = [svc.Desired("/c.json", b"x", 0o600), svc.Desired("/u.service", b"u", 0o644)]
    same = {"/c.json": (b"x", 0o600), "/u.service": (b"u", 0o644)}
    assert svc.plan(want, same.__getitem__) == svc.Plan()
    p = svc.plan(want, {**same, "/c.json": (b"x", 0o644)}.__getitem__)
    assert p.changed == ["/c.json"] and p.restart and not p.unit_changed
    p = svc.plan(want, {**same, "/u.service": (None, None)}.__getitem__)
    assert p.unit_changed and p.restart


def test_unit_and_daemon_command_lines() -> None:
    cmd = svc.argv("/usr/bin/python3", svc.module_name("autoroute"), "/etc/x/a b.json")
    unit = svc.unit_text("stowpath-autoroute", cmd, {"PYTHONPATH": "/opt/lib"}, "root").decode()
    assert "ExecStart=/usr/bin/python3 -m ansible_collections.stowpath.core.plugins.module_utils.pacs.autoroute " \
           "--config '/etc/x/a b.json'" in unit
    assert "Environment=PYTHONPATH=/opt/lib" in unit and "Restart=always" in unit
    start = svc.start_stop_daemon("start", "n", "/run/x", "/log", cmd, {"PYTHONPATH": "/opt/lib"})
    assert start[-len(cmd) - 1:] == ["PYTHONPATH=/opt/lib", *cmd] and "--make-pidfile" in start


PLAY = """
- hosts: localhost
  gather_facts: false
  vars:
    ansible_connection: local
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - stowpath.core.pacs_service:
        name: stowpath-test-svc
        service: autoroute
        config_file: "%(root)s/etc/autoroute.json"
        config: {api_url: "http://127.0.0.1:9", api_username: "", destination: d,
                 state_file: "%(root)s/state/state.json", backoff_base_s: 1.0, backoff_max_s: 2.0,
                 max_parallel: 1, poll_s: %(poll)s}
        config_secrets: {api_password: "%(secret)s"}
        dirs: ["%(root)s/state"]
        python: "%(python)s"
        lib: "%(root)s/lib"
        manager: process
        run_dir: "%(root)s/run"
        log_dir: "%(root)s/log"
      register: r
    - ansible.builtin.copy:
        dest: "%(root)s/result.json"
        content: "{{ r | to_json }}"
      check_mode: false
      diff: false
"""


@pytest.fixture
def svc_root(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    pid = tmp_path / "run" / "stowpath-test-svc.pid"
    if pid.exists():
        subprocess.run(["start-stop-daemon", "--stop", "--oknodo", "--retry", "TERM/5/KILL/2", "--pidfile", str(pid)],
                       check=False)


def run_play(root: Path, poll: float, *flags: str) -> tuple[dict, str]:
    play = root / "play.yml"
    play.write_text(textwrap.dedent(PLAY % {"root": root, "poll": poll, "secret": SECRET, "python": sys.executable}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    p = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(play), *flags],
                       capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    return json.loads((root / "result.json").read_text()), p.stdout


def test_pacs_service_deploys_runs_and_is_idempotent(svc_root: Path) -> None:
    r, out = run_play(svc_root, 1.0, "--check", "--diff")
    assert r["changed"] and r["action"] == "started" and not (svc_root / "etc").exists()
    assert SECRET not in out and svc.MASK in out
    r, _ = run_play(svc_root, 1.0)
    assert r["changed"] and r["action"] == "started"
    cfg = svc_root / "etc" / "autoroute.json"
    assert oct(cfg.stat().st_mode & 0o777) == "0o600" and json.loads(cfg.read_text())["api_password"] == SECRET
    lib = svc_root / "lib" / "ansible_collections/stowpath/core/plugins/module_utils/pacs/autoroute.py"
    assert lib.read_bytes() == (MU / "pacs" / "autoroute.py").read_bytes()
    assert (svc_root / "run" / "stowpath-test-svc.pid").exists()
    r, _ = run_play(svc_root, 1.0)
    assert not r["changed"] and r["action"] == "none" and r["files_changed"] == []
    r, _ = run_play(svc_root, 2.0)
    assert r["changed"] and r["action"] == "restarted" and r["files_changed"] == [str(cfg)]
