"""The MCP tools: a few lines each over sqltools, plus result shaping and the caller's identity."""

from __future__ import annotations

import logging
import time
import tomllib
import uuid
from pathlib import Path
from typing import Annotated, Any, Awaitable, Callable

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from mcp_bridge.approvals import (
    approval_ask,
    approval_resumed,
    approval_text,
    approval_url,
    request_state_security,
)
from mcp_bridge.bulk import BULK_CHARS, bulk_available
from mcp_bridge.render import error_result, explain_fit, json_result_fit, result_fit
from mcp_bridge.schemas import DescribeOutput, ExplainOutput, QueryOutput, TablesOutput
from mcp_bridge.threads import in_thread
from oauth_ext.discovery import request_base_url
from oauth_ext.scopes import SCOPE_WRITE
from sqltools.audit import Actor, AuditRecord, tool_call
from sqltools.catalog import table_describe, table_sample, tables_list, unknown_name_hint
from sqltools.conf import sqltools_settings
from sqltools.errors import ApprovalRequired, QueryFailed, QueryRefused, SqlToolError
from sqltools.explain import plan_explain, plan_summary
from sqltools.hints import DIALECT_TIPS, dialect_hint
from sqltools.query import QueryResult, query_run
from sqltools.search import fetch_run, search_run
from sqltools.tags import CallTag, current_call
from sqltools.target import TargetInfo, target_info
from telemetry import metrics, tracing

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


async def tool_run(tool: str, actor: Actor, work: Callable[[], Any], *, sql: str = "", arguments: dict | None = None,
                   shape: Callable[[str, Any, bool], CallToolResult] = result_fit,
                   on_approval: Callable[[ApprovalRequired], Awaitable[Any]] | None = None) -> CallToolResult:
    """Run sqltools work in a thread with an audit entry; errors become tool errors with their sentence, and a
    statement that waits for approval is answered by `on_approval` (mcp_bridge.approvals).

    The result is shaped in the thread too (a large result's text takes milliseconds) and fits
    MAX_RESULT_CHARS whole (mcp_bridge.render). Its statements carry the call's tag (sqltools.tags), and
    the call is counted (telemetry.metrics) and traced with its audit id (telemetry.tracing).
    """
    started = time.perf_counter()
    seen = _Seen()
    parent = tracing.context_current()

    bulk = bulk_available()  # read here: the worker thread does not run in the request's context

    def audited() -> CallToolResult:
        with tracing.context_attached(parent), \
                tool_call(tool=tool, actor=actor, sql=sql, arguments=arguments) as seen.record:
            seen.call = current_call()
            data = work()
            result = shape(tool, data, bulk)  # may leave rows out to fit: the audit counts what was sent
            record, seen.truncated = seen.record, _truncated(data)
            record.rows = data.row_count if isinstance(data, QueryResult) else data.get("row_count")
        return result

    try:
        try:
            return await in_thread(audited)
        finally:  # this call's own work: a person's wait for approval, and the retry it leads to, are not in it
            seen.count(tool, time.perf_counter() - started)
    except ApprovalRequired as error:
        if on_approval is not None:
            return await on_approval(error)
        return error_result(error.message)
    except SqlToolError as error:
        return error_result(error.message)
    except Exception:
        reference = uuid.uuid4().hex[:12]
        logger.exception("tool %s failed unexpectedly (reference %s)", tool, reference)
        return error_result(f"The server hit an unexpected error running {tool}; an administrator can find it in "
                            f"the log under reference {reference}.")


class _Seen:
    """What one tool call's thread saw, for its metrics."""

    record: AuditRecord | None = None
    call: CallTag | None = None
    truncated: str | None = None

    def count(self, tool: str, seconds: float) -> None:
        record = self.record
        outcome = "error" if record is None else record.outcome
        if outcome == "refused" and record.rule:
            outcome = "refused_policy"
        metrics.tool_call_record(tool=tool, outcome=outcome, seconds=seconds,
                                 db_seconds=self.call.db_seconds if self.call else 0.0,
                                 rows=record.rows if record else None, truncated=self.truncated)


def _truncated(data: Any) -> str | None:
    """Which cap cut a result (max_rows, max_sample_rows, max_chars), if one did."""
    return data.truncated_reason if isinstance(data, QueryResult) else data.get("truncated_reason")


async def list_tables(ctx: Context, name_filter: Annotated[str | None, Field(
        description="Only tables whose schema-qualified name contains this text")] = None
        ) -> Annotated[CallToolResult, TablesOutput]:
    def work() -> dict:
        tables = [t.as_dict() for t in tables_list(name_filter=name_filter)]
        return {"tables": tables, "row_count": len(tables), "truncated": False, "notice": None}
    return await tool_run("list_tables", caller(ctx)[0], work, arguments={"name_filter": name_filter})


async def describe_table(table_name: TableName, ctx: Context) -> Annotated[CallToolResult, DescribeOutput]:
    return await tool_run("describe_table", caller(ctx)[0], lambda: table_describe(table=table_name),
                          arguments={"table_name": table_name})


async def execute_sql(query: Annotated[str, Field(description="One SQL statement in the database's dialect")],
                      ctx: Context) -> Annotated[CallToolResult, QueryOutput]:
    actor, scopes = caller(ctx)
    # A response that passes through mcp_bridge.bulk sends a large result's rows as sqltools writes them.
    encode_over = BULK_CHARS if bulk_available() else None

    def run(ask: Callable[[ApprovalRequired], Awaitable[Any]]) -> Awaitable[CallToolResult]:
        return tool_run("execute_sql", actor, lambda: _sql_run(query, allow_write=SCOPE_WRITE in scopes,
                                                               encode_over=encode_over),
                        sql=query, on_approval=ask)

    if ctx.request_state is not None:  # 2026-07-28: the retry after the approval page (mcp_bridge.approvals)
        return await approval_resumed(ctx, lambda: run(_link_only(ctx)))  # a retry never asks a second time
    return await run(lambda error: approval_ask(ctx, error, lambda: run(_link_only(ctx))))


def _link_only(ctx: Context) -> Callable[[ApprovalRequired], Awaitable[CallToolResult]]:
    """Path 3 of mcp_bridge.approvals: the link in words."""
    async def answer(error: ApprovalRequired) -> CallToolResult:
        return error_result(approval_text(error, approval_url(ctx, error.approval.pk)))
    return answer


async def explain_sql(query: Annotated[str, Field(description="One SQL statement in the database's dialect")],
                      ctx: Context) -> Annotated[CallToolResult, ExplainOutput]:
    actor, scopes = caller(ctx)
    return await tool_run("explain_sql", actor, lambda: plan_summary(plan_explain(
        sql=query, allow_write=SCOPE_WRITE in scopes)), sql=query, shape=explain_fit)


def _sql_run(sql: str, *, allow_write: bool, encode_over: int | None = None) -> QueryResult:
    """query_run, with the fix for a cross-dialect slip or a misspelt name added to its error."""
    try:
        return query_run(sql=sql, allow_write=allow_write, encode_over=encode_over)
    except (QueryRefused, QueryFailed) as error:
        extra = unknown_name_hint(message=error.message, sql=sql) if isinstance(error, QueryFailed) else ""
        hint = dialect_hint(sql=sql, dialect=target_info(connect=False).dialect)
        if hint and hint not in error.message:
            extra += f" {hint}"
        if not extra:
            raise
        message = error.message if error.message.endswith((".", "?")) else f"{error.message}."
        raise type(error)(message + extra) from None


async def get_table_sample(
    table_name: TableName, ctx: Context, limit: Annotated[int, Field(description="Number of rows to return")] = 10
) -> Annotated[CallToolResult, QueryOutput]:
    return await tool_run(
        "get_table_sample",
        caller(ctx)[0],
        lambda: table_sample(table=table_name, limit=limit),
        arguments={"table_name": table_name, "limit": limit},
    )


async def search(
    query: Annotated[str, Field(description="Natural language query or SQL statement")], ctx: Context
) -> CallToolResult:
    base = _base_url(ctx)

    def work() -> dict:
        return {"results": [hit.as_dict() for hit in search_run(query=query, base_url=base)]}

    return await tool_run("search", caller(ctx)[0], work, sql=query, shape=json_result_fit, on_approval=_link_only(ctx))


async def fetch(id: Annotated[str, Field(description="Record ID from search results")], ctx: Context) -> CallToolResult:
    base = _base_url(ctx)
    return await tool_run(
        "fetch",
        caller(ctx)[0],
        lambda: fetch_run(id=id, base_url=base).as_dict(),
        arguments={"id": id},
        shape=json_result_fit,
        on_approval=_link_only(ctx),
    )


def _base_url(ctx: Context) -> str:
    request = _request(ctx)
    return request_base_url(request.scope) if request is not None else ""


_READING = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


def sql_server(info: TargetInfo) -> MCPServer:
    """list_tables, describe_table, execute_sql, get_table_sample (the original README's tools) and explain_sql."""
    read_only = sqltools_settings().READ_ONLY
    server = MCPServer(name="mssql-mcp-server", title="SQL database", version=SERVER_VERSION,
                       request_state_security=request_state_security())
    server.add_tool(list_tables, title="List tables", annotations=_READING)
    server.add_tool(describe_table, title="Describe a table", annotations=_READING)
    server.add_tool(get_table_sample, title="Sample a table's rows", annotations=_READING)
    server.add_tool(execute_sql, title="Run SQL" if not read_only else "Run a SQL query", annotations=ToolAnnotations(
        read_only_hint=read_only, destructive_hint=not read_only, idempotent_hint=read_only, open_world_hint=False))
    server.add_tool(explain_sql, title="Show a query's estimated plan", annotations=_READING)
    for tool in _tools(server).values():
        # The outputSchema is still published (clients check results against it); the SDK's own check of every
        # result against it, a pydantic pass over every row, is left out: our results are built to it
        # (mcp_bridge.render; tests/mcp_bridge/test_tools.py checks them), and a large one is a placeholder
        # until mcp_bridge.bulk splices its JSON into the response.
        tool.fn_metadata.output_model = None
    servers_describe(server, info)
    return server


def chatgpt_server(info: TargetInfo) -> MCPServer:
    """search and fetch, in the shapes ChatGPT deep research requires."""
    server = MCPServer(name="mssql-mcp-server-chatgpt", title="SQL database search", version=SERVER_VERSION)
    server.add_tool(search, title="Search the database", annotations=_READING)
    server.add_tool(fetch, title="Fetch a search result", annotations=_READING)
    servers_describe(server, info)
    return server


def servers_describe(server: MCPServer, info: TargetInfo) -> None:
    """Instructions and tool descriptions that name the target's dialect, version and caps.

    Called when the servers are built (the vendor is known from the settings) and again at startup,
    once the target has told its version.
    """
    texts = describe_texts(info)
    server._lowlevel_server.instructions = texts["instructions" if "execute_sql" in _tools(server) else "chatgpt"]
    for name, tool in _tools(server).items():
        tool.description = texts[name]
    execute = _tools(server).get("execute_sql")
    if execute is not None:
        execute.parameters["properties"]["query"]["description"] = f"One SQL statement in {info.label} syntax"
    sample = _tools(server).get("get_table_sample")
    if sample is not None:
        sample.parameters["properties"]["limit"]["description"] = (
            f"Number of rows to return: 1 to {sqltools_settings().MAX_SAMPLE_ROWS} (MAX_SAMPLE_ROWS)")


def _tools(server: MCPServer) -> dict[str, Any]:
    return {tool.name: tool for tool in server._tool_manager.list_tools()}  # the SDK has no setter for descriptions


def describe_texts(info: TargetInfo) -> dict[str, str]:
    """The server instructions and each tool's description, for this target and these caps."""
    conf = sqltools_settings()
    dialect, tips = info.label, DIALECT_TIPS.get(info.dialect, "")
    caps = (f"Caps: {conf.MAX_ROWS:,} rows per query (MAX_ROWS), {conf.MAX_SAMPLE_ROWS:,} rows per sample "
            f"(MAX_SAMPLE_ROWS), {conf.MAX_RESULT_CHARS:,} characters per result (MAX_RESULT_CHARS), "
            f"{conf.QUERY_TIMEOUT_SECONDS:g} s per statement (QUERY_TIMEOUT_SECONDS); a capped result says which cap "
            "applied (truncated, truncated_reason, notice).")
    mode = "read-only: SELECT queries only" if conf.READ_ONLY else "reads, and writes for callers granted sql:write"
    guard = approvals_words(conf)
    return {
        "instructions": (f"Tools for a {dialect} database ({info.database}). Write SQL in {dialect} syntax: {tips}. "
                         "Start with list_tables, then describe_table; execute_sql runs one statement per call "
                         f"({mode}); explain_sql shows a statement's estimated plan without running it.{guard} {caps}"),
        "chatgpt": (f"Search a {dialect} database ({info.database}) and fetch tables, rows and query results by id. "
                    f"SQL in a search is {dialect} syntax: {tips}. {caps}"),
        "list_tables": f"List the tables and views of the {dialect} database, schema-qualified, with row estimates "
                       "where cheap.",
        "describe_table": "Get a table's structure: columns and types, primary key, foreign keys both ways, indexes "
                          "and comments.",
        "execute_sql": (f"Execute one {dialect} SQL statement ({mode}). Write {dialect} syntax: {tips}. Returns at "
                        f"most {conf.MAX_ROWS:,} rows (MAX_ROWS) and {conf.MAX_RESULT_CHARS:,} characters "
                        f"(MAX_RESULT_CHARS), within {conf.QUERY_TIMEOUT_SECONDS:g} s; a capped result says so "
                        f"(truncated, truncated_reason, notice).{guard}"),
        "explain_sql": (f"Show the estimated plan of one {dialect} statement without running it: the operator tree "
                        "with estimated rows and cost, full scans versus index searches, SQL Server's missing-index "
                        f"suggestions, and the raw plan. Use it before a query that may read many rows.{guard}"),
        "get_table_sample": (f"Get the first rows of a table: limit 1 to {conf.MAX_SAMPLE_ROWS:,} (MAX_SAMPLE_ROWS); a "
                             "larger limit is lowered to it and the result says so."),
        "search": ('Search the database: "list tables", "describe Customers", "sample Orders limit 10", a '
                   f"{dialect} SELECT, or words to find in table and column names. Returns one text item holding "
                   'JSON {"results": [{"id", "title", "url"}]}.'),
        "fetch": ("Fetch a table, row, sample or query result by the id a search returned. Returns one text item "
                  'holding JSON {"id", "title", "text", "url", "metadata"}.'),
    }


def approvals_words(conf: Any) -> str:
    """What waits for a person's approval on this server, for the tool descriptions ('' when nothing does)."""
    words = []
    if conf.WRITE_APPROVAL == "required" and not conf.READ_ONLY:
        words.append("every write waits for the user's approval on a page of this server")
    limits = [f"{conf.MAX_ESTIMATED_ROWS:,} estimated rows" if conf.MAX_ESTIMATED_ROWS else "",
              f"an estimated cost of {conf.MAX_ESTIMATED_COST:,g}" if conf.MAX_ESTIMATED_COST else ""]
    if any(limits):
        verb = "waits for the user's approval" if conf.OVER_LIMIT == "approve" else "is refused"
        words.append(f"a read over {' or '.join(limit for limit in limits if limit)} {verb}")
    return (" On this server " + "; ".join(words) + " (the result says what to do).") if words else ""


def _version() -> str:
    """The product's version, from pyproject.toml (the one place it is written)."""
    try:
        with open(Path(__file__).resolve().parent.parent / "pyproject.toml", "rb") as file:
            return tomllib.load(file)["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "0"


SERVER_VERSION = _version()
