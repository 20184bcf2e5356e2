"""The tools as a client sees them, through a real uvicorn and the SDK client (which validates every
structuredContent against the tool's outputSchema): metadata, caps in words, the whole response within
MAX_RESULT_CHARS, and errors an assistant can act on."""

from __future__ import annotations

import json

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mcpsite.liveserver import LiveServer

pytestmark = pytest.mark.anyio
CAP = 20_000


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> LiveServer:
    """A server whose responses must fit 20,000 characters, with three sample rows at most."""
    server = LiveServer(tmp_path_factory.mktemp("small"), env={"MAX_RESULT_CHARS": str(CAP), "MAX_SAMPLE_ROWS": "3"})
    yield server.start()
    server.stop()


def _client(server: LiveServer, token: str, path: str = "/mcp") -> Client:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60)
    return Client(streamable_http_client(f"{server.base_url}{path}", http_client=http), mode="legacy")


async def test_every_tool_has_a_title_a_dialect_aware_description_and_an_output_schema(live, token):
    async with _client(live, token) as client:
        info = client.server_info
        assert info.name == "mssql-mcp-server" and info.version == "3.0.0"
        assert "SQLite 3." in client.instructions and "MAX_ROWS" in client.instructions
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert all(t.title for t in tools.values())
    assert all(t.output_schema and t.output_schema["type"] == "object" for t in tools.values())
    execute = tools["execute_sql"].description
    assert "SQLite 3." in execute and "LIMIT 10" in execute
    assert all(cap in execute for cap in ("1,000 rows", "100,000 characters", "30 s"))
    assert "1 to 100" in tools["get_table_sample"].description
    assert "SQLite" in tools["execute_sql"].input_schema["properties"]["query"]["description"]


async def test_chatgpt_tools_keep_their_shape_with_titles(live, token):
    async with _client(live, token, "/chatgpt/mcp") as client:
        assert client.server_info.version == "3.0.0"
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == {"search", "fetch"} and all(t.title for t in tools.values())
        assert all(t.output_schema is None for t in tools.values())  # one text item holding JSON, nothing else
        found = await client.call_tool("search", {"query": "describe customers"})
        assert len(found.content) == 1 and found.structured_content is None
        assert set(json.loads(found.content[0].text)) == {"results"}


async def test_every_sql_tool_result_validates_against_its_schema(live, token):
    async with _client(live, token) as client:  # the SDK client raises if structuredContent breaks outputSchema
        assert not (await client.call_tool("list_tables", {})).is_error
        assert not (await client.call_tool("describe_table", {"table_name": "employees"})).is_error
        assert not (await client.call_tool("get_table_sample", {"table_name": "orders", "limit": 2})).is_error
        result = await client.call_tool("execute_sql", {"query": "SELECT 1 AS one, 'x' AS two, NULL AS three"})
        assert result.structured_content["rows"] == [[1, "x", None]]
        assert result.content[0].text.endswith("ms).")


async def test_caps_are_never_silent(live, token):
    async with _client(live, token) as client:
        sample = await client.call_tool("get_table_sample", {"table_name": "customers", "limit": 5000})
        data = sample.structured_content
        assert (data["row_count"], data["limit_requested"], data["limit_applied"]) == (100, 5000, 100)
        assert data["truncated"] and data["truncated_reason"] == "max_sample_rows"
        assert data["notice"] in sample.content[0].text and "MAX_SAMPLE_ROWS" in data["notice"]
        zero = await client.call_tool("get_table_sample", {"table_name": "customers", "limit": 0})
        assert zero.is_error and "limit must be at least 1" in zero.content[0].text
        many = await client.call_tool("execute_sql", {"query": "SELECT order_id FROM orders"})
        data = many.structured_content
        assert (data["row_count"], data["truncated"], data["truncated_reason"], data["limit_applied"]) == (
            1000,
            True,
            "max_rows",
            1000,
        )
        assert "More rows exist" in many.content[0].text


async def test_a_write_says_how_many_rows_it_affected(writable):
    async with _client(writable, writable.token(scope="sql:read sql:write")) as client:
        result = await client.call_tool(
            "execute_sql", {"query": "UPDATE products SET name = name WHERE product_id = 1"}
        )
    assert result.content[0].text.startswith("1 row affected (")
    assert result.structured_content["rows_affected"] == 1 and result.structured_content["statement_type"] == "dml"


async def test_errors_name_the_fix(live, token):
    async with _client(live, token) as client:
        top = await client.call_tool("execute_sql", {"query": "SELECT TOP 5 * FROM orders"})
        assert top.is_error and "SQLite has no TOP: put LIMIT 5 at the end" in top.content[0].text
        missing = await client.call_tool("execute_sql", {"query": "SELECT * FROM Order_Line"})
        assert missing.is_error and "Did you mean: main.order_lines" in missing.content[0].text
        now = await client.call_tool("execute_sql", {"query": "SELECT GETDATE()"})
        assert now.is_error and "use datetime('now')" in now.content[0].text
        table = await client.call_tool("describe_table", {"table_name": "customer"})
        assert table.is_error and "customers, main.customers" not in table.content[0].text


def _rpc(server: LiveServer, token: str, name: str, arguments: dict) -> httpx2.Response:
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-06-18",
    }
    return httpx2.post(
        f"{server.base_url}{'/chatgpt' * (name in ('search', 'fetch'))}/mcp",
        headers=headers,
        timeout=60,
        json={"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": name, "arguments": arguments}},
    )


# Quotes, newlines, tabs and non-ASCII letters cost more once escaped in JSON: the budget counts the escaped form.
WIDE = "SELECT customer_id, name || char(10) || '\"Zoë\"' || char(9) || email AS who, notes, country FROM customers"


@pytest.mark.parametrize(
    "name, arguments", [("execute_sql", {"query": WIDE}), ("list_tables", {}), ("search", {"query": WIDE})]
)
def test_the_whole_serialized_response_fits_the_cap(small, name, arguments):
    response = _rpc(small, small.token(), name, arguments)
    assert response.status_code == 200
    assert len(response.text) <= CAP, len(response.text)
    result = response.json()["result"]
    assert not result.get("isError"), result
    if name == "execute_sql":
        assert len(response.text) > CAP * 0.8  # cut near the cap, not far below it
        data = result["structuredContent"]
        assert data["truncated"] and data["truncated_reason"] == "max_chars" and "MAX_RESULT_CHARS" in data["notice"]
        lines = result["content"][0]["text"].split("\n")  # a header, the same rows as the structured copy, a summary
        assert len(lines) == data["row_count"] + 2 and data["notice"] in lines[-1]


async def test_a_cut_result_still_validates_through_the_sdk_client(small):
    async with _client(small, small.token()) as client:
        result = await client.call_tool("execute_sql", {"query": WIDE})
        assert result.structured_content["truncated_reason"] == "max_chars"
        assert result.structured_content["notice"] in result.content[0].text
        fetched = await _first_fetch(small)
        assert len(fetched.text) <= CAP


async def _first_fetch(server: LiveServer) -> httpx2.Response:
    token = server.token()
    found = json.loads(_rpc(server, token, "search", {"query": WIDE}).json()["result"]["content"][0]["text"])
    response = _rpc(server, token, "fetch", {"id": found["results"][0]["id"]})
    record = json.loads(response.json()["result"]["content"][0]["text"])
    assert set(record) == {"id", "title", "text", "url", "metadata"}
    return response
