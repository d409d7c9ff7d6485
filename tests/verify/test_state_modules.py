"""tunnel_status and bgp_status as Ansible runs them (in-process, the gateway session replaced by recorded
state): bgp_status with check_tunnels gives exactly tunnel_status's and bgp_status's results, in that order,
over one session."""

from __future__ import annotations

import contextlib
import json
import types
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.stowpath.core.plugins.module_utils.platforms import StateRecipe
from ansible_collections.stowpath.core.plugins.module_utils.platforms import linux_strongswan as ls
from ansible_collections.stowpath.core.plugins.module_utils.verify import session
from ansible_collections.stowpath.core.plugins.modules import bgp_status, tunnel_status

FIX = Path(__file__).parent / "fixtures"
PASSWORD = "pw-must-not-leak-7f3a"


def raw(name: str) -> str:
    return (FIX / name).read_text()


def bgp_observed(name: str) -> dict[str, Any]:
    b = json.loads(raw(name))
    return {"summary": ls.parse_bgp_summary(b["summary"]),
            "received": {n: ls.parse_bgp_neighbor_routes(t) for n, t in b["routes"].items()},
            "advertised": {n: ls.parse_bgp_advertised(t) for n, t in b["advertised"].items()},
            "routes": ls.parse_ip_route(b["ip_route"])}


TUNNELS_UP = ("vpn_up_list_sas.txt", "vpn_up_list_conns.txt")
TUNNELS_DOWN = ("vpn_badpsk_list_sas.txt", "vpn_up_list_conns.txt")


class Gateway:
    """Recorded gateway state: the tunnel reads answer ``tunnels[i]`` (the last one repeats), the BGP reads
    ``bgp[i]``; ``log`` records every read and every session opened."""

    def __init__(self, tunnels: list[tuple[str, str]], bgp: list[str]) -> None:
        self.tunnels, self.bgp, self.log = tunnels, bgp, []  # type: ignore[var-annotated]

    def _next(self, kind: str, answers: list[Any]) -> Any:
        n = self.log.count(kind)
        self.log.append(kind)
        return answers[min(n, len(answers) - 1)]

    def recipe(self) -> StateRecipe:
        def tunnels(query: Any, exp: dict[str, Any]) -> tuple[list, list]:
            sas, conns = self._next("tunnels", self.tunnels)
            return ls.parse_list_sas(raw(sas)), ls.parse_list_conns(raw(conns))

        def bgp(query: Any, exp: dict[str, Any]) -> dict[str, Any]:
            return bgp_observed(self._next("bgp", self.bgp))

        return StateRecipe(tunnels=tunnels, bgp=bgp)

    @contextlib.contextmanager
    def session(self, module: Any, site: Any) -> Iterator[tuple[StateRecipe, Any]]:
        self.log.append("session")
        yield self.recipe(), types.SimpleNamespace(query=None)


@pytest.fixture()
def gateway(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Gateway]:
    def make(tunnels: list[tuple[str, str]] | None = None, bgp: list[str] | None = None) -> Gateway:
        gw = Gateway(tunnels or [TUNNELS_UP], bgp or ["vpn_up_bgp.json"])
        monkeypatch.setattr(session, "state_session", gw.session)
        return gw

    return make


def site(name: str = "site_vpn.json") -> dict[str, Any]:
    return json.loads(raw(name))


def run(module: Any, capsys: pytest.CaptureFixture[str], **args: Any) -> tuple[dict[str, Any], str]:
    """(result, raw stdout) of one module run."""
    base = {"platform": "linux_strongswan", "password": PASSWORD, "interval": 0, "fail_on_error": False}
    with patch_module_args({**base, **args}), pytest.raises(SystemExit):
        module.main()
    out = capsys.readouterr().out
    return json.loads(out), out


def essence(checks: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """A check without its timing."""
    return [(c["id"], c["status"], c["title"], c.get("cause"), c.get("action"),
             json.dumps(c.get("detail"), sort_keys=True)) for c in checks]


def without_run_data(result: dict[str, Any]) -> dict[str, Any]:
    """A result without what differs between two runs (timings) or what Ansible adds (invocation)."""
    return {k: v for k, v in result.items() if k not in ("checks", "elapsed_s", "invocation", "warnings")}


def test_check_tunnels_returns_both_results_as_the_two_modules_do(gateway: Callable[..., Gateway],
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    gateway()
    tunnels, _ = run(tunnel_status, capsys, site=site())
    bgp, _ = run(bgp_status, capsys, site=site())
    gw = gateway()
    both, out = run(bgp_status, capsys, site=site(), check_tunnels=True, tunnel_wait_timeout=5, wait_timeout=5)

    assert gw.log == ["session", "tunnels", "bgp"], "one session, tunnels read before BGP"
    assert not both.get("failed")
    assert essence(both["tunnel_status"]["checks"]) == essence(tunnels["checks"])
    assert [c["id"] for c in both["tunnel_status"]["checks"]] == ["network.tunnel.tun1", "network.tunnel.tun2"]
    assert essence(both["checks"]) == essence(bgp["checks"])
    assert not any(c["id"].startswith("network.tunnel") for c in both["checks"]), "each check once"
    assert without_run_data(both["tunnel_status"]) == without_run_data(tunnels)
    assert without_run_data({k: v for k, v in both.items() if k != "tunnel_status"}) == without_run_data(bgp)
    assert PASSWORD not in out


def test_each_state_waits_with_its_own_timeout_in_order(gateway: Callable[..., Gateway],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    gw = gateway(tunnels=[TUNNELS_DOWN, TUNNELS_DOWN, TUNNELS_UP], bgp=["vpn_badpsk_bgp.json", "vpn_up_bgp.json"])
    both, _ = run(bgp_status, capsys, site=site(), check_tunnels=True, tunnel_wait_timeout=60, wait_timeout=60)

    assert gw.log == ["session", "tunnels", "tunnels", "tunnels", "bgp", "bgp"]
    assert both["tunnel_status"]["rounds"] == 3 and both["rounds"] == 2
    assert {c["status"] for c in both["tunnel_status"]["checks"] + both["checks"]} == {"pass"}
    assert all(c["duration_s"] == both["tunnel_status"]["elapsed_s"] for c in both["tunnel_status"]["checks"])
    assert all(c["duration_s"] == both["elapsed_s"] for c in both["checks"])


def test_failed_tunnels_without_fail_on_error_still_read_bgp(gateway: Callable[..., Gateway],
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    gw = gateway(tunnels=[TUNNELS_DOWN], bgp=["vpn_badpsk_bgp.json"])
    both, _ = run(bgp_status, capsys, site=site(), check_tunnels=True)

    assert gw.log == ["session", "tunnels", "bgp"] and not both.get("failed")
    assert {c["status"] for c in both["tunnel_status"]["checks"]} == {"fail"}
    assert both["tunnel_status"]["checks"][0]["cause"].startswith("tunnel down")
    assert both["checks"] and not both["all_established"]


def test_failed_tunnels_with_fail_on_error_stop_before_bgp(gateway: Callable[..., Gateway],
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    gw = gateway(tunnels=[TUNNELS_DOWN])
    both, _ = run(bgp_status, capsys, site=site(), check_tunnels=True, fail_on_error=True)

    assert gw.log == ["session", "tunnels"], "BGP is not read (nor waited for) after the tunnels failed"
    assert both["failed"] and both["msg"].startswith("IPsec state verification failed:")
    assert "network.tunnel.tun1" in both["msg"] and both["checks"] == []
    assert [c["status"] for c in both["tunnel_status"]["checks"]] == ["fail", "fail"]


def test_failed_bgp_with_fail_on_error_keeps_the_tunnel_result(gateway: Callable[..., Gateway],
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    gateway(bgp=["vpn_badpsk_bgp.json"])
    both, _ = run(bgp_status, capsys, site=site(), check_tunnels=True, fail_on_error=True)

    assert both["failed"] and both["msg"].startswith("BGP state verification failed:")
    assert {c["status"] for c in both["tunnel_status"]["checks"]} == {"pass"}
    assert "network.bgp.tun1" in both["msg"] and "network.tunnel" not in both["msg"]


def test_without_check_tunnels_bgp_status_is_unchanged(gateway: Callable[..., Gateway],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    gw = gateway(bgp=["dx_up_bgp.json"])
    res, _ = run(bgp_status, capsys, site=site("site_dx.json"))

    assert gw.log == ["session", "bgp"] and "tunnel_status" not in res
    assert [c["id"] for c in res["checks"]][0] == "network.bgp.dx"


def test_check_tunnels_needs_a_site(gateway: Callable[..., Gateway], capsys: pytest.CaptureFixture[str]) -> None:
    gw = gateway()
    res, _ = run(bgp_status, capsys, neighbors=[{"address": "169.254.0.1"}], check_tunnels=True)

    assert res["failed"] and "check_tunnels needs site" in res["msg"] and gw.log == []


def test_check_mode_reads_the_same(gateway: Callable[..., Gateway], capsys: pytest.CaptureFixture[str]) -> None:
    gateway()
    both, _ = run(bgp_status, capsys, site=site(), check_tunnels=True, _ansible_check_mode=True)

    assert not both.get("failed") and not both["changed"] and not both.get("skipped")
    assert {c["status"] for c in both["tunnel_status"]["checks"] + both["checks"]} == {"pass"}


def test_tunnel_status_needs_remote_outside(gateway: Callable[..., Gateway], capsys: pytest.CaptureFixture[str]) -> None:
    gw = gateway()
    res, _ = run(tunnel_status, capsys, tunnels=[{"name": "t"}])

    assert res["failed"] and "has no remote_outside" in res["msg"] and gw.log == []
