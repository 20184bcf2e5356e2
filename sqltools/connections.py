"""Database connections in worker threads, which never see Django's request signals.

Django checks its connections when each request starts: it closes one that is broken or past
CONN_MAX_AGE and, with CONN_HEALTH_CHECKS, makes the next query wait for a `SELECT 1` round trip
first. Threads that run tool calls and audit batches call connections_refresh() before each unit
of work instead. The health check is skipped for a connection that ran a statement less than
RECENT_SECONDS ago: against a remote SQL Server it would be a second round trip on every call,
and a connection that just answered is alive. A connection whose last statement failed is still
checked (Django marks it `errors_occurred`), so a database restart costs at most one failed call.

Every new connection to a target (any alias but Django's own `default`, as sqltools.routers has
it) is hardened by its vendor before first use: one statement per call, a cap on one value.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created

from sqltools.conf import sqltools_settings
from sqltools.vendors import vendor_for

RECENT_SECONDS = 10.0


def connections_refresh() -> None:
    """Close what is broken or too old; trust what answered a moment ago (see above)."""
    now = time.monotonic()
    for connection in connections.all(initialized_only=True):
        connection.close_if_unusable_or_obsolete()
        if (
            connection.connection is not None
            and now - getattr(connection, "_sqltools_used_at", float("-inf")) < RECENT_SECONDS
        ):
            connection.health_check_done = True


def watch_connections() -> None:
    """Stamp every connection's statements with the time they started, and harden targets (SqlToolsConfig.ready)."""
    connection_created.connect(_watch, dispatch_uid="sqltools.connections.watch")
    connection_created.connect(_harden, dispatch_uid="sqltools.connections.harden")


def _harden(sender: type, *, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    if connection.alias == DEFAULT_DB_ALIAS:
        return
    try:
        vendor = vendor_for(connection)
    except LookupError:
        return  # not a vendor sqltools serves: the system check sqltools.E002 reports it
    from sqltools.policy import statement_tag  # the policy imports this module's neighbours: bound late

    vendor.connection_setup(connection.connection, max_value_bytes=sqltools_settings().MAX_VALUE_BYTES,
                            tag=statement_tag(vendor.dialect))


def _watch(sender: type, *, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    connection._sqltools_used_at = time.monotonic()  # it has just answered the login
    if _stamp not in connection.execute_wrappers:  # the wrapper object keeps its list across reconnects
        connection.execute_wrappers.append(_stamp)


def _stamp(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
    context["connection"]._sqltools_used_at = time.monotonic()
    return execute(sql, params, many, context)
