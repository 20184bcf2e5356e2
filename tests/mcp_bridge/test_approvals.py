"""Approvals end to end: two real uvicorn workers, the SDK client on each path, the page approved over HTTP.

Path 1: 2026-07-28 with an elicitation callback (InputRequiredResult, URL elicitation, sealed requestState).
Path 2: handshake era with URL elicitation declared, on the legacy SSE transport or in a Streamable HTTP session
(elicitation/create mid-call).
Path 3: handshake era on stateless Streamable HTTP (no elicitation declared, or MCP_ELICITATION_SESSIONS off, or a
session's request that reached another worker): the link in words.
Each checks, by a checksum of the table, that nothing ran before the click.
"""

from __future__ import annotations

import re

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import ElicitResult

from mcpsite.liveserver import LiveServer
from tests.services import require

pytestmark = pytest.mark.anyio
PASSWORD = "a long test password"
LINK = re.compile(r"https?://\S+/approvals/([0-9a-f-]{36})")


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> LiveServer:
    """Write mode, every write approved by a person; two workers sharing one database and Redis."""
    require("redis")
    live = LiveServer(tmp_path_factory.mktemp("approvals"), workers=2, env={
        "READ_ONLY_MODE": "false", "WRITE_APPROVAL": "required", "REDIS_URL": "redis://127.0.0.1:6379/14",
        "MCP_ELICITATION_SESSIONS": "false"}).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory) -> LiveServer:
    """One worker with elicitation sessions (the default): a session's every request reaches its worker."""
    live = LiveServer(tmp_path_factory.mktemp("one-worker"), env={"READ_ONLY_MODE": "false",
                                                                   "WRITE_APPROVAL": "required"}).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def token(server) -> str:
    return writer_token(server)


def checksum(server: LiveServer) -> str:
    return server.python(
        "import hashlib\nfrom django.db import connections\nc = connections['target'].cursor()\n"
        "c.execute('SELECT * FROM orders ORDER BY 1')\nprint(hashlib.sha256(repr(c.fetchall()).encode()).hexdigest())")


def writer_token(server: LiveServer) -> str:
    raw = server.token(username="alice", scope="sql:read sql:write", client="Claude")
    server.python("from django.contrib.auth import get_user_model\n"
                  f"u = get_user_model().objects.get(username='alice'); u.set_password({PASSWORD!r}); u.save()")
    return raw


def decide(server: LiveServer, url: str, decision: str = "approve") -> None:
    """What the user does: open the link, sign in, click (a real login and a CSRF-protected form over HTTP)."""
    path = url[url.index("/approvals/"):]
    with httpx2.Client(base_url=server.base_url, timeout=30) as web:
        web.get("/accounts/login/")
        signed_in = web.post("/accounts/login/", data={"username": "alice", "password": PASSWORD, "next": path,
                                                       "csrfmiddlewaretoken": web.cookies["csrftoken"]})
        assert signed_in.status_code == 302, signed_in.text
        page = web.get(path)
        assert page.status_code == 200 and "UPDATE orders" in page.text
        done = web.post(path, data={"decision": decision, "csrfmiddlewaretoken": web.cookies["csrftoken"]})
        assert done.status_code == 200, done.text


def _http(token: str) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=120)


def streamable(server: LiveServer, token: str, **options) -> Client:
    return Client(streamable_http_client(f"{server.base_url}/mcp", http_client=_http(token)), **options)


def approving(server, before, seen: list):
    """An elicitation callback that is the user: checks nothing ran yet, clicks Approve on the page, accepts."""
    async def elicitation(context, params):
        seen.append(params)
        assert checksum(server) == before  # the question comes before anything runs
        await anyio.to_thread.run_sync(decide, server, params.url)
        return ElicitResult(action="accept")
    return elicitation


async def test_path_3_the_link_in_words_then_the_same_statement_runs_once(server, token):
    sql = "UPDATE orders SET status = 'held' WHERE order_id = 3"
    before = checksum(server)
    async with streamable(server, token, mode="legacy") as client:
        first = await client.call_tool("execute_sql", {"query": sql})
        text = first.content[0].text
        assert first.is_error and "needs the user's approval first" in text and "WRITE_APPROVAL=required" in text
        assert "run the same statement again" in text and "The link expires at" in text
        url = LINK.search(text).group(0)
        assert checksum(server) == before  # nothing ran before the click
        decide(server, url)
        assert checksum(server) == before  # nor at the click
        ran = await client.call_tool("execute_sql", {"query": sql})
        assert not ran.is_error and ran.structured_content["rows_affected"] == 1
        after = checksum(server)
        assert after != before
        again = await client.call_tool("execute_sql", {"query": sql})  # single use: asks again
        assert again.is_error and LINK.search(again.content[0].text).group(0) != url and checksum(server) == after


async def test_path_3_for_a_handshake_client_that_declared_elicitation_when_sessions_are_off(server, token):
    asked = []

    async def elicitation(context, params):
        asked.append(params)
        return ElicitResult(action="accept")

    before = checksum(server)
    async with streamable(server, token, mode="legacy", elicitation_callback=elicitation) as client:
        result = await client.call_tool("execute_sql", {"query": "DELETE FROM order_lines WHERE order_line_id = 1"})
    assert result.is_error and LINK.search(result.content[0].text) and asked == []  # no channel for a request
    assert checksum(server) == before


async def test_path_1_input_required_with_url_elicitation_completes_the_call(server, token):
    sql = "UPDATE orders SET status = 'held' WHERE order_id = 4"
    before = checksum(server)
    seen = []
    elicitation = approving(server, before, seen)

    async with streamable(server, token, mode="2026-07-28", elicitation_callback=elicitation) as client:
        result = await client.call_tool("execute_sql", {"query": sql})
    assert not result.is_error, result.content[0].text
    assert result.structured_content["rows_affected"] == 1 and checksum(server) != before
    assert seen[0].mode == "url" and "/approvals/" in seen[0].url and "needs the user's approval" in seen[0].message


async def test_path_1_declined_on_the_page_or_not_opened(server, token):
    before = checksum(server)

    async def decline_on_the_page(context, params):
        await anyio.to_thread.run_sync(decide, server, params.url, "decline")
        return ElicitResult(action="accept")

    async def not_opened(context, params):
        return ElicitResult(action="decline")

    for callback, words in ((decline_on_the_page, "declined this statement"), (not_opened, "did not open")):
        async with streamable(server, token, mode="2026-07-28", elicitation_callback=callback) as client:
            result = await client.call_tool(
                "execute_sql", {"query": "UPDATE orders SET status = 'x' WHERE order_id = 5"}
            )
        assert result.is_error and words in result.content[0].text
    assert checksum(server) == before


async def test_path_1_without_elicitation_gets_the_link_in_words(server, token):
    async with streamable(server, token, mode="2026-07-28") as client:
        result = await client.call_tool("execute_sql", {"query": "UPDATE orders SET status = 'x' WHERE order_id = 6"})
    assert result.is_error and LINK.search(result.content[0].text)


async def test_path_2_legacy_sse_elicits_the_page_mid_call(server, token):
    sql = "UPDATE orders SET status = 'held' WHERE order_id = 8"
    before = checksum(server)
    elicitation = approving(server, before, [])

    transport = sse_client(f"{server.base_url}/sse", headers={"Authorization": f"Bearer {token}"})
    async with Client(transport, mode="legacy", elicitation_callback=elicitation) as client:
        result = await client.call_tool("execute_sql", {"query": sql})
    assert not result.is_error, result.content[0].text
    assert result.structured_content["rows_affected"] == 1 and checksum(server) != before


async def test_path_2_a_streamable_http_session_for_a_client_that_declared_url_elicitation(one_worker):
    token = writer_token(one_worker)
    sql = "UPDATE orders SET status = 'held' WHERE order_id = 9"
    before = checksum(one_worker)
    seen = []
    elicitation = approving(one_worker, before, seen)

    async with streamable(one_worker, token, mode="legacy", elicitation_callback=elicitation) as client:
        result = await client.call_tool("execute_sql", {"query": sql})
        assert not result.is_error, result.content[0].text
        assert result.structured_content["rows_affected"] == 1 and checksum(one_worker) != before
        assert seen[0].mode == "url" and seen[0].elicitation_id
    async with streamable(one_worker, token, mode="legacy") as client:  # no elicitation declared: stateless
        plain = await client.call_tool("execute_sql", {"query": sql})
    assert plain.is_error and LINK.search(plain.content[0].text)


async def test_explain_sql_shows_the_plan_without_running_and_validates(server, token):
    before = checksum(server)
    async with streamable(server, token, mode="legacy") as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert tools["explain_sql"].output_schema and "without running it" in tools["explain_sql"].description
        assert "every write waits for the user's approval" in tools["execute_sql"].description
        plan = await client.call_tool("explain_sql", {"query": "DELETE FROM orders WHERE customer_id = 3"})
        read = await client.call_tool("explain_sql", {"query": "SELECT * FROM orders o JOIN customers c "
                                                                "ON c.customer_id = o.customer_id"})
    assert not plan.is_error and plan.structured_content["executed"] is False and checksum(server) == before
    text = read.content[0].text
    assert text.startswith("SQLite estimated plan (the statement was not run)") and "[scan]" in text
    assert read.structured_content["dialect"] == "SQLite" and read.structured_content["raw_plan"]
