"""Real mcp SDK clients against a real uvicorn: every transport, every protocol era, every tool."""

from __future__ import annotations

import json

import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

pytestmark = pytest.mark.anyio

SQL_TOOLS = {"list_tables", "describe_table", "execute_sql", "get_table_sample", "explain_sql"}


@pytest.fixture
def anyio_backend():
    return "asyncio"


def _streamable(live, path: str, token: str):
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return streamable_http_client(f"{live.base_url}{path}", http_client=http)


def _sse(live, path: str, token: str):
    return sse_client(f"{live.base_url}{path}", headers={"Authorization": f"Bearer {token}"})


async def _call_every_sql_tool(client: Client) -> None:
    listed = {t.name: t for t in (await client.list_tools()).tools}
    assert set(listed) == SQL_TOOLS
    assert listed["describe_table"].input_schema["required"] == ["table_name"]
    assert listed["execute_sql"].input_schema["required"] == ["query"]
    assert listed["get_table_sample"].input_schema["properties"]["limit"]["default"] == 10
    assert listed["execute_sql"].annotations.read_only_hint is True

    tables = await client.call_tool("list_tables", {})
    assert not tables.is_error and "main.orders" in {t["name"] for t in tables.structured_content["tables"]}
    described = await client.call_tool("describe_table", {"table_name": "Orders"})
    assert described.structured_content["primary_key"] == ["order_id"]
    assert "order_id" in described.content[0].text
    sample = await client.call_tool("get_table_sample", {"table_name": "products", "limit": 3})
    assert sample.structured_content["row_count"] == 3
    result = await client.call_tool("execute_sql", {"query": "SELECT COUNT(*) AS n FROM order_lines"})
    assert result.structured_content["rows"] == [[50000]] and "50000" in result.content[0].text


@pytest.mark.parametrize("path", ["/mcp", "/sse"])
@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_streamable_http_in_both_protocol_eras(live, token, path, mode):
    async with Client(_streamable(live, path, token), mode=mode) as client:
        await _call_every_sql_tool(client)


async def test_legacy_sse_transport(live, token):
    async with Client(_sse(live, "/sse", token), mode="legacy") as client:
        await _call_every_sql_tool(client)


async def test_tool_errors_are_sentences_not_traces(live, token):
    async with Client(_streamable(live, "/mcp", token), mode="legacy") as client:
        refused = await client.call_tool("execute_sql", {"query": "DROP TABLE orders"})
        assert refused.is_error and "read-only" in refused.content[0].text
        missing = await client.call_tool("describe_table", {"table_name": "ordr"})
        assert missing.is_error and "Did you mean" in missing.content[0].text
        failed = await client.call_tool("execute_sql", {"query": "SELECT nope FROM orders"})
        assert failed.is_error and "Traceback" not in failed.content[0].text


@pytest.mark.parametrize("transport", ["/chatgpt/mcp", "/chatgpt/sse-legacy", "/chatgpt/sse"])
async def test_chatgpt_search_and_fetch_shapes(live, token, transport):
    path = transport.removesuffix("-legacy")
    opened = _sse(live, path, token) if transport.endswith("-legacy") else _streamable(live, path, token)
    async with Client(opened, mode="legacy") as client:
        assert {t.name for t in (await client.list_tools()).tools} == {"search", "fetch"}
        found = await client.call_tool("search", {"query": "list tables"})
        assert len(found.content) == 1
        results = json.loads(found.content[0].text)["results"]
        assert results and all(set(r) == {"id", "title", "url"} and r["url"] for r in results)
        fetched = await client.call_tool("fetch", {"id": results[0]["id"]})
        record = json.loads(fetched.content[0].text)
        assert set(record) == {"id", "title", "text", "url", "metadata"} and record["url"]


async def test_audit_log_names_the_user_and_client(live):
    token = live.token(username="auditor", client="Audit Client")
    async with Client(_streamable(live, "/mcp", token), mode="legacy") as client:
        await client.call_tool("execute_sql", {"query": "SELECT 42 AS answer"})
    row = live.python(
        "from sqltools.models import AuditEntry\n"
        "e = AuditEntry.objects.filter(username='auditor').latest('created_at')\n"
        "print(e.client_name, e.tool, e.outcome, e.rows, e.sql)"
    )
    assert row == "Audit Client execute_sql ok 1 SELECT 42 AS answer"


@pytest.mark.parametrize("version", ["2025-03-26", "2025-06-18", "2025-11-25"])
def test_each_handshake_version_is_answered_in_kind(live, token, version):
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"}
    init = httpx2.post(
        f"{live.base_url}/mcp",
        headers=headers,
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
        },
    )
    assert init.status_code == 200 and init.json()["result"]["protocolVersion"] == version
    call = httpx2.post(
        f"{live.base_url}/mcp",
        headers={**headers, "MCP-Protocol-Version": version},
        json={
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "execute_sql", "arguments": {"query": "SELECT 3 AS x"}},
        },
    )
    assert call.json()["result"]["structuredContent"]["rows"] == [[3]]


def test_health_reports_what_is_served(live):
    body = httpx2.get(f"{live.base_url}/health").json()
    assert body["status"] == "healthy" and body["oauth"] == "enabled" and body["read_only"] is True
    assert body["transports"] == ["streamable-http", "sse"] and "2026-07-28" in body["mcp_versions"]
    assert body["mcp_version"] == "2025-11-25"
