"""The framework floor: a bare mcp SDK server with one `execute_sql` tool, no auth, no audit, no parse.

Same transports and settings as the product (stateless Streamable HTTP with JSON responses on
/mcp, legacy HTTP+SSE on /sse and /messages/, DNS-rebinding checks on), same SQLite file, and a
result of the same shape (a text item plus structuredContent with columns and rows). Served by
`python -m uvicorn bench.bare_server:app` with BENCH_DB naming the SQLite file.
"""

from __future__ import annotations

import gc
import json
import os
import sqlite3
import threading
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.sse import SseServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import CallToolResult, TextContent
from starlette.types import Receive, Scope, Send

_local = threading.local()


def _connection() -> sqlite3.Connection:
    """One read-only connection per worker thread (sqlite3 connections stay in their thread)."""
    if not hasattr(_local, "connection"):
        _local.connection = sqlite3.connect(f"file:{os.environ['BENCH_DB']}?mode=ro", uri=True)
    return _local.connection


def execute_sql(query: str) -> CallToolResult:
    """Execute a SQL query and return its rows."""
    cursor = _connection().execute(query)
    columns = [d[0] for d in cursor.description or ()]
    rows = [list(row) for row in cursor.fetchall()]
    data = {"columns": columns, "rows": rows, "row_count": len(rows)}
    return CallToolResult(content=[TextContent(type="text", text=json.dumps(data))], structured_content=data)


server = MCPServer(name="bare")
server.add_tool(execute_sql)
_security = TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=["127.0.0.1:*"],
                                      allowed_origins=["http://127.0.0.1:*"])
_streamable = StreamableHTTPSessionManager(app=server._lowlevel_server, json_response=True, stateless=True,
                                           security_settings=_security)
_sse = SseServerTransport("/messages/", security_settings=_security)


async def _handle_sse(scope: Scope, receive: Receive, send: Send) -> None:
    lowlevel = server._lowlevel_server
    async with _sse.connect_sse(scope, receive, send) as (read_stream, write_stream):
        await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())


async def app(scope: Scope, receive: Receive, send: Send) -> Any:
    if scope["type"] == "lifespan":
        message = await receive()
        if os.environ.get("BENCH_GC_FREEZE"):  # attribution only: the product's startup freeze, on the floor too
            gc.collect()
            gc.freeze()
        async with _streamable.run():
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
        assert message["type"] == "lifespan.shutdown"
        await send({"type": "lifespan.shutdown.complete"})
        return
    path = scope["path"].rstrip("/")
    if path == "/mcp":
        return await _streamable.handle_request(scope, receive, send)
    if path == "/sse" and scope["method"] == "GET":
        return await _handle_sse(scope, receive, send)
    if path == "/messages":
        return await _sse.handle_post_message(scope, receive, send)
    await send({"type": "http.response.start", "status": 200 if path == "/health" else 404, "headers": []})
    await send({"type": "http.response.body", "body": b""})
