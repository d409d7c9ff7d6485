"""execution-environment.yml produces a build context that would build the EE AWX runs stowpath in.

No container engine is needed: ``ansible-builder create`` writes the context (what ``make ee`` does, here
in a temporary directory), and the stages that matter are replayed locally: the Galaxy stage's
``ansible-galaxy collection install`` of stowpath.core from the file in the context (offline), and the
builder stage's introspection that merges the Python and system requirements.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
COLLECTION = REPO / "collections" / "ansible_collections" / "stowpath" / "core"
EE_FILE = REPO / "execution-environment.yml"


def run(cmd: list[str], cwd: Path) -> str:
    """Run outside the checkout's Ansible configuration (its collections path already has stowpath.core)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep, f"not pinned exactly: {line}"
            out[norm(name)] = version
    return out


LOCK = pins((REPO / "requirements.lock").read_text().splitlines())


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``make ee`` in a scratch copy: the files execution-environment.yml names, the collection tarball."""
    tmp = tmp_path_factory.mktemp("ee")
    spec = yaml.safe_load(EE_FILE.read_text())
    shutil.copy2(EE_FILE, tmp / EE_FILE.name)
    shutil.copy2(REPO / spec["dependencies"]["system"], tmp / spec["dependencies"]["system"])
    staged = tmp / "src" / "core"
    shutil.copytree(COLLECTION, staged, symlinks=False)  # the links resolved, as `make ee` does (cp -rL)
    run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp / "dist"), str(staged)], tmp)
    for item in spec["additional_build_files"]:
        dest = tmp / item["src"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        if item["src"].endswith(".tar.gz"):
            (tarball,) = (tmp / "dist").glob("stowpath-core-*.tar.gz")
            shutil.copy2(tarball, dest)
        else:
            shutil.copy2(REPO / item["src"], dest)
    run([str(BIN / "ansible-builder"), "create", "--file", str(tmp / EE_FILE.name), "--context", str(tmp / "context"),
         "--output-filename", "Containerfile"], tmp)
    return tmp / "context"


def test_the_makefile_target_builds_the_same_context() -> None:
    make = (REPO / "Makefile").read_text()
    target = make.split("\nee:", 1)[1].split("\n\n", 1)[0]
    assert "cp -rL collections/ansible_collections/stowpath/core" in target
    assert "ansible-galaxy collection build" in target and "build/ee/stowpath-core.tar.gz" in target
    assert "ansible-builder create --file execution-environment.yml --context build/ee/context" in target


def test_containerfile_uses_python_311_and_the_locked_ansible(context: Path) -> None:
    text = (context / "Containerfile").read_text()
    assert 'ARG PYCMD="/usr/bin/python3.11"' in text
    refs = re.search(r'ARG ANSIBLE_INSTALL_REFS="([^"]+)"', text).group(1).split()
    assert pins(refs) == {"ansible-core": LOCK["ansible-core"], "ansible-runner": LOCK["ansible-runner"]}
    assert 'ARG ANSIBLE_GALAXY_CLI_COLLECTION_OPTS="--offline"' in text
    builder = text.split("FROM base AS builder", 1)[1].split("FROM base AS final", 1)[0]
    # the lock constrains every transitive package, before the wheels are assembled
    assert builder.index("/tmp/src/upper-constraints.txt") < builder.index("/output/scripts/assemble")
    assert "LABEL ansible-execution-environment=true" in text


def test_python_requirements_are_the_locked_versions(context: Path) -> None:
    wanted = pins((context / "_build" / "requirements.txt").read_text().splitlines())
    assert {"ansible", "netmiko", "napalm", "ncclient", "hier-config", "pydicom", "cryptography", "defusedxml"} <= set(wanted)
    assert {name: LOCK.get(name) for name in wanted} == wanted
    assert (context / "_build" / "constraints" / "requirements.lock").read_text() == (
        REPO / "requirements.lock").read_text()


def test_system_requirements_are_bindep(context: Path) -> None:
    bindep = (context / "_build" / "bindep.txt").read_text()
    assert bindep == (REPO / "bindep.txt").read_text()
    assert "openssh-clients [platform:rpm]" in bindep
    for line in bindep.splitlines():
        if line and not line.startswith("#"):
            assert re.fullmatch(r"[a-z0-9.+-]+ \[[a-z0-9: ]+\]", line), line


def test_the_collection_tarball_in_the_context_installs_offline(context: Path, tmp_path: Path) -> None:
    build = context / "_build"
    galaxy = yaml.safe_load((build / "requirements.yml").read_text())
    assert galaxy == {"collections": [{"name": "collections/stowpath-core.tar.gz", "type": "file"}]}
    with tarfile.open(build / "collections" / "stowpath-core.tar.gz") as tar:
        members = tar.getmembers()
    names = {m.name for m in members}
    assert not [m.name for m in members if m.issym() or m.islnk()]
    assert {"MANIFEST.json", "plugins/modules/site_render.py", "roles/drift_check/tasks/main.yml",
            "templates/linux_strongswan/swanctl.conf.j2"} <= names
    # the Galaxy stage, from /build, as the Containerfile runs it
    colls = tmp_path / "collections"
    run([str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "-r", "requirements.yml",
         "--collections-path", str(colls)], build)
    root = colls / "ansible_collections" / "stowpath" / "core"
    assert (root / "roles" / "site_render" / "tasks" / "main.yml").is_file()
    # the builder stage: the collection's requirements merged with the EE's own
    out = tmp_path / "requirements.txt"
    run([sys.executable, str(build / "scripts" / "introspect.py"), "introspect", "--user-pip",
         str(build / "requirements.txt"), "--user-bindep", str(build / "bindep.txt"), "--write-pip", str(out),
         "--write-bindep", str(tmp_path / "bindep.txt"), str(colls)], tmp_path)
    merged = out.read_text()
    assert "netmiko==4.8.0" in merged and "# from collection user" in merged
