"""The monitoring profile: Prometheus' scrape configuration, Grafana's provisioning and the dashboard, read
without a container engine. promtool (Debian's prometheus package) checks the configuration and the
dashboard's queries; every metric the dashboard reads is one the server exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from telemetry import metrics
from tests.deploy.deploy_harness import REPO

MONITORING = REPO / "monitoring"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "mcp.json"
PROMTOOL = shutil.which("promtool")


@pytest.fixture(scope="module")
def prod() -> dict:
    return yaml.safe_load((REPO / "docker-compose.prod.yml").read_text())


def _exported() -> set[str]:
    """The sample names the server exports: each metric's, with a histogram's _bucket, _count and _sum."""
    names = set()
    for value in vars(metrics).values():
        if hasattr(value, "_name") and hasattr(value, "_type"):
            suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}.get(value._type, ("",))
            names |= {value._name + suffix for suffix in suffixes}
    return names


def test_prometheus_and_grafana_are_an_opt_in_profile(prod):
    services = prod["services"]
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"], name
        assert services[name]["restart"] == "unless-stopped" and services[name]["healthcheck"]["test"], name
    assert not any("profiles" in services[name] for name in ("app", "nginx", "postgres", "redis", "migrate"))
    assert prod["secrets"]["metrics_token"] == {"environment": "METRICS_TOKEN"}
    assert services["prometheus"]["secrets"] == ["metrics_token"]


def test_prometheus_scrapes_the_app_with_the_token_compose_gives_it(prod):
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    (discovery,) = job["dns_sd_configs"]  # each app container of `--scale app=N` is scraped on its own
    assert discovery["names"] == ["app"] and discovery["port"] == 8008 and job["metrics_path"] == "/metrics"
    assert "8008" in prod["services"]["app"]["expose"]
    assert job["authorization"]["credentials_file"] == "/run/secrets/metrics_token"  # where Compose puts the secret
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in prod["services"]["prometheus"]["volumes"]}
    assert mounts["/etc/prometheus/prometheus.yml"] == "./monitoring/prometheus.yml"
    assert "--config.file=/etc/prometheus/prometheus.yml" in prod["services"]["prometheus"]["command"]


def test_grafana_is_provisioned_with_prometheus_and_the_dashboard(prod):
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in prod["services"]["grafana"]["volumes"]}
    assert (REPO / mounts["/etc/grafana/provisioning"]).is_dir()
    assert (REPO / mounts["/var/lib/grafana/dashboards"] / "mcp.json").is_file()
    sources = yaml.safe_load((MONITORING / "grafana/provisioning/datasources/prometheus.yml").read_text())
    assert sources["datasources"][0]["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((MONITORING / "grafana/provisioning/dashboards/mcp.yml").read_text())
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def _queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_the_dashboard_shows_calls_errors_latency_refusals_and_oauth_from_exported_metrics():
    dashboard = json.loads(DASHBOARD.read_text())
    sources = yaml.safe_load((MONITORING / "grafana/provisioning/datasources/prometheus.yml").read_text())
    uid = sources["datasources"][0]["uid"]
    assert {panel["datasource"]["uid"] for panel in dashboard["panels"]} == {uid}
    titles = " ".join(panel["title"] for panel in dashboard["panels"]).lower()
    for shown in ("tool calls", "error", "latency", "refusals", "oauth"):
        assert shown in titles, shown
    queries = _queries()
    assert any("histogram_quantile(0.99" in query for query in queries)
    used = {name for query in queries for name in re.findall(r"\bmcp_[a-z_]+", query)}
    assert used and used <= _exported(), used - _exported()


@pytest.mark.requires("promtool")  # fails in CI if missing, as every service does
def test_promtool_accepts_the_configuration_and_the_dashboards_queries(tmp_path):
    token = tmp_path / "metrics_token"
    token.write_text("x" * 32)
    config = tmp_path / "prometheus.yml"
    config.write_text((MONITORING / "prometheus.yml").read_text().replace("/run/secrets/metrics_token", str(token)))
    checked = subprocess.run([PROMTOOL, "check", "config", str(config)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query{number}", "expr": query} for number, query in enumerate(_queries())]}]}
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    checked = subprocess.run([PROMTOOL, "check", "rules", str(tmp_path / "rules.yml")], capture_output=True, text=True,
                             timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
