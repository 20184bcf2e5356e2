"""`TOKEN=$(manage.py issue_token …)` as an operator types it, then a real MCP client using $TOKEN.

A subprocess with the product's own settings and logging (log lines go to stdout in every
deployment): only the token may reach stdout, or the shell captures a log line with it.
"""

from __future__ import annotations

import subprocess
import sys

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mcpsite.liveserver import ROOT, LiveServer

SCRIPT = 'TOKEN=$("$PYTHON" manage.py issue_token --username x) || exit 1; printf "%s" "$TOKEN"'


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> LiveServer:
    live = LiveServer(tmp_path_factory.mktemp("issue-token"), env={"LOG_LEVEL": "INFO"}).start()
    live.python("from django.contrib.auth import get_user_model\nget_user_model().objects.create_user('x')")
    yield live
    live.stop()


def test_stdout_is_exactly_the_token_and_logs_go_to_stderr(server):
    done = subprocess.run([sys.executable, "manage.py", "issue_token", "--username", "x"], cwd=ROOT, env=server.env,
                          capture_output=True, text=True, timeout=120, check=True)
    token = done.stdout.removesuffix("\n")
    assert done.stdout == f"{token}\n" and token.isalnum() and len(token) >= 30
    assert "Issued an access token for x" in done.stderr  # the log line that used to land on stdout
    assert "expires in 3600 s" in done.stderr


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_captured_token_works_for_a_real_client(server, anyio_backend):
    shell = subprocess.run(["sh", "-c", SCRIPT], cwd=ROOT, env={**server.env, "PYTHON": sys.executable},
                           capture_output=True, text=True, timeout=120, check=True)
    token = shell.stdout
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    async with Client(streamable_http_client(f"{server.base_url}/mcp", http_client=http), mode="legacy") as client:
        tools = await client.list_tools()
        assert "execute_sql" in {tool.name for tool in tools.tools}
        assert not (await client.call_tool("execute_sql", {"query": "SELECT 1 AS one"})).is_error
