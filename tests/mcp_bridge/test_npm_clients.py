"""The MCP Inspector CLI and mcp-remote (npm, installed by `make test` into tests/e2e) against a live server."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from mcp import Client, StdioServerParameters

from tests.services import E2E_BIN

BIN = E2E_BIN

needs_npm_clients = pytest.mark.requires("npm-clients")


def _inspector(live, token: str, *args: str) -> dict:
    done = subprocess.run(
        [str(BIN / "mcp-inspector"), "--cli", f"{live.base_url}/mcp", "--transport", "http",
         "--header", f"Authorization: Bearer {token}", *args],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@needs_npm_clients
def test_inspector_cli_lists_and_calls_tools(live, token):
    listed = _inspector(live, token, "--method", "tools/list")
    assert {t["name"] for t in listed["tools"]} == {
        "list_tables",
        "describe_table",
        "execute_sql",
        "get_table_sample",
        "explain_sql",
    }
    called = _inspector(
        live,
        token,
        "--method",
        "tools/call",
        "--tool-name",
        "execute_sql",
        "--tool-arg",
        "query=SELECT COUNT(*) AS n FROM customers",
    )
    assert called["isError"] is False and called["structuredContent"]["rows"] == [[1000]]
    sample = _inspector(
        live,
        token,
        "--method",
        "tools/call",
        "--tool-name",
        "get_table_sample",
        "--tool-arg",
        "table_name=employees",
        "--tool-arg",
        "limit=2",
    )
    assert sample["structuredContent"]["row_count"] == 2


@needs_npm_clients
def test_inspector_cli_without_token_is_refused(live):
    done = subprocess.run(
        [str(BIN / "mcp-inspector"), "--cli", f"{live.base_url}/mcp", "--transport", "http", "--method", "tools/list"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0


@needs_npm_clients
@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_mcp_remote_bridges_stdio_to_the_server(live, token, tmp_path, anyio_backend):
    params = StdioServerParameters(
        command=str(BIN / "mcp-remote"),
        args=[f"{live.base_url}/mcp", "--header", f"Authorization:Bearer {token}", "--transport", "http-only"],
        env={**os.environ, "HOME": str(tmp_path)},
    )
    async with Client(params, mode="legacy") as client:
        assert "execute_sql" in {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("execute_sql", {"query": "SELECT 7 AS seven"})
        assert result.structured_content["rows"] == [[7]]
