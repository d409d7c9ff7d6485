"""The IOS-XE CLI SIMULATOR's operational state (simulated, not IOS-XE): show commands answered from the
pushed configuration and the lab cloud, read back through Netmiko with the IOS-XE CLI parsers and the
unchanged evaluators. A private simulator instance on a free port; the lab cloud is the shared one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from ansible_collections.stowpath.core.plugins.module_utils.parsers import iosxe_cli as P
from ansible_collections.stowpath.core.plugins.module_utils.render import render_site
from ansible_collections.stowpath.core.plugins.module_utils.site import load_site
from ansible_collections.stowpath.core.plugins.module_utils.transports import push as push_mod
from ansible_collections.stowpath.core.plugins.module_utils.verify.bgp import evaluate_bgp
from ansible_collections.stowpath.core.plugins.module_utils.verify.model import expected
from ansible_collections.stowpath.core.plugins.module_utils.verify.tunnels import evaluate_tunnels

from .conftest import CLI_ENABLE, CLI_PASSWORD, CLI_USER, LAB, REPO, Sim, _run, start_sim

sys.path.insert(0, str(LAB))
import cloud_state  # noqa: E402

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]
LAB_STATE = Path("/run/stowpath-lab")


# the lab cloud advertises its VPC CIDR (a supernet of the DICOMweb range), like AWS
VPC_CIDR = "203.0.113.128/25"


def lab_site() -> dict[str, Any]:
    """The lab's iosxe-cli facility (inventories/lab/vendor-routers.yml, the lab's AWS VPN file)."""
    inv = yaml.safe_load((REPO / "inventories" / "lab" / "vendor-routers.yml").read_text())
    group = inv["all"]["children"]["lab_vendor_routers"]
    return load_site({**group["vars"], **group["hosts"]["iosxe-cli"]}, "iosxe-cli", str(REPO / "inventories" / "lab"))


def facility_cfg(site: dict[str, Any]) -> dict[str, Any]:
    """cloud_state's neutral device_cfg of the facility, straight from the site model."""
    return {"tunnels": [{"name": t["name"], "destination": t["remote_outside"], "source": t["local_outside"],
                         "psk": t["psk"], "inside_address": t["local_inside"], "inside_prefixlen": t["inside_prefixlen"],
                         "shutdown": False} for t in site["tunnels"]], "bgp": None}


def test_cloud_state_accepts_the_facility_as_configured():
    if not (LAB_STATE / "params.json").exists():
        pytest.skip("the lab is not up (make lab-up)")
    state = cloud_state.evaluate(facility_cfg(lab_site()), cloud_state.load_cloud(str(LAB_STATE)))
    assert {n: (t["ike"], t["child"], t["reason"]) for n, t in state["tunnels"].items()} == {
        "tun1": ("up", "up", None), "tun2": ("up", "up", None)}


def lab(*args: str) -> None:
    proc = subprocess.run([sys.executable, str(REPO / "lab" / "lab.py"), *args], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def pushed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not (LAB_STATE / "params.json").exists():
        pytest.skip("the lab is not up (make lab-up)")
    base = tmp_path_factory.mktemp("iosxe-state")
    site = lab_site()
    cfg = base / "config.cfg"
    cfg.write_text(render_site(site, str(REPO / "templates"))["config.cfg"])
    sim = start_sim(base / "sim")
    try:
        kw = {"state_dir": str(base / "push"), "owner": site["site_name"]}
        res = push_mod.push("cisco_iosxe", "netmiko", sim.conn(), str(cfg), **kw)
        assert res["changed"] and res["token"]
        push_mod.finish("confirm", "cisco_iosxe", "netmiko", sim.conn(), res["token"], **kw)
        yield {"sim": sim, "site": site, "exp": expected(site)}
    finally:
        _run("iosxe_sim.py", "stop", "--state-dir", str(sim.state_dir))


def ask(sim: Sim, commands: list[str]) -> dict[str, str]:
    from netmiko import ConnectHandler

    conn = ConnectHandler(device_type="cisco_ios", host="127.0.0.1", port=sim.port, username=CLI_USER,
                          password=CLI_PASSWORD, secret=CLI_ENABLE, fast_cli=True)
    try:
        conn.enable()
        return {c: conn.send_command(c) for c in commands}
    finally:
        conn.disconnect()


def verify(sim: Sim, exp: dict[str, Any]) -> tuple[dict[str, dict], dict, dict]:
    answers = ask(sim, P.tunnel_queries(exp) + P.bgp_queries(exp))
    tchecks, tfacts = evaluate_tunnels(exp["tunnels"], P.parse_tunnels(answers, exp))
    bchecks, bfacts = evaluate_bgp(exp, P.parse_bgp(answers, exp))
    return {c["id"]: c for c in tchecks + bchecks}, tfacts, bfacts


def test_pushed_facility_is_up_with_bgp_and_routes(pushed):
    checks, tfacts, bfacts = verify(pushed["sim"], pushed["exp"])
    assert {k: c["status"] for k, c in checks.items() if c["status"] != "pass"} == {}
    assert tfacts["up_count"] == 2 and bfacts["established_count"] == 2
    assert {t["device_name"] for t in tfacts["tunnels"]} == {"Tunnel1", "Tunnel2"}
    assert checks["network.bgp.tun1.received"]["detail"]["received"] == [VPC_CIDR]
    assert checks["network.bgp.tun1.advertised"]["detail"]["advertised"] == ["203.0.113.0/26"]


def test_cloud_break_takes_the_tunnels_down_and_repair_restores(pushed):
    sim, exp = pushed["sim"], pushed["exp"]
    try:
        lab("cloud-break", "vpn")
        checks, tfacts, bfacts = verify(sim, exp)
        state = cloud_state.evaluate(facility_cfg(pushed["site"]), cloud_state.load_cloud(str(LAB_STATE)))
    finally:
        lab("cloud-repair")
    assert tfacts["up_count"] == 0 and bfacts["established_count"] == 0
    for name in ("tun1", "tun2"):
        assert checks[f"network.tunnel.{name}"]["cause"].startswith("tunnel down: IKE with")
        assert "authentication" in checks[f"network.tunnel.{name}"]["cause"]
        assert checks[f"network.bgp.{name}"]["detail"]["state"] == "Active"
    assert {t["reason"] for t in state["tunnels"].values()} == {
        f"authentication failed with {t['remote_outside']}: pre-shared key mismatch" for t in exp["tunnels"]}
    checks, tfacts, bfacts = verify(sim, exp)
    assert tfacts["up_count"] == 2 and bfacts["all_established"]

