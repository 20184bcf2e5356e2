"""Legacy SSE with several worker processes: a message POSTed to the wrong worker still reaches its stream (Redis)."""

from __future__ import annotations

import json
import queue
import threading

import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client

from mcpsite.liveserver import LiveServer

pytestmark = pytest.mark.requires("redis")
REDIS = {"REDIS_URL": "redis://127.0.0.1:6379/15"}


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Two worker processes on one database and one Redis, as uvicorn --workers 2 would run them."""
    var_dir = tmp_path_factory.mktemp("pair")
    first = LiveServer(var_dir, env=REDIS).start()
    second = LiveServer(var_dir, env=REDIS).start()
    yield first, second
    first.stop()
    second.stop()


def _events(response: httpx2.Response, into: queue.Queue) -> None:
    event = None
    try:
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                into.put((event, line.split(":", 1)[1].strip()))
    except (httpx2.TransportError, ValueError):
        pass  # the test closed the stream


def test_message_posted_to_the_other_worker_reaches_the_stream(pair):
    first, second = pair
    token = first.token(username="relay")
    auth = {"Authorization": f"Bearer {token}"}
    events: queue.Queue = queue.Queue()
    with (
        httpx2.Client(timeout=30) as http,
        http.stream("GET", f"{first.base_url}/sse", headers={**auth, "Accept": "text/event-stream"}) as stream,
    ):
        threading.Thread(target=_events, args=(stream, events), daemon=True).start()
        kind, endpoint = events.get(timeout=10)
        assert kind == "endpoint"

        def post(message: dict) -> int:
            return httpx2.post(f"{second.base_url}{endpoint}", json=message, headers=auth, timeout=10).status_code

        assert post({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}) == 202
        assert json.loads(events.get(timeout=10)[1])["result"]["serverInfo"]["name"] == "mssql-mcp-server"
        assert post({"jsonrpc": "2.0", "method": "notifications/initialized"}) == 202
        assert post({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "execute_sql", "arguments": {"query": "SELECT 99 AS n"}}}) == 202
        answer = json.loads(events.get(timeout=10)[1])
        assert answer["id"] == 2 and answer["result"]["structuredContent"]["rows"] == [[99]]


def test_relayed_message_with_another_identity_is_refused(pair):
    first, second = pair
    owner, intruder = first.token(username="owner"), first.token(username="intruder")
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    events: queue.Queue = queue.Queue()
    with (
        httpx2.Client(timeout=30) as http,
        http.stream(
            "GET", f"{first.base_url}/sse", headers={"Authorization": f"Bearer {owner}", "Accept": "text/event-stream"}
        ) as stream,
    ):
        threading.Thread(target=_events, args=(stream, events), daemon=True).start()
        _, endpoint = events.get(timeout=10)
        httpx2.post(f"{second.base_url}{endpoint}", headers={"Authorization": f"Bearer {intruder}"}, json=initialize)
        with pytest.raises(queue.Empty):
            events.get(timeout=2)
        # The stream is intact for its owner, through the same relay.
        assert (
            httpx2.post(
                f"{second.base_url}{endpoint}", headers={"Authorization": f"Bearer {owner}"}, json=initialize
            ).status_code
            == 202
        )
        assert json.loads(events.get(timeout=10)[1])["id"] == 1


def test_unknown_session_is_404_on_any_worker(pair):
    first, second = pair
    token = first.token()
    response = httpx2.post(
        f"{second.base_url}/messages/?session_id={'0' * 32}",
        json={"jsonrpc": "2.0", "method": "ping", "id": 1},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 404


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_sdk_sse_clients_against_two_uvicorn_workers(tmp_path_factory, anyio_backend):
    server = LiveServer(tmp_path_factory.mktemp("workers"), env=REDIS, workers=2).start()
    try:
        token = server.token()
        for i in range(6):
            async with Client(
                sse_client(f"{server.base_url}/sse", headers={"Authorization": f"Bearer {token}"}), mode="legacy"
            ) as client:
                for j in range(3):
                    result = await client.call_tool("execute_sql", {"query": f"SELECT {i * 10 + j} AS n"})
                    assert result.structured_content["rows"] == [[i * 10 + j]]
    finally:
        server.stop()
