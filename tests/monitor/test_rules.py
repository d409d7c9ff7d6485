"""The alert rules and the configuration the roles render, checked with Prometheus's own tools."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jinja2
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "monitoring" / "rules"
TESTS = REPO / "monitoring" / "tests"
REQUIRED_ALERTS = {"TunnelDown", "TunnelDegraded", "BgpDown", "CloudPrefixMissing", "StowCanaryFailing",
                   "StowLatencyHigh", "PacsTransfersFailing", "PacsBacklogGrowing", "ClientCertExpiringSoon",
                   "ExporterDown"}

needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian prometheus) missing")


def _alerts() -> list[dict]:
    out = []
    for f in sorted(RULES.glob("*.yml")):
        for g in yaml.safe_load(f.read_text())["groups"]:
            out += [r for r in g["rules"] if "alert" in r]
    return out


def test_every_required_alert_exists_with_cause_action_and_diagnose() -> None:
    alerts = _alerts()
    assert REQUIRED_ALERTS <= {a["alert"] for a in alerts}
    for a in alerts:
        assert {"summary", "cause", "action", "diagnose"} <= set(a["annotations"]), a["alert"]
        assert a["labels"]["severity"] in ("critical", "warning"), a["alert"]


def test_every_alert_has_a_unit_test() -> None:
    tested = set()
    for f in TESTS.glob("*.yml"):
        for t in yaml.safe_load(f.read_text())["tests"]:
            tested |= {c["alertname"] for c in t.get("alert_rule_test", []) if c.get("exp_alerts")}
    assert {a["alert"] for a in _alerts()} <= tested


@needs_promtool
def test_promtool_check_rules() -> None:
    r = subprocess.run(["promtool", "check", "rules", *map(str, sorted(RULES.glob("*.yml")))],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


@needs_promtool
def test_promtool_test_rules() -> None:
    r = subprocess.run(["promtool", "test", "rules", *map(str, sorted(TESTS.glob("*.yml")))],
                       capture_output=True, text=True, check=False, cwd=TESTS)
    assert r.returncode == 0, r.stdout + r.stderr


SITES = [
    {"site": "lab-facility", "gateway": "cgw", "runs_on": "device", "address": "169.254.250.10",
     "dicomweb_url": "https://dicom.lab.example/dicomweb/studies", "client_cert_file": "/x/client.crt"},
    {"site": "branch-2", "gateway": "rtr2", "runs_on": "controller", "address": "10.0.0.2",
     "dicomweb_url": "", "client_cert_file": ""},
]


def _render(role: str, template: str, **variables: object) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(REPO / "roles" / role / "templates")),
                             undefined=jinja2.StrictUndefined, trim_blocks=True)
    env.filters["to_json"] = json.dumps
    env.filters["to_nice_yaml"] = lambda v, indent=2: yaml.safe_dump(v, indent=indent)
    return env.get_template(template).render(ansible_managed="test", **variables)


@needs_promtool
def test_promtool_check_config_of_the_rendered_prometheus_config(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(RULES / "stowpath.rules.yml", rules)
    text = _render("monitor_prometheus", "prometheus.yml.j2", monitor_sites=SITES,
                   monitor_prometheus_scrape_interval="30s", monitor_prometheus_evaluation_interval="30s",
                   monitor_prometheus_alertmanager_listen="10.0.0.9:9093", monitor_prometheus_config_dir=str(tmp_path),
                   monitor_prometheus_listen="10.0.0.9:9090", monitor_prometheus_exporter_listen_address="10.0.0.9",
                   monitor_prometheus_exporter_port=9469, monitor_prometheus_blackbox_listen="127.0.0.1:9115")
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(text)
    r = subprocess.run(["promtool", "check", "config", str(cfg)], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr + text
    jobs = {j["job_name"] for j in yaml.safe_load(text)["scrape_configs"]}
    assert {"stowpath", "node-gateway", "frr", "blackbox-dicomweb", "alertmanager", "prometheus"} <= jobs


@pytest.mark.skipif(shutil.which("amtool") is None, reason="amtool (Debian prometheus-alertmanager) missing")
def test_amtool_check_config_of_the_rendered_alertmanager_config(tmp_path: Path) -> None:
    text = _render("monitor_alertmanager", "alertmanager.yml.j2", monitor_alertmanager_group_wait="30s",
                   monitor_alertmanager_group_interval="5m", monitor_alertmanager_repeat_interval="4h",
                   monitor_alertmanager_webhook_url="http://127.0.0.1:9099/alerts",
                   monitor_alertmanager_receivers=[{"name": "noc-email", "email_configs": [
                       {"to": "noc@example.org", "from": "alerts@example.org", "smarthost": "mail.example.org:587"}]}],
                   monitor_alertmanager_routes=[{"receiver": "noc-email", "matchers": ['severity="critical"'],
                                                 "continue": True}])
    cfg = tmp_path / "alertmanager.yml"
    cfg.write_text(text)
    r = subprocess.run(["amtool", "check-config", str(cfg)], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr + text
