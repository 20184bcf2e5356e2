"""The MCP tools: a few lines each over sqltools, plus result shaping and the caller's identity."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Annotated, Any, Callable

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from mcp_bridge.gate import request_base_url
from mcp_bridge.render import render_text
from mcp_bridge.threads import in_thread
from oauth_ext.scopes import SCOPE_WRITE
from sqltools.audit import Actor, audit_call
from sqltools.catalog import table_describe, table_sample, tables_list
from sqltools.conf import sqltools_settings
from sqltools.errors import SqlToolError
from sqltools.query import query_run
from sqltools.search import fetch_run, search_run

logger = logging.getLogger(__name__)

TableName = Annotated[str, Field(description="Name of the table: table, schema.table or [schema].[table]")]


def _request(ctx: Context) -> Any:
    return ctx.request_context.request if ctx.request_context else None


def caller(ctx: Context) -> tuple[Actor, frozenset[str]]:
    """Who is calling, from the access token the gate put on the request."""
    request = _request(ctx)
    user = request.scope.get("user") if request is not None else None
    if not isinstance(user, AuthenticatedUser):
        return Actor(username="", client_name="anonymous"), frozenset()
    token = user.access_token
    claims = token.claims or {}
    actor = Actor(user_id=int(token.subject) if token.subject else None, username=claims.get("username", ""),
                  client_id=token.client_id, client_name=claims.get("client_name", ""))
    return actor, frozenset(token.scopes)


async def tool_run(tool: str, actor: Actor, work: Callable[[], Any], *, sql: str = "", arguments: dict | None = None) -> CallToolResult:
    """Run sqltools work in a thread with an audit entry; errors become tool errors with their sentence."""

    def audited() -> tuple[Any, str]:
        with audit_call(tool=tool, actor=actor, sql=sql, arguments=arguments) as record:
            data = work()
            record.rows = data.get("row_count") if isinstance(data, dict) else None
        return data, render_text(tool, data)  # in the thread too: a large result's text takes milliseconds

    try:
        data, text = await in_thread(audited)
    except SqlToolError as error:
        return CallToolResult(content=[TextContent(type="text", text=error.message)], is_error=True)
    except Exception:
        reference = uuid.uuid4().hex[:12]
        logger.exception("tool %s failed unexpectedly (reference %s)", tool, reference)
        return CallToolResult(content=[TextContent(type="text", text=(
            f"The server hit an unexpected error running {tool}; an administrator can find it in the log "
            f"under reference {reference}."))], is_error=True)
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data)


async def list_tables(ctx: Context, name_filter: Annotated[str | None, Field(
        description="Only tables whose schema-qualified name contains this text")] = None) -> CallToolResult:
    """List all tables and views in the database, schema-qualified, with row estimates where cheap."""
    def work() -> dict:
        tables = [t.as_dict() for t in tables_list(name_filter=name_filter)]
        return {"tables": tables, "row_count": len(tables)}
    return await tool_run("list_tables", caller(ctx)[0], work, arguments={"name_filter": name_filter})


async def describe_table(table_name: TableName, ctx: Context) -> CallToolResult:
    """Get table structure and metadata: columns, types, keys, foreign keys both ways, indexes, comments."""
    return await tool_run("describe_table", caller(ctx)[0], lambda: table_describe(table=table_name),
                          arguments={"table_name": table_name})


async def execute_sql(query: Annotated[str, Field(description="SQL query to execute")], ctx: Context) -> CallToolResult:
    """Execute a SQL query (SELECT only in read-only mode). Results are capped in rows and characters."""
    actor, scopes = caller(ctx)
    return await tool_run("execute_sql", actor, lambda: query_run(sql=query, allow_write=SCOPE_WRITE in scopes).as_dict(), sql=query)


async def get_table_sample(table_name: TableName, ctx: Context, limit: Annotated[int, Field(
        description="Number of rows to return")] = 10) -> CallToolResult:
    """Get sample data from a table: its first rows."""
    return await tool_run("get_table_sample", caller(ctx)[0], lambda: table_sample(table=table_name, limit=limit).as_dict(),
                          arguments={"table_name": table_name, "limit": limit})


async def search(query: Annotated[str, Field(description="Natural language query or SQL statement")], ctx: Context) -> CallToolResult:
    """Search the database: "list tables", "describe Customers", "sample Orders limit 10", a SELECT, or words to find in table and column names."""
    base = _base_url(ctx)

    def work() -> dict:
        return {"results": [hit.as_dict() for hit in search_run(query=query, base_url=base)]}
    return await _json_tool("search", ctx, work, sql=query)


async def fetch(id: Annotated[str, Field(description="Record ID from search results")], ctx: Context) -> CallToolResult:
    """Fetch a specific record by its ID from previous search results."""
    base = _base_url(ctx)
    return await _json_tool("fetch", ctx, lambda: fetch_run(id=id, base_url=base).as_dict(), arguments={"id": id})


async def _json_tool(tool: str, ctx: Context, work: Callable[[], dict], **audit: Any) -> CallToolResult:
    """ChatGPT deep research wants exactly one text item holding the JSON document."""
    result = await tool_run(tool, caller(ctx)[0], work, **audit)
    if not result.is_error:
        result.content = [TextContent(type="text", text=json.dumps(result.structured_content, default=str))]
    return result


def _base_url(ctx: Context) -> str:
    request = _request(ctx)
    return request_base_url(request.scope) if request is not None else ""


def sql_server() -> MCPServer:
    """list_tables, describe_table, execute_sql, get_table_sample: the original README's tools."""
    read_only = sqltools_settings().READ_ONLY
    server = MCPServer(name="mssql-mcp-server", instructions=(
        "Tools for a Microsoft SQL Server database. Start with list_tables, then describe_table; "
        "execute_sql runs one statement per call" + (" (read-only: SELECT queries only)." if read_only else ".")))
    reading = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
    for fn in (list_tables, describe_table, get_table_sample):
        server.add_tool(fn, annotations=reading)
    server.add_tool(execute_sql, annotations=ToolAnnotations(
        read_only_hint=read_only, destructive_hint=not read_only, idempotent_hint=read_only, open_world_hint=False))
    return server


def chatgpt_server() -> MCPServer:
    """search and fetch, in the shapes ChatGPT deep research requires."""
    server = MCPServer(name="mssql-mcp-server-chatgpt", instructions=(
        "Search a Microsoft SQL Server database and fetch tables, rows and query results by id."))
    reading = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
    server.add_tool(search, annotations=reading)
    server.add_tool(fetch, annotations=reading)
    return server
