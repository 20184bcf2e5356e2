"""Connections in worker threads: a connection that just answered is not health-checked again (a round
trip per call against a remote server), one that sat idle or failed is, and one past its age is closed."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connections

from sqltools import connections as refresh

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def connection(target_alias, monkeypatch):
    """The target's connection, with its health checks (is_usable: `SELECT 1` on the server) counted."""
    connection = connections[target_alias]
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", True)
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    connection.close()
    connection.health_check_enabled = True  # an in-memory SQLite test database is never really closed and reopened
    connection.checks = []
    is_usable = connection.is_usable

    def counted() -> bool:
        connection.checks.append(1)
        return is_usable()

    monkeypatch.setattr(connection, "is_usable", counted)
    yield connection
    connection.close()


def _query(connection) -> None:
    refresh.connections_refresh()  # what mcp_bridge.threads does before each tool call
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def test_back_to_back_calls_make_no_health_check(connection):
    for _ in range(3):
        _query(connection)
    assert connection.checks == []


def test_a_connection_idle_past_the_window_is_checked_first(connection, monkeypatch):
    _query(connection)
    _query(connection)
    now = refresh.time.monotonic()
    monkeypatch.setattr(refresh.time, "monotonic", lambda: now + refresh.RECENT_SECONDS + 1)
    _query(connection)
    assert connection.checks == [1]


def test_a_failed_statement_gets_the_connection_checked(connection):
    _query(connection)
    with pytest.raises(DatabaseError), connection.cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table_here")
    _query(connection)
    assert connection.checks == [1]


def test_a_connection_past_its_age_is_replaced(connection, monkeypatch):
    _query(connection)
    first = connection.connection
    monkeypatch.setattr(connection, "close_at", 0)
    _query(connection)
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        assert connection.connection is first  # Django never closes an in-memory database: it would be lost
    else:
        assert connection.connection is not None and connection.connection is not first
