"""/metrics through a real uvicorn with two workers: protected by its token, the Prometheus text of both workers
(prometheus-client's multiprocess mode) parsed with the client's own parser, and scraped by a real Prometheus
(Debian's package) whose query API returns the series."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mcpsite.liveserver import LiveServer, free_port

METRICS_TOKEN = "metrics-test-token-0123456789"
CALLS = 6


@pytest.fixture(scope="module")
def metered(tmp_path_factory) -> LiveServer:
    """Two workers sharing one per-run metrics directory, as the launchers set it up."""
    root = tmp_path_factory.mktemp("metered")
    (root / "prometheus-multiproc").mkdir()
    server = LiveServer(root, workers=2, env={"METRICS_TOKEN": METRICS_TOKEN,
                                              "PROMETHEUS_MULTIPROC_DIR": str(root / "prometheus-multiproc")})
    yield server.start()
    server.stop()


@pytest.fixture(scope="module")
def called(metered) -> LiveServer:
    """CALLS reads, one refused write, one request without a token and one with a bad token."""
    token = metered.token()
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2025-11-25"}
    for number in range(CALLS):
        _call(metered, headers, f"SELECT {number} AS n")
    refused = _call(metered, headers, "DELETE FROM orders")
    assert refused["result"]["isError"]
    assert httpx2.post(f"{metered.base_url}/mcp", json={}).status_code == 401
    assert httpx2.post(f"{metered.base_url}/mcp", json={}, headers={"Authorization": "Bearer nope"}).status_code == 401
    return metered


def _call(server: LiveServer, headers: dict[str, str], sql: str) -> dict:
    call = {"name": "execute_sql", "arguments": {"query": sql}}
    response = httpx2.post(f"{server.base_url}/mcp", headers=headers, timeout=30,
                           json={"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call})
    assert response.status_code == 200, response.text
    return response.json()


def _scrape(server: LiveServer, token: str | None = METRICS_TOKEN) -> httpx2.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx2.get(f"{server.base_url}/metrics", headers=headers, timeout=10)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_metrics_refuse_a_request_without_the_token_or_with_a_wrong_one(metered):
    missing = _scrape(metered, token=None)
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    wrong = _scrape(metered, token=METRICS_TOKEN + "x")
    assert wrong.status_code == 401 and 'error="invalid_token"' in wrong.headers["www-authenticate"]
    assert "mcp_tool_calls_total" not in missing.text + wrong.text


def test_every_scrape_sums_both_workers(called):
    """Whichever worker answers, the counts are of all calls: each scrape sees the same totals."""
    pids = set()
    for _ in range(6):
        response = _scrape(called)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
        samples = _samples(response.text)
        assert samples[("mcp_tool_calls_total", (("outcome", "ok"), ("tool", "execute_sql")))] == CALLS
        assert samples[("mcp_tool_calls_total", (("outcome", "refused_guard"), ("tool", "execute_sql")))] == 1
        assert samples[("mcp_tool_call_duration_seconds_count", (("tool", "execute_sql"),))] == CALLS + 1
        assert samples[("mcp_tool_db_duration_seconds_count", (("tool", "execute_sql"),))] == CALLS
        assert samples[("mcp_tool_rows_returned_count", (("tool", "execute_sql"),))] == CALLS
        assert samples[("mcp_http_auth_refusals_total", (("reason", "missing_token"), ("status", "401")))] == 1
        assert samples[("mcp_http_auth_refusals_total", (("reason", "invalid_token"), ("status", "401")))] == 1
        assert samples[("mcp_token_checks_total", (("result", "looked_up"),))] >= 1
        assert samples[("mcp_worker_threads", ())] == 32  # two workers of 16 (MCP_WORKER_THREADS)
        assert samples[("mcp_target_up", ())] == 1
        assert ("mcp_oauth_events_total", (("event", "token_issued"),)) in samples
        assert ("mcp_sse_streams_open", ()) in samples and ("mcp_audit_queue_depth", ()) in samples
        pids.update(path.name.rsplit("_", 1)[-1] for path in Path(called.env["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"))
    assert len(pids) >= 2  # both workers wrote their files
    assert not any(label in response.text for label in ("SELECT", "alice"))  # no SQL, no user names


PROMETHEUS = shutil.which("prometheus")


@pytest.mark.requires("prometheus")  # fails in CI if missing, as every service does
def test_a_real_prometheus_scrapes_the_series(called, tmp_path):
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: mcp\n"
        f"    authorization: {{credentials: {METRICS_TOKEN}}}\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{called.port}']}}]\n"
    )
    log = open(tmp_path / "prometheus.log", "w")
    process = subprocess.Popen([PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
                                f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    try:
        query = f"http://127.0.0.1:{port}/api/v1/query"
        deadline, found = time.monotonic() + 60, {}
        while time.monotonic() < deadline:
            try:
                result = httpx2.get(query, params={"query": 'mcp_tool_calls_total{job="mcp",tool="execute_sql"}'},
                                    timeout=5).json()["data"]["result"]
                found = {series["metric"]["outcome"]: float(series["value"][1]) for series in result}
            except (httpx2.TransportError, KeyError, ValueError):
                pass
            if found.get("ok") == CALLS:
                break
            time.sleep(0.5)
        assert found.get("ok") == CALLS and found.get("refused_guard") == 1, (tmp_path / "prometheus.log").read_text()
        up = httpx2.get(query, params={"query": 'up{job="mcp"}'}, timeout=5).json()["data"]["result"]
        assert [float(series["value"][1]) for series in up] == [1.0]
    finally:
        process.terminate()
        process.wait(10)
        log.close()
