"""/metrics as Django serves it: off unless configured, the token compared exactly, allowed addresses read the
way the rest of the server reads them. (Two workers and a real Prometheus: tests/telemetry/test_metrics.py.)"""

from __future__ import annotations

import subprocess
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mcpsite.liveserver import ROOT

TOKEN = "t" * 40


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = TOKEN, []
    return settings


def test_metrics_are_off_by_default(client, settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = "", []
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 404


@pytest.mark.parametrize("authorization", ["", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN])
def test_metrics_refuse_anything_but_the_token(client, metrics_on, authorization):
    response = client.get("/metrics", **({"HTTP_AUTHORIZATION": authorization} if authorization else {}))
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith('Bearer realm="metrics"')
    assert b"mcp_" not in response.content


def test_the_token_opens_the_prometheus_text(client, metrics_on):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain; version=")
    assert "no-cache" in response["Cache-Control"]
    families = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert {"mcp_tool_calls", "mcp_tool_call_duration_seconds", "mcp_oauth_events", "mcp_http_auth_refusals",
            "mcp_token_checks", "mcp_target_up", "mcp_sse_streams_open", "mcp_worker_threads_busy",
            "mcp_audit_queue_depth", "mcp_audit_write_failures"} <= families
    assert client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


def test_allowed_addresses_need_no_token_and_a_forged_forwarded_for_gets_nothing(client, settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = "", ["10.1.0.0/16", "192.0.2.7"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.8").status_code == 401
    settings.TRUST_PROXY_HEADERS = True  # behind nginx: the hop it appended is the caller, not what the caller wrote
    assert client.get("/metrics", REMOTE_ADDR="172.18.0.2", HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="172.18.0.2",
                      HTTP_X_FORWARDED_FOR="10.1.2.3, 203.0.113.9").status_code == 401


def test_a_wrong_allowed_address_stops_the_server_at_startup():
    done = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={"DJANGO_SETTINGS_MODULE": "mcpsite.settings",
                                                      "METRICS_ALLOWED_IPS": "10.0.0.0/8,prometheus", "PATH": ""})
    assert done.returncode != 0 and "METRICS_ALLOWED_IPS: 'prometheus' is not an address" in done.stderr
