"""linux_strongswan renderings checked by the real tools: FRR's parser, nft, and a running charon."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from golden.test_golden import SPEC, render_case

CASES = sorted(SPEC["cases"])
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, charon)")

STRONGSWAN_CONF = """charon {
  load_modular = no
  load = random nonce openssl pem pkcs1 x509 pubkey kernel-libipsec kernel-netlink socket-default vici
  install_routes = no
  port = 0
  port_nat_t = 0
}
"""


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, **kw)


@pytest.fixture(scope="module")
def netns():
    name = f"spt-sem-{os.getpid()}"
    run(["ip", "netns", "add", name]).check_returncode()
    yield name
    run(["ip", "netns", "del", name])


@pytest.fixture(scope="module")
def charon(netns, tmp_path_factory):
    """A real charon in its own network + mount namespace; yields its vici URI."""
    base = tmp_path_factory.mktemp("charon")
    rundir = base / "run"
    rundir.mkdir()
    (base / "strongswan.conf").write_text(STRONGSWAN_CONF)
    proc = subprocess.Popen(
        ["ip", "netns", "exec", netns, "unshare", "-m", "--propagation", "private", "sh", "-c",
         f"mount --bind {rundir} /run && exec /usr/lib/ipsec/charon"],
        env=dict(os.environ, STRONGSWAN_CONF=str(base / "strongswan.conf")),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    uri = f"unix://{rundir}/charon.vici"
    for _ in range(100):
        if (rundir / "charon.vici").exists() and run(["swanctl", "--stats", "--uri", uri]).returncode == 0:
            break
        time.sleep(0.05)
    else:
        os.killpg(proc.pid, signal.SIGTERM)
        pytest.fail("charon did not start")
    yield uri
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=10)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.skipif(shutil.which("vtysh") is None, reason="FRR not installed")
@pytest.mark.parametrize("case", CASES)
def test_frr_config_parses(case, tmp_path):
    conf = write(tmp_path, "frr.conf", render_case(case, "linux_strongswan")["frr.conf"])
    res = run(["vtysh", "-C", "-f", str(conf)])
    assert res.returncode == 0, res.stdout + res.stderr


def test_frr_check_catches_errors(tmp_path):
    conf = write(tmp_path, "frr.conf", render_case("aws-vpn-bgp", "linux_strongswan")["frr.conf"].replace(
        "timers 10 30", "timers ten 30"))
    assert run(["vtysh", "-C", "-f", str(conf)]).returncode != 0


@pytest.mark.parametrize("case", CASES)
def test_nftables_ruleset_loads(case, tmp_path, netns):
    conf = write(tmp_path, "nftables.conf", render_case(case, "linux_strongswan")["nftables.conf"])
    res = run(["ip", "netns", "exec", netns, "nft", "-c", "-f", str(conf)])
    assert res.returncode == 0, res.stderr


def test_nftables_ruleset_is_atomic_and_repeatable(tmp_path, netns):
    conf = write(tmp_path, "nftables.conf", render_case("aws-vpn-bgp", "linux_strongswan")["nftables.conf"])
    for _ in range(2):  # the "table; delete table; table {...}" form replaces our table on every load
        assert run(["ip", "netns", "exec", netns, "nft", "-f", str(conf)]).returncode == 0
    listing = run(["ip", "netns", "exec", netns, "nft", "list", "table", "inet", "stowpath"]).stdout
    assert listing.count("chain forward") == 1
    assert "tcp option maxseg size set 1379" in listing
    assert "tcp dport 443 accept" in listing
    run(["ip", "netns", "exec", netns, "nft", "delete", "table", "inet", "stowpath"])


@pytest.mark.parametrize("case", CASES)
def test_swanctl_loads_into_real_charon(case, tmp_path, charon):
    conf = write(tmp_path, "swanctl.conf", render_case(case, "linux_strongswan")["swanctl.conf"])
    res = run(["swanctl", "--load-all", "--clear", "--noprompt", "--uri", charon, "--file", str(conf)])
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "invalid config file" not in out and "failed to load" not in out, out
    expected = render_case(case, "linux_strongswan")["swanctl.conf"].count("children {")
    conns = run(["swanctl", "--list-conns", "--uri", charon]).stdout
    assert conns.count("IKEv2") == expected
    assert "Tq4m_Lz7" not in conns


def test_swanctl_rejects_a_bad_proposal(tmp_path, charon):
    text = render_case("aws-vpn-bgp", "linux_strongswan")["swanctl.conf"].replace("aes256-sha256", "aes256-bogus")
    res = run(["swanctl", "--load-all", "--noprompt", "--uri", charon, "--file", str(write(tmp_path, "s.conf", text))])
    assert res.returncode != 0
    assert "invalid value for: proposals" in res.stdout + res.stderr


def test_kernel_dataplane_config_loads_into_real_charon(tmp_path, charon):
    """The default (kernel XFRM) layout: charon takes the per-tunnel if_id, 0.0.0.0/0 selectors and updown."""
    text = render_case("aws-vpn-bgp", "linux_strongswan")["swanctl.conf"]
    assert "if_id_in = 1" in text
    conf = write(tmp_path, "swanctl.conf", text)
    res = run(["swanctl", "--load-all", "--clear", "--noprompt", "--uri", charon, "--file", str(conf)])
    assert res.returncode == 0 and "invalid config file" not in res.stdout, res.stdout + res.stderr
    raw = run(["swanctl", "--list-conns", "--raw", "--uri", charon]).stdout
    assert raw.count("local-ts=[0.0.0.0/0]") == 2 and raw.count("remote-ts=[0.0.0.0/0]") == 2, raw
    assert "dpd_delay=10" in raw and "unknown" not in res.stdout + res.stderr, raw
