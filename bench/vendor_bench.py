#!/usr/bin/env python3
"""Push times per vendor transport: the onboarding change (push + confirm) and a no-change run.

Targets (started here on free loopback ports, stopped by PID at the end):
  netmiko  -> lab/vendor/iosxe_sim.py (IOS-XE CLI SIMULATOR over real SSH)
  netconf  -> lab/vendor/netconf_iosxe.py (netconfd + Cisco IOS-XE native YANG, real OpenSSH; needs root)
  napalm   -> NAPALM's mock driver with recorded answers (measures stowpath's overhead only)
With --ansible, also one ansible-playbook run (push + confirm = 2 tasks per router) per transport.

    .venv/bin/python bench/vendor_bench.py [--repeat 3] [--ansible]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "collections"))

import yaml  # noqa: E402
from ansible_collections.stowpath.core.plugins.module_utils.render import render_site  # noqa: E402
from ansible_collections.stowpath.core.plugins.module_utils.site import load_site  # noqa: E402
from ansible_collections.stowpath.core.plugins.module_utils.transports import push as P  # noqa: E402
from ansible_collections.stowpath.core.plugins.module_utils.transports.base import ConnParams  # noqa: E402

EXAMPLE = REPO / "inventories" / "example"
# recorded answers for NAPALM's mock driver (the same the vendor tests replay)
NAPALM_ANSWERS = REPO / "tests" / "vendor" / "fixtures" / "napalm" / "junos_ok"
# the simulators' lab accounts (lab/vendor/iosxe_sim.py, lab/vendor/netconf_iosxe.py defaults; loopback only)
CLI_USER, CLI_PASSWORD, CLI_ENABLE = "stowpath", "stowpath-lab-cli", "stowpath-lab-enable"
NC_USER, NC_PASSWORD = "stowpath-nc", "stowpath-lab-nc"


def lab(script: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, str(REPO / "lab" / "vendor" / script), *args], capture_output=True,
                         text=True, timeout=120)
    return json.loads(out.stdout) if out.stdout.strip().startswith("{") else {}


def run_once(transport: str, platform: str, conn: ConnParams, artifact: str, state: str) -> dict[str, float]:
    kw = {"state_dir": state, "owner": "bench"}
    t0 = time.monotonic()
    r = P.push(platform, transport, conn, artifact, **kw)
    t1 = time.monotonic()
    P.finish("confirm", platform, transport, conn, r["token"], **kw)
    t2 = time.monotonic()
    n = P.push(platform, transport, conn, artifact, **kw)
    t3 = time.monotonic()
    assert r["changed"] and not n["changed"], (transport, r["changed"], n["commands"][:5])
    return {"push": t1 - t0, "confirm": t2 - t1, "push+confirm": t2 - t0, "no-change": t3 - t2,
            "lines": float(len(r["commands"]))}


def example_site(host: str) -> dict:
    """A gateway of the example inventory as the site model (harbor-isr: IOS-XE, hillside-srx: Junos)."""
    gateways = yaml.safe_load((EXAMPLE / "hosts.yml").read_text())["all"]["children"]["gateways"]
    return load_site({**gateways["vars"], **gateways["hosts"][host]}, host, str(EXAMPLE))


def render(site: dict, dest: Path) -> dict[str, Path]:
    """Render ``site`` with the project's templates into ``dest`` (files 0600); {artifact name: path}."""
    dest.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, text in render_site(site, str(REPO / "templates")).items():
        path = dest / name
        path.write_text(text)
        os.chmod(path, 0o600)
        out[name] = path
    return out


def push_play(owner: str) -> str:
    """A playbook of two tasks, as onboarding runs them per router: push (commit-confirmed), then confirm."""
    conn = {"platform": "cisco_iosxe", "transport": "netmiko", "host": "127.0.0.1", "port": "{{ sim_port | int }}",
            "username": "{{ user }}", "password": "{{ password }}", "enable_secret": "{{ enable }}",
            "owner": owner, "state_dir": "{{ state }}"}
    tasks = [{"name": "Push (commit-confirmed)", "register": "push",
              "stowpath.core.gateway_push": {**conn, "artifact_dir": "{{ artifacts }}", "command_timeout": 5}},
             {"name": "Confirm", "when": "push.token is truthy",
              "stowpath.core.gateway_push": {**conn, "action": "confirm", "token": "{{ push.token }}"}}]
    return yaml.safe_dump([{"name": "Push to the simulated IOS-XE router", "hosts": "localhost", "gather_facts": False,
                            "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
                            "tasks": tasks}], sort_keys=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ansible", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="stowpath-vbench-"))
    ios_site = example_site("harbor-isr")
    ios = render(ios_site, tmp / "ios")
    jun = render(example_site("hillside-srx"), tmp / "junos")
    results: dict[str, list[dict[str, float]]] = {}
    started: list[tuple[str, Path]] = []
    try:
        for i in range(args.repeat):
            sim_dir = tmp / f"sim{i}"
            sim = lab("iosxe_sim.py", "start", "--port", "0", "--state-dir", str(sim_dir), "--fresh",
                      "--password", CLI_PASSWORD, "--enable-secret", CLI_ENABLE)
            started.append(("iosxe_sim.py", sim_dir))
            conn = ConnParams("127.0.0.1", sim["port"], CLI_USER, CLI_PASSWORD, enable_secret=CLI_ENABLE)
            results.setdefault("netmiko (CLI sim)", []).append(
                run_once("netmiko", "cisco_iosxe", conn, str(ios["config.cfg"]), str(tmp / f"st-cli{i}")))
            if os.geteuid() == 0:
                nc_dir = tmp / f"nc{i}"
                nc = lab("netconf_iosxe.py", "start", "--port", "0", "--state-dir", str(nc_dir))
                started.append(("netconf_iosxe.py", nc_dir))
                conn = ConnParams("127.0.0.1", nc["port"], NC_USER, NC_PASSWORD)
                results.setdefault("netconf (netconfd)", []).append(
                    run_once("netconf", "cisco_iosxe", conn, str(ios["netconf.xml"]), str(tmp / f"st-nc{i}")))
            mock = ConnParams("mock", 830, "bench", "x", options={
                "napalm_driver": "mock", "optional_args": {"path": str(NAPALM_ANSWERS)}})
            t0 = time.monotonic()
            r = P.push("junos", "napalm", mock, str(jun["config.set"]), state_dir=str(tmp / f"st-np{i}"), owner="b")
            P.finish("confirm", "junos", "napalm", mock, r["token"], state_dir=str(tmp / f"st-np{i}"), owner="b")
            results.setdefault("napalm (mock driver)", []).append(
                {"push+confirm": time.monotonic() - t0, "lines": float(len(r["commands"]))})
        print(f"vendor push times, median of {args.repeat} (seconds); onboarding change = 2 tunnels + BGP + ACLs")
        print(f"{'transport':24} {'lines':>6} {'push':>7} {'confirm':>8} {'push+confirm':>13} {'no-change':>10}")
        for name, runs in results.items():
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            print(f"{name:24} {med['lines']:6.0f} {med.get('push', float('nan')):7.2f} "
                  f"{med.get('confirm', float('nan')):8.2f} {med['push+confirm']:13.2f} "
                  f"{med.get('no-change', float('nan')):10.2f}")
        if args.ansible:
            ansible_runs(tmp, ios, started, ios_site["site_name"])
        print("Ansible tasks per router: 2 (gateway_push action=push, action=confirm) + the playbook's verification")
    finally:
        for script, d in started:
            lab(script, "stop", "--state-dir", str(d))
    return 0


def ansible_runs(tmp: Path, ios: dict, started: list, owner: str) -> None:
    sim_dir = tmp / "sim-ansible"
    sim = lab("iosxe_sim.py", "start", "--port", "0", "--state-dir", str(sim_dir), "--fresh",
              "--password", CLI_PASSWORD, "--enable-secret", CLI_ENABLE)
    started.append(("iosxe_sim.py", sim_dir))
    play = tmp / "play.yml"
    play.write_text(push_play(owner))
    extra = json.dumps({"sim_port": sim["port"], "user": CLI_USER, "password": CLI_PASSWORD, "enable": CLI_ENABLE,
                        "artifacts": str(ios["config.cfg"].parent), "state": str(tmp / "st-ansible")})
    binp = Path(sys.executable).parent
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "PATH": f"{binp}:{os.environ['PATH']}"}
    cmd = [str(binp / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(play), "-e", extra]
    for label in ("ansible-playbook push+confirm (netmiko)", "ansible-playbook no-change (netmiko)"):
        t0 = time.monotonic()
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
        print(f"{label:40} {time.monotonic() - t0:6.2f} s  rc={out.returncode}")


if __name__ == "__main__":
    sys.exit(main())
