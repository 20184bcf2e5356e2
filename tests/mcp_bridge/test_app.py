"""Startup: the server always starts and its first log block says what it serves; a bad target is
a category in that block, in /health (503 "degraded") and in every tool error, never a crash."""

from __future__ import annotations

import socket
import threading

import httpx2
import pytest
from django.conf import settings
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mcpsite.liveserver import LiveServer, free_port

PG = settings.DATABASES.get("target_pg")
SECRET = "Sup3r-secret-pw"


@pytest.fixture
def anyio_backend():
    return "asyncio"


def test_the_startup_block_names_the_target_the_mode_and_the_urls(live):
    log = live.log()
    block = log[log.index("Serving SQL target:"):]
    assert block.startswith("Serving SQL target: SQLite 3.") and "database 'demo.sqlite3'" in block
    assert "status: answers" in block and "read-only mode: on; login: CAN WRITE" in block
    assert "Streamable HTTP /mcp and /chatgpt/mcp; legacy SSE /sse and /chatgpt/sse" in block
    assert log.count("Serving SQL target:") == 1 and "SQL target login" not in log  # one block, no second line


@pytest.fixture(scope="module")
def silent_port():
    """A port that accepts TCP connections and never says a word (a firewall that drops, a hung server)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def _url(category: str, silent_port: int) -> str:
    user = PG["USER"]
    return {
        "unreachable": f"postgres://{user}:{SECRET}@127.0.0.1:{free_port()}/sales_dw",
        "login_failed": f"postgres://no_such_login_here:{SECRET}@127.0.0.1:5432/postgres",
        "misconfigured": f"postgres://{user}:{SECRET}@127.0.0.1:5432/no_such_database_here",
        "tls": f"postgres://{user}:{SECRET}@127.0.0.1:5432/postgres?sslmode=require",
        "timeout": f"postgres://{user}:{SECRET}@127.0.0.1:{silent_port}/sales_dw?connect_timeout=1",
    }[category]


SENTENCES = {
    "unreachable": "The SQL database could not be reached",
    "login_failed": "The SQL database refused this server's login",
    "misconfigured": "This server's settings for the SQL database are wrong",
    "tls": "A secure connection to the SQL database could not be set up",
    "timeout": "The SQL database did not answer in time",
}


@pytest.mark.requires("postgresql")  # the categories are its errors
@pytest.mark.parametrize("category", list(SENTENCES))
@pytest.mark.anyio
async def test_every_failure_category_starts_the_server_and_says_so(category, silent_port, tmp_path, anyio_backend):
    server = LiveServer(tmp_path, env={"TARGET_DATABASE_URL": _url(category, silent_port)}).start()
    try:
        health = httpx2.get(f"{server.base_url}/health", timeout=10)
        assert health.status_code == 503
        body = health.json()
        assert body["status"] == "degraded" and body["target"] == {"reachable": False, "error": category}
        assert {"transport", "oauth", "database", "mcp_version", "read_only"} <= set(body)
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {server.token()}"}, timeout=30)
        async with Client(streamable_http_client(f"{server.base_url}/mcp", http_client=http), mode="legacy") as client:
            assert "PostgreSQL" in client.instructions  # named from the settings while the version is unknown
            result = await client.call_tool("execute_sql", {"query": "SELECT 1"})
        assert result.is_error and result.content[0].text.startswith(f"{SENTENCES[category]} ({category}; log ref ")
        log = server.log()
        assert "Serving SQL target: PostgreSQL, database " in log and "(version unknown)" in log
        assert f"status: {SENTENCES[category]} ({category};" in log
        assert SECRET not in log and SECRET not in result.content[0].text and SECRET not in health.text
    finally:
        server.stop()


def test_the_insecure_development_flags_and_workers_without_redis_are_system_checks(settings, monkeypatch):
    from django.core.management import call_command

    from mcp_bridge.checks import check_bridge

    assert check_bridge() == []
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "ALLOW_UNAUTH_TOOLS_CALL": True, "ELICITATION_SESSIONS": False}
    settings.REDIS_URL = ""
    monkeypatch.setenv("WEB_CONCURRENCY", "2")
    ids = [message.id for message in check_bridge()]
    assert ids == ["mcp_bridge.W001", "mcp_bridge.W002"]
    call_command("check")  # warnings: reported, the command still succeeds


def test_elicitation_sessions_across_workers_are_a_system_check(settings, monkeypatch):
    from mcp_bridge.checks import check_bridge

    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "ELICITATION_SESSIONS": True}
    assert check_bridge() == []
    monkeypatch.setenv("WEB_CONCURRENCY", "2")
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    assert [message.id for message in check_bridge()] == ["mcp_bridge.W003"]
