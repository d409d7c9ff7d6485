"""cloud_params_source: api for Azure and GCP -- stowpath runs ``az`` / ``gcloud`` itself.

Fake ``az`` / ``gcloud`` executables (written here into tmp_path, first on PATH) record their argv and
print published answers: the parser fixtures of tests/unit/fixtures/params (SOURCES.md names each source:
the Azure CLI shapes derived from Azure/azure-rest-api-specs examples, the GCP answers from the Google Cloud
Skills Boost HA VPN lab). The real subprocess path runs: PATH lookup, timeout, exit codes, JSON parsing.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
import yaml
from ansible_collections.stowpath.core.plugins.module_utils.ansible_site import render_result
from ansible_collections.stowpath.core.plugins.module_utils.errors import SiteError, SiteErrors
from ansible_collections.stowpath.core.plugins.module_utils.params import cli_source
from ansible_collections.stowpath.core.plugins.module_utils.site import load_site, masked
from stowpath_testlib import base_vars

FIX = Path(__file__).resolve().parents[1] / "unit" / "fixtures" / "params"
AZ, GCP = FIX / "azure_vpn", FIX / "gcp_ha_vpn"
AZ_KEY = json.loads((AZ / "derived-cli-shared-key-show.json").read_text())["value"]
GCP_PSK = "Gcp.shared.key.1"
FAKE_ENV_SECRET = "fake-sp-secret-0123456789abcdef"

FAKE = '''#!{python}
import json, os, sys
argv = sys.argv[1:]
with open(os.environ["FAKE_CLI_LOG"], "a") as fh:
    fh.write(json.dumps([os.path.basename(sys.argv[0])] + argv) + "\\n")
for match, out, err, rc in json.load(open(os.environ["FAKE_CLI_ANSWERS"])):
    if all(m in argv for m in match):
        sys.stdout.write(out); sys.stderr.write(err); sys.exit(rc)
sys.stderr.write("ERROR: (gcloud) unexpected call\\n"); sys.exit(2)
'''


def azure_answers() -> list:
    text = {n: (AZ / f"derived-cli-{n}.json").read_text() for n in
            ("vpn-connection-show", "vnet-gateway-show-active-active", "local-gateway-show", "shared-key-show")}
    return [[["shared-key", "show", "rg1", "connS2S"], text["shared-key-show"], "", 0],
            [["vpn-connection", "show", "rg1", "connS2S"], text["vpn-connection-show"], "", 0],
            [["vnet-gateway", "show", "--ids"], text["vnet-gateway-show-active-active"], "", 0],
            [["local-gateway", "show", "--ids"], text["local-gateway-show"], "", 0]]


def gcp_answers() -> list:
    tunnels = json.loads((GCP / "derived-vpn-tunnels-list-facility.json").read_text())
    as_json = {n: json.dumps(yaml.safe_load((GCP / f"skillsboost-ha-vpn-lab-{n}.yaml").read_text())) for n in
               ("routers-describe-vpc-demo-router1", "vpn-gateways-describe-vpc-demo-vpn-gw1")}
    out = [[["vpn-tunnels", "describe", t["name"]], json.dumps(t), "", 0] for t in tunnels]
    return out + [[["routers", "describe", "vpc-demo-router1"], as_json["routers-describe-vpc-demo-router1"], "", 0],
                  [["vpn-gateways", "describe", "vpc-demo-vpn-gw1"], as_json["vpn-gateways-describe-vpc-demo-vpn-gw1"],
                   "", 0]]


@pytest.fixture
def fake_cli(tmp_path, monkeypatch):
    """Install fake az/gcloud first on PATH; returns (set_answers, calls)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("az", "gcloud"):
        exe = bin_dir / name
        exe.write_text(FAKE.format(python=sys.executable))
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    log, answers = tmp_path / "calls.jsonl", tmp_path / "answers.json"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_CLI_LOG", str(log))
    monkeypatch.setenv("FAKE_CLI_ANSWERS", str(answers))
    monkeypatch.setenv("STOWPATH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AZURE_CLIENT_SECRET", FAKE_ENV_SECRET)  # the CLI's own chain; must never reach argv

    def set_answers(entries: list) -> None:
        answers.write_text(json.dumps(entries))

    def calls() -> list[list[str]]:
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    return set_answers, calls


def azure_vars(**kw: object) -> dict:
    return base_vars(**{"cloud_provider": "azure_vpn", "cloud_params_file": None, "cloud_params_source": "api",
                        "azure_resource_group": "rg1", "azure_vpn_connection": "connS2S", **kw})


def gcp_vars(**kw: object) -> dict:
    return base_vars(**{"cloud_provider": "gcp_ha_vpn", "cloud_params_file": None, "cloud_params_source": "api",
                        "gcp_project": "qwiklabs-gcp-03-cdb29e18d20d", "gcp_region": "us-central1",
                        "gcp_vpn_tunnels": ["vpc-demo-tunnel0", "vpc-demo-tunnel1"], "cloud_psk": GCP_PSK, **kw})


def test_azure_api_equals_the_saved_files(fake_cli, tmp_path):
    set_answers, calls = fake_cli
    set_answers(azure_answers())
    site = load_site(azure_vars(), "gw", str(tmp_path))
    files = [str(AZ / f"derived-cli-{n}.json") for n in
             ("vnet-gateway-show-active-active", "vpn-connection-show", "local-gateway-show", "shared-key-show")]
    from_files = load_site(base_vars(cloud_provider="azure_vpn", cloud_params_file=files), "gw", str(tmp_path))
    assert site["tunnels"] == from_files["tunnels"] and site["cloud_asn"] == 65515
    argvs = calls()
    assert argvs[0] == ["az", "network", "vpn-connection", "show", "-g", "rg1", "-n", "connS2S", "-o", "json"]
    assert argvs[1][:5] == ["az", "network", "vnet-gateway", "show", "--ids"]
    assert argvs[1][5].endswith("/virtualNetworkGateways/vpngw")
    assert argvs[3][:5] == ["az", "network", "vpn-connection", "shared-key", "show"]
    assert not any(FAKE_ENV_SECRET in a or AZ_KEY in a for argv in argvs for a in argv)


def test_no_secret_reaches_the_cache_or_the_output(fake_cli, tmp_path):
    set_answers, _ = fake_cli
    set_answers(azure_answers())
    site = load_site(azure_vars(), "gw", str(tmp_path))
    assert site["tunnels"][0]["psk"] == AZ_KEY  # the clear key is used for the configuration ...
    cache = Path(site["params_fetched"]["cache"])
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    kept = cache.read_text()
    assert AZ_KEY not in kept and "********" in kept and "connS2S" in kept
    assert AZ_KEY not in json.dumps(masked(site))  # ... never shown
    out = render_result({"site": azure_vars(), "hostname": "gw", "inventory_dir": str(tmp_path),
                         "templates_dir": str(Path(__file__).resolve().parents[2] / "templates"),
                         "dest": str(tmp_path / "build")}, check_mode=True, want_diff=True)
    assert AZ_KEY not in json.dumps(out, default=str)
    assert out["site"]["params_fetched"]["answer"]["az network vpn-connection shared-key show -n connS2S"][
        "value"] == "********"


def test_azure_with_cloud_psk_does_not_ask_for_the_key(fake_cli, tmp_path):
    set_answers, calls = fake_cli
    set_answers(azure_answers()[1:])  # a shared-key call would fail: "unexpected call"
    site = load_site(azure_vars(cloud_psk="Vault.key.123"), "gw", str(tmp_path))
    assert {t["psk"] for t in site["tunnels"]} == {"Vault.key.123"}
    assert not any("shared-key" in argv for argv in calls())


def test_gcp_api_equals_the_saved_files(fake_cli, tmp_path):
    set_answers, calls = fake_cli
    set_answers(gcp_answers())
    site = load_site(gcp_vars(), "gw", str(tmp_path))
    files = [str(GCP / n) for n in ("skillsboost-ha-vpn-lab-vpn-gateways-describe-vpc-demo-vpn-gw1.yaml",
                                    "skillsboost-ha-vpn-lab-routers-describe-vpc-demo-router1.yaml",
                                    "derived-vpn-tunnels-list-facility.json")]
    from_files = load_site(base_vars(cloud_provider="gcp_ha_vpn", cloud_params_file=files, cloud_psk=GCP_PSK),
                           "gw", str(tmp_path))
    assert site["tunnels"] == from_files["tunnels"]
    where = ["--region", "us-central1", "--project", "qwiklabs-gcp-03-cdb29e18d20d", "--format=json"]
    assert calls() == [["gcloud", "compute", "vpn-tunnels", "describe", "vpc-demo-tunnel0", *where],
                       ["gcloud", "compute", "vpn-tunnels", "describe", "vpc-demo-tunnel1", *where],
                       ["gcloud", "compute", "routers", "describe", "vpc-demo-router1", *where],
                       ["gcloud", "compute", "vpn-gateways", "describe", "vpc-demo-vpn-gw1", *where]]
    assert GCP_PSK not in json.dumps(masked(site)) and GCP_PSK not in Path(site["params_fetched"]["cache"]).read_text()


@pytest.mark.parametrize("stderr, rc, needle", [
    ("ERROR: Please run 'az login' to setup account.\n", 1, "az is not logged in.*Fix: log the controller in: az login"),
    ("ERROR: (ResourceNotFound) The Resource 'Microsoft.Network/connections/connS2S' was not found.\n", 3,
     "not found.*Fix: check the names"),
    ("ERROR: (AuthorizationFailed) The client does not have authorization\n", 1, "permission denied"),
    ("ERROR: token eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0 boom\n", 5,
     "exited 5 \\(ERROR: token \\*\\*\\*\\*\\*\\*\\*\\* boom\\)"),
])
def test_cli_failures_are_named(fake_cli, tmp_path, stderr, rc, needle):
    set_answers, _ = fake_cli
    set_answers([[["vpn-connection"], "", stderr, rc]])
    with pytest.raises(SiteError, match=needle) as err:
        load_site(azure_vars(), "gw", str(tmp_path))
    assert "eyJhbGci" not in str(err.value)


def test_missing_cli_and_timeout(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no gcloud anywhere
    with pytest.raises(SiteError, match="gcloud is not installed or not on PATH.*Fix: install the Google Cloud CLI"):
        load_site(gcp_vars(), "gw", str(tmp_path))
    slow = tmp_path / "gcloud"
    slow.write_text(f"#!{sys.executable}\nimport time; time.sleep(5)\n")
    slow.chmod(0o700)
    with pytest.raises(SiteError, match="no answer within 1 s"):
        cli_source.fetch_cli("gcp_ha_vpn", {"gcp_project": "proj-12345", "gcp_region": "us-central1",
                                            "gcp_vpn_tunnels": ["t0"]}, timeout=1)
    slow.write_text(f"#!{sys.executable}\nprint('not json')\n")
    with pytest.raises(SiteError, match="did not print JSON"):
        cli_source.fetch_cli("gcp_ha_vpn", {"gcp_project": "proj-12345", "gcp_region": "us-central1",
                                            "gcp_vpn_tunnels": ["t0"]})


def test_api_variables_are_checked_before_any_call(tmp_path):
    def errors(hv: dict) -> str:
        with pytest.raises((SiteError, SiteErrors)) as err:
            load_site(hv, "gw", str(tmp_path), fetch=lambda *a, **k: pytest.fail("no call expected"))
        return str(err.value)

    assert "azure_vpn_connection: is required with cloud_params_source: api" in errors(
        azure_vars(azure_vpn_connection=None))
    assert "gcp_vpn_tunnels: is required" in errors(gcp_vars(gcp_vpn_tunnels=None))
    assert "azure_resource_group: '--debug' is not allowed" in errors(azure_vars(azure_resource_group="--debug"))
    assert "gcp_vpn_tunnels[1]" in errors(gcp_vars(gcp_vpn_tunnels=["ok-1", "-bad"]))
    assert "gcp_vpn_tunnels: must be a list of 1-4" in errors(gcp_vars(gcp_vpn_tunnels=["a"] * 5))
    assert "api is not available for manual" in errors(base_vars(cloud_provider="manual", cloud_params_source="api",
                                                                 cloud_params_file=None))
