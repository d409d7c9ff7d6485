"""The Linux gateway's one-round-trip collection (the shell script and its framing) and the comparison on the
controller from the collected sections: in sync without FRR's own diff, FRR's diff only when the owned
sections differ, a missing table, a command that failed."""

from __future__ import annotations

import subprocess
from typing import Any

from ansible_collections.stowpath.core.plugins.module_utils import linux_gateway as lg
from ansible_collections.stowpath.core.plugins.module_utils.drift import linux
from ansible_collections.stowpath.core.plugins.module_utils.platforms import linux_strongswan as ls

MARK = "@@stowpath-0123456789abcdef"


def run_local(plan: list[tuple[str, list[str]]], stdin: str) -> tuple[int, str, str]:
    p = subprocess.run(["sh", "-c", linux.collect_script(plan), "sh", MARK], input=stdin, capture_output=True,
                       text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def test_the_script_frames_stdout_rc_and_stderr_exactly():
    plan = [("no-newline", ["printf", "a\nb"]), ("failing", ["sh", "-c", "echo out; echo oops >&2; exit 3"]),
            ("absent", ["cat", "--", "/nonexistent/stowpath"]), ("empty", ["true"]),
            (linux.NFT_WANT, ["cat"]), ("after", ["cat"])]
    rc, out, _ = run_local(plan, "table inet stowpath {}\n")
    got = linux.parse_sections(out, MARK)
    assert rc == 0 and list(got) == [name for name, _ in plan]
    assert got["no-newline"] == (0, "a\nb", "")
    assert got["failing"] == (3, "out\n", "oops")
    assert got["absent"][0] != 0 and "No such file" in got["absent"][2]
    assert got["empty"] == (0, "", "")
    assert got[linux.NFT_WANT] == (0, "table inet stowpath {}\n", "")  # stdin reaches the nft section only
    assert got["after"] == (0, "", "")


def test_the_plan_reads_everything_in_one_script(artifacts, site):
    plan = linux.sections(lg.DEFAULT_PATHS, "/var/lib/stowpath", linux.bgp_neighbors(site))
    names = [n for n, _ in plan]
    assert set(linux.BACKUP_COMMANDS) <= set(names) and {"nft_table", linux.NFT_WANT, "state", "bgp"} <= set(names)
    assert {f"file:{k}" for k in lg.DEFAULT_PATHS} <= set(names)
    bgp = dict(plan)["bgp"]
    assert bgp == ls.bgp_argv(linux.bgp_neighbors(site)) and len(linux.bgp_neighbors(site)) == 2
    assert linux.sections(lg.DEFAULT_PATHS, "/x", None, runtime=False)[-1][0] == "state"


def sections_in_sync(artifacts: dict[str, str], **over: Any) -> dict[str, tuple[int, str, str]]:
    """What an onboarded gateway answers (FRR running config = the rendered file)."""
    listing = "table inet stowpath {\n\tchain forward {\n\t\tcounter packets 3 bytes 9 accept # handle 4\n\t}\n}\n"
    got = {name: (0, "", "") for name in linux.BACKUP_COMMANDS}
    got["swanctl-list-conns.txt"] = (0, "".join(f"{n}: IKEv2, no reauthentication\n"
                                                for n in linux.intended_conns(artifacts["swanctl.conf"])), "")
    got.update({
        "frr-running-config.conf": (0, artifacts["frr.conf"], ""), "nft_table": (0, listing, ""),
        linux.NFT_WANT: (0, listing.replace("packets 3 bytes 9", "packets 0 bytes 0"), ""),
        "file:swanctl": (0, artifacts["swanctl.conf"], ""), "file:frr": (0, artifacts["frr.conf"], ""),
        "file:nft": (0, artifacts["nftables.conf"], ""),
        "file:nft_main": (0, lg.nft_include_line(lg.DEFAULT_PATHS["nft"]) + "\n", ""), "state": (1, "", "absent")})
    got.update(over)
    return got


def test_in_sync_needs_no_frr_reload(artifacts):
    calls: list[str] = []
    res = linux.analyse(sections_in_sync(artifacts), artifacts, dict(lg.DEFAULT_PATHS), runtime=False,
                        frr_reload=lambda text: calls.append(text) or (0, "", ""))
    assert res["items"] == [] and res["errors"] == [] and calls == []
    assert res["facts"]["frr_reload"] is False
    assert "secret" not in res["backup"]["etc-swanctl-conf.d-stowpath.conf"] or "********" in \
        res["backup"]["etc-swanctl-conf.d-stowpath.conf"]


def test_owned_frr_difference_asks_frr_reload_and_reports_its_diff(artifacts):
    running = "\n".join(x for x in artifacts["frr.conf"].splitlines() if "remote-as" not in x) + "\n"
    asn = next(x.split()[2] for x in artifacts["frr.conf"].splitlines() if x.startswith("router bgp"))
    peer = next(x.split()[1] for x in artifacts["frr.conf"].splitlines() if "remote-as" in x)
    reload_out = f"Lines To Add\n============\nrouter bgp {asn}\n neighbor {peer} remote-as 64512\n"
    calls: list[str] = []
    got = sections_in_sync(artifacts, **{"frr-running-config.conf": (0, running, ""), "nft_table": (1, "", "none")})
    res = linux.analyse(got, artifacts, dict(lg.DEFAULT_PATHS), runtime=False,
                        frr_reload=lambda text: calls.append(text) or (0, reload_out, ""))
    assert len(calls) == 1 and calls[0].startswith(artifacts["frr.conf"].splitlines()[0])
    ids = {i["id"] for i in res["items"]}
    assert ids == {f"drift.running.bgp.router_bgp_{asn}", "drift.running.firewall.nft_table"}
    bgp = next(i for i in res["items"] if i["id"].startswith("drift.running.bgp"))
    assert bgp["changes"] == [f"intended, missing on the device: neighbor {peer} remote-as 64512"]
    nft = next(i for i in res["items"] if i["id"] == "drift.running.firewall.nft_table")
    assert nft["title"] == "nft table inet stowpath is missing"


def test_a_failed_read_is_a_collection_error(artifacts):
    got = sections_in_sync(artifacts, **{"swanctl-list-sas.txt": (1, "", "connecting to 'unix:///run/charon.vici' failed")})
    res = linux.analyse(got, artifacts, dict(lg.DEFAULT_PATHS), runtime=False, frr_reload=None)
    assert res["errors"] == ["swanctl --list-sas: rc 1: connecting to 'unix:///run/charon.vici' failed"]


def test_collect_runs_one_script_and_raises_when_it_cannot(artifacts):
    def broken(cmd: str, stdin: str) -> tuple[int, str, str]:
        return 255, "", "ssh: connect to host 192.0.2.1 port 22: No route to host"

    try:
        linux.collect(broken, artifacts, dict(lg.DEFAULT_PATHS), "/var/lib/stowpath")
    except lg.GatewayError as exc:
        assert "No route to host" in str(exc)
    else:
        raise AssertionError("no error")


def test_one_bgp_collector_parses_one_vtysh_call():
    neighbors = ["169.254.1.1"]
    summary = '{"as":65020,"routerId":"198.51.100.1","peers":{"169.254.1.1":{"remoteAs":64512,"state":"Established"}}}'
    out = "\n".join([summary, "{}", '{"routes":{"203.0.113.128/26":[]}}', '{"advertisedRoutes":{"10.0.0.0/24":{}}}'])
    calls: list[list[str]] = []

    def run(argv: list[str]) -> tuple[int, str, str]:
        calls.append(argv)
        return 0, out, ""

    bgp = ls.collect_bgp(run, neighbors)
    assert len(calls) == 1 and calls[0] == ls.bgp_argv(neighbors)
    assert bgp["received"] == {"169.254.1.1": ["203.0.113.128/26"]} and bgp["advertised"] == {"169.254.1.1": ["10.0.0.0/24"]}
    try:
        ls.collect_bgp(lambda argv: (0, summary, ""), neighbors)
    except ls.ParseError as exc:
        assert "answered 1 of 4" in str(exc)
    else:
        raise AssertionError("a short answer was accepted")


def test_collect_runs_the_real_script_once(artifacts, site, tmp_path):
    """The whole check through ``collect`` with the script run by a local shell (what drift_linux does on the
    gateway): every section comes back, and a machine without the gateway's daemons is drift, not a crash."""
    paths = {k: str(tmp_path / k) for k in lg.DEFAULT_PATHS}
    calls: list[str] = []

    def shell(cmd: str, stdin: str) -> tuple[int, str, str]:
        import shlex

        calls.append(cmd)
        p = subprocess.run(shlex.split(cmd), input=stdin, capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    res = linux.collect(shell, artifacts, paths, str(tmp_path), site, runtime=True)
    assert len(calls) == 1 and res["facts"]["read_s"] >= 0
    ids = {i["id"] for i in res["items"]}
    assert {"drift.config.ipsec.swanctl_conf", "drift.config.firewall.nft_file"} <= ids  # no files here
    assert res["checks"] and all(c["status"] != "pass" for c in res["checks"] if c["id"].startswith("network.bgp"))
