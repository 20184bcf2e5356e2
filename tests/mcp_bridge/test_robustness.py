"""Bad input gets a protocol error, never a 500, and the server keeps serving; many clients at once."""

from __future__ import annotations

import asyncio

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}


@pytest.fixture
def auth(token):
    return {**HEADERS, "Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "body, status",
    [
        (b"{not json", 400),
        (b"[]", 400),
        (b'{"jsonrpc": "2.0", "id": 1}', 400),
        (b'{"jsonrpc": "1.0", "id": 1, "method": "tools/list"}', 400),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "no/such/method"}', 200),
        (
            b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", '
            b'"params": {"name": "execute_sql", "arguments": {"query": 5}}}',
            200,
        ),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "nope", "arguments": {}}}', 200),
        ("\udcff".encode("utf-8", "surrogatepass"), 400),
    ],
)
def test_malformed_json_rpc_gets_a_protocol_error(live, auth, body, status):
    response = httpx2.post(f"{live.base_url}/mcp", content=body, headers=auth)
    assert response.status_code == status, response.text
    payload = response.json()
    assert "error" in payload or payload.get("result", {}).get("isError") is True
    assert httpx2.get(f"{live.base_url}/health").status_code == 200


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_wrong_content_type_is_refused(live, auth, content_type):
    response = httpx2.post(f"{live.base_url}/mcp", json=INIT, headers={**auth, "Content-Type": content_type})
    assert 400 <= response.status_code < 500


def test_oversized_body_is_refused_without_reading_it_all(live, auth):
    big = (
        b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", '
        b'"params": {"name": "execute_sql", "arguments": {"query": "'
        + b"x" * 2_000_000
        + b'"}}}'
    )
    response = httpx2.post(f"{live.base_url}/mcp", content=big, headers=auth)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == -32600
    assert httpx2.get(f"{live.base_url}/health").status_code == 200


def test_foreign_origin_is_refused_and_own_origin_allowed(live, auth):
    evil = httpx2.post(f"{live.base_url}/mcp", json=INIT, headers={**auth, "Origin": "https://evil.example"})
    assert evil.status_code == 403
    own = httpx2.post(f"{live.base_url}/mcp", json=INIT, headers={**auth, "Origin": live.base_url})
    assert own.status_code == 200


def test_rebinding_host_is_refused(live, auth):
    response = httpx2.post(f"{live.base_url}/mcp", json=INIT, headers={**auth, "Host": "attacker.example"})
    assert response.status_code in (400, 421)


def test_unknown_paths_go_to_django(live):
    assert httpx2.get(f"{live.base_url}/nope").status_code == 404
    assert httpx2.get(f"{live.base_url}/mcp/").status_code in (401, 405)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_fifty_concurrent_clients_are_all_answered(live, token, anyio_backend):
    async def one(i: int) -> int:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60)
        async with Client(streamable_http_client(f"{live.base_url}/mcp", http_client=http), mode="legacy") as client:
            result = await client.call_tool("execute_sql", {"query": f"SELECT {i} AS i, COUNT(*) AS n FROM orders"})
            return result.structured_content["rows"][0][0]

    answers = await asyncio.gather(*(one(i) for i in range(50)))
    assert sorted(answers) == list(range(50))
