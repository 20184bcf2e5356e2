"""Large results serialized once (mcp_bridge.bulk): the client receives exactly what the SDK would have sent,
over every transport, and the splice touches nothing else."""

from __future__ import annotations

import contextlib
import json
import sqlite3

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from mcp_bridge import bulk
from mcpsite.liveserver import LiveServer

LARGE = "SELECT * FROM order_lines ORDER BY order_line_id LIMIT 3000"


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def _spliced(body: bytes, headers: list[tuple[bytes, bytes]], more: list[bytes] = ()) -> list[dict]:
    sent = []

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": bool(more)})
        for i, chunk in enumerate(more):
            await send({"type": "http.response.body", "body": chunk, "more_body": i < len(more) - 1})

    async def send(message):
        sent.append(message)

    await bulk.Splicing(app)({"type": "http"}, None, send)
    return sent


@pytest.mark.anyio
async def test_placeholders_become_their_json_and_content_length_follows(anyio_backend):
    token = bulk._active.set(True)
    try:
        assert bulk.bulk_available()
        placeholder = bulk.placeholder_result(text_json=['"a\\tb', '\\n1\\t2"'],
                                              structured_json=['{"rows": [', "[1, 2]", "]}"])
    finally:
        bulk._active.reset(token)
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "result": placeholder.model_dump(mode="json", by_alias=True,
                                                                                    exclude_none=True)},
                      separators=(",", ":")).encode()
    start, *messages = await _spliced(body, [(b"content-type", b"application/json"),
                                             (b"content-length", str(len(body)).encode())])
    assert [m["more_body"] for m in messages] == [True] * (len(messages) - 1) + [False]
    whole = b"".join(m["body"] for m in messages)  # sent in pieces, never joined by the server
    result = json.loads(whole)["result"]
    assert result["content"][0]["text"] == "a\tb\n1\t2" and result["structuredContent"] == {"rows": [[1, 2]]}
    assert dict(start["headers"])[b"content-length"] == str(len(whole)).encode()
    assert not bulk._pending  # each placeholder is spliced once, then forgotten


@pytest.mark.anyio
async def test_an_unknown_or_lookalike_marker_is_left_as_it_is(anyio_backend):
    body = b'data: {"text":"@@mcp-bulk-' + b"0" * 32 + b't@@"}\r\n\r\n'
    sent = await _spliced(b": ping\r\n\r\n", [(b"content-type", b"text/event-stream")], more=[body])
    assert [m.get("body") for m in sent[1:]] == [b": ping\r\n\r\n", body]


@pytest.mark.anyio
async def test_a_ping_on_an_sse_stream_waits_until_a_spliced_event_is_sent_whole(anyio_backend):
    """A large event goes out in several sends; sse_starlette's keep-alive ping does not wait for the data's
    sends, so while a slow client holds them back (uvicorn awaits the socket's drain) a ping could land inside
    the event's data line and cut its JSON."""
    from sse_starlette.sse import EventSourceResponse, ServerSentEvent

    rows = [[i, "x" * 100] for i in range(3000)]  # about 350 KB: six sends
    token = bulk._active.set(True)
    try:
        placeholder = bulk.placeholder_result(text_json=['"a', '\\nb"'],
                                              structured_json=['{"rows": [', json.dumps(rows)[1:-1], "]}"])
    finally:
        bulk._active.reset(token)
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "result": placeholder.model_dump(mode="json", by_alias=True,
                                                                                    exclude_none=True)})

    async def events():
        yield ServerSentEvent(data=body, event="message")

    sent = []

    async def slow_client(message):
        if message["type"] == "http.response.body":
            await anyio.sleep(0.01)
        sent.append(message)

    async def receive():
        await anyio.sleep_forever()

    scope = {"type": "http", "method": "GET", "asgi": {"spec_version": "2.4"}}
    await bulk.Splicing(EventSourceResponse(events(), ping=0.002))(scope, receive, slow_client)
    stream = b"".join(m.get("body", b"") for m in sent[1:]).decode()
    assert any(line.startswith(": ping") for line in stream.split("\r\n"))  # pings were sent, between events
    event = next(e for e in stream.split("\r\n\r\n") if e.startswith("event: message"))
    data = json.loads(event.split("\r\n")[1].removeprefix("data: "))
    assert data["result"]["structuredContent"] == {"rows": rows} and data["result"]["content"][0]["text"] == "a\nb"


@pytest.mark.anyio
async def test_a_streams_headers_go_out_at_once_and_only_a_sized_body_waits(anyio_backend):
    """A stream (no Content-Length: SSE, the stateful GET /mcp) may send nothing for a while after its start; its
    headers must reach the client then, not with the first event."""
    sent = []

    async def send(message):
        sent.append(message)

    async def stream(scope, receive, send_):
        headers = [(b"content-type", b"text/event-stream")]
        await send_({"type": "http.response.start", "status": 200, "headers": headers})
        assert [m["type"] for m in sent] == ["http.response.start"]
        await send_({"type": "http.response.body", "body": b": ping\r\n\r\n", "more_body": False})

    async def sized(scope, receive, send_):
        await send_({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        assert sent == []  # held: the splice may change its length
        await send_({"type": "http.response.body", "body": b"{}"})

    await bulk.Splicing(stream)({"type": "http"}, None, send)
    sent.clear()
    await bulk.Splicing(sized)({"type": "http"}, None, send)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]


def test_outside_an_mcp_request_no_placeholder_is_made():
    assert not bulk.bulk_available()


@pytest.fixture(scope="module")
def large(tmp_path_factory) -> LiveServer:
    server = LiveServer(tmp_path_factory.mktemp("bulk"), env={"MAX_ROWS": "5000", "MAX_RESULT_CHARS": "10000000"})
    yield server.start()
    server.stop()


@contextlib.asynccontextmanager
async def _client(server: LiveServer, token: str, transport: str):
    headers = {"Authorization": f"Bearer {token}"}
    if transport == "sse":
        async with Client(sse_client(f"{server.base_url}/sse", headers=headers), mode="legacy") as client:
            yield client
        return
    async with (httpx2.AsyncClient(headers=headers, timeout=60) as http,
                Client(streamable_http_client(f"{server.base_url}/mcp", http_client=http),
                       mode="legacy" if transport == "mcp-legacy" else "2026-07-28") as client):
        yield client


@pytest.mark.anyio
@pytest.mark.parametrize("transport", ["mcp-legacy", "mcp-2026", "sse"])
async def test_a_large_result_arrives_whole_and_valid_on_every_transport(large, anyio_backend, transport):
    token = large.token(username="bulk")
    with sqlite3.connect(large.var_dir / "demo.sqlite3") as db:
        expected = [list(row) for row in db.execute(LARGE)]
    async with _client(large, token, transport) as client:  # the SDK client checks structuredContent's schema
        result = await client.call_tool("execute_sql", {"query": LARGE})
        small = await client.call_tool("execute_sql", {"query": "SELECT 1 AS one"})
    assert not result.is_error
    assert result.structured_content["rows"] == expected and result.structured_content["row_count"] == 3000
    text = result.content[0].text
    assert text.startswith("order_line_id\torder_id") and "3,000 rows" in text.splitlines()[-1]
    assert len(text.splitlines()) == 3002
    assert small.structured_content["rows"] == [[1]]


TEXTS = ("SELECT customer_id, name || ' é€😀 \"q\" \\' AS name, notes, credit_limit, country FROM customers "
         "ORDER BY customer_id")


@pytest.mark.anyio
@pytest.mark.parametrize("transport", ["mcp-2026", "sse"])
async def test_a_large_result_of_text_arrives_whole_with_its_characters(large, anyio_backend, transport):
    """Text, NULLs and characters outside ASCII (JSON escapes, multi-byte UTF-8 across the parts) survive the
    parts being written batch by batch and sent without being joined; Content-Length counts bytes."""
    token = large.token(username="bulk")
    with sqlite3.connect(large.var_dir / "demo.sqlite3") as db:
        expected = [list(row) for row in db.execute(TEXTS)]
    async with _client(large, token, transport) as client:
        result = await client.call_tool("execute_sql", {"query": TEXTS})
    assert not result.is_error and result.structured_content["rows"] == expected and len(expected) == 1000
    lines = result.content[0].text.splitlines()
    assert lines[0] == "customer_id\tname\tnotes\tcredit_limit\tcountry" and len(lines) == 1002
    assert lines[1].split("\t")[1].endswith(' é€😀 "q" \\') and "NULL" in result.content[0].text


@pytest.mark.parametrize("rows", [
    [[i, -i // 3, i % 50, 12.5 + i % 13, 0.05, 1e-7, 10**20, 2.5e300] for i in range(300)], [[1]], [[1, 2], [3, 4]]])
def test_a_table_of_numbers_reads_its_text_off_its_json(rows, monkeypatch):
    from sqltools import values

    expected = "\n".join(values.row_text(r) for r in rows)
    monkeypatch.setattr(values, "row_text", None)  # the fast way does not write a row at a time
    assert values.rows_text(rows, json.dumps(rows, ensure_ascii=False)) == expected


@pytest.mark.parametrize("rows", [[[None, 1]], [[True]], [["x"]], [[[1, 2]]], [[{"a": 1}]], [[1, "2, 3"]]])
def test_anything_but_numbers_takes_the_usual_way(rows, monkeypatch):
    from sqltools import values

    assert values.rows_text(rows, json.dumps(rows, ensure_ascii=False)) == "\n".join(values.row_text(r) for r in rows)
    monkeypatch.setattr(values, "row_text", None)
    with pytest.raises(TypeError):
        values.rows_text(rows, json.dumps(rows, ensure_ascii=False))


# Decimals, dates and timestamps: PostgreSQL and MariaDB return them as objects that value_to_json converts.
TYPED = ("SELECT o.order_id, o.ordered_at, o.shipped_on, o.status, l.unit_price, l.discount, l.quantity "
         "FROM orders o JOIN order_lines l ON l.order_id = o.order_id WHERE l.order_line_id <= 3000 "
         "ORDER BY l.order_line_id")


def _target_url(alias: str) -> dict[str, str]:
    from django.db import connections

    if alias == "target":
        return {}  # the server's own SQLite demo, seeded like the tests' copy
    db = connections[alias].settings_dict
    scheme = "postgres" if alias == "target_pg" else "mysql"
    return {"TARGET_DATABASE_URL": f"{scheme}://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}


def _rpc(server: LiveServer, query: str):
    headers = {"Authorization": f"Bearer {server.token(username='bulk')}", "MCP-Protocol-Version": "2025-06-18",
               "Accept": "application/json, text/event-stream"}
    return httpx2.post(f"{server.base_url}/mcp", headers=headers, timeout=60, json={
        "jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "execute_sql", "arguments": {"query": query}}})


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_streamed_result_of_decimals_and_dates_is_the_unstreamed_one_on_every_target(target_alias, tmp_path,
                                                                                      sqltools_config):
    """The server writes the rows batch by batch (sqltools' encode_over) and splices them; what arrives is what
    query_run returns held as objects, in both copies, converted values included."""
    from sqltools.query import query_run
    from sqltools.values import json_text, row_text

    sqltools_config(MAX_ROWS=5000, MAX_RESULT_CHARS=10_000_000)
    plain = query_run(sql=TYPED, alias=target_alias)
    assert plain.row_count > 1000 and not plain.truncated
    assert any(isinstance(v, str) and "-" in v for v in plain.rows[0])  # a date written as text, not a number
    server = LiveServer(tmp_path, env={"MAX_ROWS": "5000", "MAX_RESULT_CHARS": "10000000",
                                       **_target_url(target_alias)}).start()
    try:
        response = _rpc(server, TYPED)
    finally:
        server.stop()
    assert response.status_code == 200 and int(response.headers["content-length"]) == len(response.content)
    result = response.json()["result"]
    data = result["structuredContent"]
    assert data["rows"] == json.loads(json_text(plain.rows))
    assert (data["row_count"], data["truncated"], data["truncated_reason"]) == (plain.row_count, False, None)
    lines = result["content"][0]["text"].split("\n")
    assert lines[1:-1] == [row_text(row) for row in plain.rows]


@pytest.fixture(scope="module")
def tight(tmp_path_factory) -> LiveServer:
    server = LiveServer(tmp_path_factory.mktemp("tight"), env={"MAX_ROWS": "5000", "MAX_RESULT_CHARS": "40000"})
    yield server.start()
    server.stop()


@pytest.mark.parametrize("query", [LARGE, TEXTS])
def test_a_streamed_result_cut_for_a_small_budget_fits_it_whole_and_says_so(tight, query):
    """Rows written as fetched are cut where both copies fill MAX_RESULT_CHARS: the whole response, envelope
    included, stays within it, holds the first rows, and says max_chars."""
    response = _rpc(tight, query)
    assert response.status_code == 200 and int(response.headers["content-length"]) == len(response.content)
    assert 40_000 * 0.8 < len(response.text) <= 40_000
    result = response.json()["result"]
    data = result["structuredContent"]
    assert (data["truncated"], data["truncated_reason"]) == (True, "max_chars") and "MAX_RESULT_CHARS" in data["notice"]
    with sqlite3.connect(tight.var_dir / "demo.sqlite3") as db:
        expected = [list(row) for row in db.execute(query)]
    assert data["rows"] == expected[:data["row_count"]] and 50 < data["row_count"] < len(expected)
    lines = result["content"][0]["text"].split("\n")
    assert len(lines) == data["row_count"] + 2 and data["notice"] in lines[-1]
