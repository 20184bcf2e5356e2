"""Statement tags: who sent a statement, in a comment at its start that the database shows (SQLCommenter).

A DBA who finds a statement in SQL Server's Query Store or sys.dm_exec_requests, PostgreSQL's
pg_stat_activity, MariaDB's processlist or a slow-query log reads the client, the user's id, the tool
and the audit id, and finds the AuditEntry with that audit_id. The format is SQLCommenter's: keys in
order, each `key='value'` with key and value URL-encoded, so a tag holds only letters, digits and
`_.~-%=',` between `/*` and `*/`: no value can end the comment, start another, or make it a MySQL
`/*!` or `/*+` comment. The statement policy proves each tag on the target's dialect before any
statement carries it (sqltools.policy.statement_tag), and the user's SQL follows it as it was checked.
"""

from __future__ import annotations

import functools
import re
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator
from urllib.parse import quote

from sqltools.conf import sqltools_settings
from telemetry import tracing

# What a rendered tag may hold: the proof that the characters of a value cannot change the comment.
TAG_SHAPE = re.compile(r"/\*(?:[a-z_]+='[A-Za-z0-9_.~%-]*'(?:,(?=[a-z]))?)*\*/ ")
SERVER_TAG = "/*application='mcp-server'*/ "  # the server's statements outside a tool call (startup, /health)


@dataclass
class CallTag:
    """The tool call being served in this context: its tag, and the time its statements took on the target."""

    text: str
    audit_id: str = ""
    db_seconds: float = 0.0


_current: ContextVar[CallTag | None] = ContextVar("sqltools_call_tag", default=None)


def tag_render(fields: dict[str, str]) -> str:
    """`/*key='value',…*/ ` (SQLCommenter: keys sorted, values URL-encoded; then a space), '' for no fields.
    Keys are the server's own names, letters and underscores, which encode as themselves."""
    pairs = [f"{key}='{_encoded(value)}'" for key, value in sorted(fields.items()) if value]  # keys: [a-z_]
    return f"/*{','.join(pairs)}*/ " if pairs else ""


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")  # what URL-encoding leaves as it is


def _encoded(value: str) -> str:
    """URL-encoded (RFC 3986, every reserved character): ids and tool names as they are, others remembered."""
    return value if _UNRESERVED.fullmatch(value) else _quoted(value)


@functools.lru_cache(maxsize=1024)
def _quoted(value: str) -> str:  # client and user names: a few per deployment
    return quote(value, safe="")


@contextmanager
def call_tag_scope(*, client: str, user_id: int | None, username: str, tool: str, audit_id: str,
                   traceparent: str = "") -> Iterator[CallTag]:
    """Within this block, statements sent to the target carry the call's tag (none with SQL_COMMENT_TAGS off).

    The user's name is in the tag only with SQL_COMMENT_USER_NAMES on; their id always is.
    """
    conf = sqltools_settings()
    text = ""
    if conf.COMMENT_TAGS:
        text = tag_render({"application": "mcp-server", "client": client, "tool": tool, "audit_id": audit_id,
                           "user_id": "" if user_id is None else str(user_id),
                           "user": username if conf.COMMENT_USER_NAMES else "", "traceparent": traceparent})
    call = CallTag(text, audit_id)
    token = _current.set(call)
    try:
        yield call
    finally:
        _current.reset(token)


def current_tag() -> str:
    """The tag of the call in progress, the server's own outside one, '' with SQL_COMMENT_TAGS off."""
    call = _current.get()
    if call is not None:
        return call.text
    return SERVER_TAG if sqltools_settings().COMMENT_TAGS else ""


def current_call() -> CallTag | None:
    return _current.get()


@contextmanager
def statement_timed(*, system: str, operation: str) -> Iterator[None]:
    """Count a statement's time on the target for the call in progress (its metrics), in a trace span when
    tracing is on: the database system, the operation and the audit id, never the SQL text."""
    started = time.perf_counter()
    call = _current.get()
    try:
        if not tracing.enabled():
            yield
            return
        with tracing.span(f"db {operation}", {"db.system": system, "db.operation.name": operation,
                                              "mcp.audit_id": call.audit_id if call else ""}):
            yield
    finally:
        if call is not None:
            call.db_seconds += time.perf_counter() - started
