"""Fixtures for onboarding tests against the network lab (lab/lab.py, real strongSwan/FRR/nftables)."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAB = [sys.executable, str(REPO / "lab" / "lab.py")]
INVENTORY = REPO / "inventories" / "lab"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "lab_env"))

from labctl import _lab_serialized  # noqa: E402,F401 - lab modules one at a time


def lab(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*LAB, *args], capture_output=True, text=True, timeout=timeout)


def dev(device: str, *cmd: str) -> str:
    res = lab("exec", device, "--", *cmd)
    return res.stdout + (f"\n[rc={res.returncode}] {res.stderr}" if res.returncode else "")


# What a gateway holds: configuration files and runtime state stowpath could touch.
STATE_COMMANDS = [
    ("sh", "-c", "for f in /etc/swanctl/swanctl.conf /etc/swanctl/conf.d/* /etc/frr/frr.conf /etc/nftables.conf "
     "/etc/nftables.d/*; do [ -f \"$f\" ] && { echo \"== $f $(stat -c %a:%u:%g \"$f\")\"; cat \"$f\"; }; done; true"),
    ("swanctl", "--list-conns"),
    ("sh", "-c", "swanctl --list-sas | grep -E '^[a-z].*(ESTABLISHED|CONNECTING)' | sed 's/, [0-9]* seconds ago//; s/#[0-9]*//g' | sort"),
    ("vtysh", "-c", "show running-config"),
    ("nft", "list", "ruleset"),
    ("ip", "route", "show", "table", "all"),
]


def lab_defaults(device: str = "cgw") -> bool:
    """DEVICE back to the empty configuration the lab built when something else than stowpath's push holds
    it (the lab's hand-written reference configuration in ``/etc/swanctl/swanctl.conf``, which does not
    include ``conf.d``). Returns whether it had to; the caller onboards next."""
    from lab.stowlab import configs, reference

    if dev(device, "cat", "/etc/swanctl/swanctl.conf") == configs.empty_swanctl():
        return False
    reference.reset(device)
    return True


def device_state(device: str) -> dict[str, str]:
    """The gateway's configuration and runtime state (volatile counters removed)."""
    out = {}
    for cmd in STATE_COMMANDS:
        text = dev(device, *cmd)
        text = re.sub(r"packets \d+ bytes \d+", "packets N bytes N", text)
        text = re.sub(r"^(Building configuration|Current configuration).*$", "", text, flags=re.M)
        out[" ".join(cmd)[:60]] = text
    return out


def digest(state: dict[str, str]) -> str:
    return hashlib.sha256("\n".join(f"{k}\n{v}" for k, v in sorted(state.items())).encode()).hexdigest()


def playbook(name: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    cmd = [str(REPO / ".venv" / "bin" / "ansible-playbook"), str(REPO / "playbooks" / name), "-i", str(INVENTORY),
           *args]
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=timeout)


def recap(out: str) -> dict[str, dict[str, int]]:
    rows = re.findall(r"^(\S+)\s+:\s+(ok=.*)$", out.split("PLAY RECAP")[-1], re.M)
    return {host: {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", stats)} for host, stats in rows}


def lab_secrets() -> list[str]:
    """The PSKs and the DX key the lab wrote into its vendor files (must never be printed)."""
    files = INVENTORY / "files"
    found = re.findall(r"<pre_shared_key>([^<]+)</pre_shared_key>", (files / "aws-vpn.xml").read_text())
    found += re.findall(r'"authKey":\s*"([^"]+)"', (files / "aws-dx.json").read_text())
    return sorted(set(found))


@pytest.fixture(scope="module")
def fresh_lab():
    """Empty facility gateways: the lab is up (``lab.py up`` is idempotent; the lab is shared, so it is never
    taken down here) and cgw/cgwdx are reset to the configuration the lab built."""
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    res = lab("up")
    assert res.returncode == 0, res.stdout + res.stderr
    from lab.stowlab import reference

    lab("cloud-repair")
    for gateway in ("cgw", "cgwdx"):
        reference.reset(gateway)
    yield
    lab("cloud-repair")
