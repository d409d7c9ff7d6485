"""The collection stowpath.core works on its own: built, installed elsewhere, it renders a site.

``ansible-galaxy collection build`` skips symbolic links to directories outside the collection, and
plugins/, roles/ and templates/ are such links in the checkout: the build runs on a copy with the links
resolved (as README "Layout" says). The installed collection then renders the example inventory from a
directory outside the checkout, with only the installed collection and the ``ansible`` package's
bundled collections on the collections path, exactly as the checkout renders it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COLLECTION = REPO / "collections" / "ansible_collections" / "stowpath" / "core"
BIN = Path(sys.executable).parent
SITE_PACKAGES = next(p for p in map(Path, sys.path) if (p / "ansible_collections" / "ansible" / "utils").is_dir())
HOSTS = {"riverside-cgw", "harbor-isr", "hillside-srx", "valley-dx", "lakeside-static"}


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env, timeout=300)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    return {**env, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0", **extra}


def tree(root: Path, inventory: Path) -> dict[str, bytes]:
    """Every rendered file; the inventory's own path (site.json's params_file) made neutral."""
    return {str(p.relative_to(root)): p.read_bytes().replace(str(inventory).encode(), b"INVENTORY")
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("collection")
    staged = tmp / "src" / "core"
    shutil.copytree(COLLECTION, staged, symlinks=False)  # the links resolved
    dist = tmp / "dist"
    run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(dist), str(staged)], tmp, clean_env())
    (tarball,) = dist.glob("stowpath-core-*.tar.gz")
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "/molecule/" in n], names
    colls = tmp / "collections"
    run([str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "-p", str(colls), str(tarball)], tmp,
        clean_env())
    return colls


def test_the_tarball_carries_plugins_roles_templates_and_playbooks(installed: Path) -> None:
    root = installed / "ansible_collections" / "stowpath" / "core"
    for rel in ("plugins/modules/site_render.py", "plugins/module_utils/render.py", "roles/site_render/tasks/main.yml",
                "templates/linux_strongswan/swanctl.conf.j2", "playbooks/render_site.yml", "playbooks/render-site.yml",
                "playbooks/select-gateways.yml", "meta/runtime.yml"):
        assert (root / rel).is_file(), rel
    assert not any(p.is_symlink() for p in root.rglob("*"))


def test_the_installed_collection_renders_like_the_checkout(installed: Path, tmp_path: Path) -> None:
    inventory = tmp_path / "inventory"
    shutil.copytree(REPO / "inventories" / "example", inventory)
    outside, reference = tmp_path / "build", tmp_path / "reference"
    env = clean_env(ANSIBLE_COLLECTIONS_PATH=f"{installed}{os.pathsep}{SITE_PACKAGES}")
    # run outside the checkout: no ansible.cfg, no ./collections; only the installed stowpath.core is found
    run([str(BIN / "ansible-playbook"), "stowpath.core.render_site", "-i", str(inventory / "hosts.yml"),
         "-e", f"stowpath_build_dir={outside}"], tmp_path, env)
    run([str(BIN / "ansible-playbook"), str(REPO / "playbooks" / "render-site.yml"), "-i",
         str(REPO / "inventories" / "example"), "-e", f"stowpath_build_dir={reference}"], REPO,
        clean_env(ANSIBLE_CONFIG=str(REPO / "ansible.cfg")))
    assert {p.name for p in outside.iterdir()} == HOSTS
    assert sorted(os.listdir(outside / "riverside-cgw")) == ["frr.conf", "nftables.conf", "site.json", "swanctl.conf"]
    assert tree(outside, inventory) == tree(reference, REPO / "inventories" / "example")
