"""Parse errors read as sentences with a position; common cross-dialect slips come with the fix."""

from __future__ import annotations

import pytest

from sqltools.errors import QueryRefused
from sqltools.hints import dialect_hint
from sqltools.readonly import statement_parse


def _refusal(sql: str, dialect: str) -> str:
    with pytest.raises(QueryRefused) as error:
        statement_parse(sql=sql, dialect=dialect)
    return error.value.message


def test_top_on_sqlite_says_where_and_how_to_write_it():
    message = _refusal("SELECT TOP 5 * FROM orders", "sqlite")
    assert message.startswith("The query is not valid SQLite SQL: unexpected '5' at line 1, column 12")
    assert "SQLite has no TOP: put LIMIT 5 at the end" in message


def test_parser_internals_never_reach_the_message():
    message = _refusal("SELECT a * FROM t", "sqlite")
    assert "<class" not in message and "sqlglot" not in message
    assert "something is missing before 'FROM' at line 1, column 15" in message


@pytest.mark.parametrize("dialect, sql, fix", [
    ("postgres", "SELECT * FROM `orders`", 'use double quotes ("Order Details")'),
    ("mysql", 'SELECT a FROM [orders]', "use backticks"),
])
def test_quoting_from_another_dialect(dialect, sql, fix):
    assert fix in _refusal(sql, dialect)


def test_an_open_string_is_named_as_such():
    assert "a string or quoted name is not closed" in _refusal("SELECT 'open", "postgres")


@pytest.mark.parametrize("dialect, sql, fix", [
    ("tsql", "SELECT * FROM orders LIMIT 5", "write SELECT TOP (5)"),
    ("postgres", "SELECT GETDATE()", "PostgreSQL has no GETDATE(): use now() or CURRENT_TIMESTAMP"),
    ("sqlite", "SELECT * FROM t WHERE d < getdate()", "use datetime('now')"),
    ("tsql", "SELECT now()", "use GETDATE() or SYSDATETIME()"),
    ("postgres", "SELECT [name] FROM customers", "does not quote names with [brackets]"),
])
def test_cross_dialect_hints(dialect, sql, fix):
    assert fix in dialect_hint(sql=sql, dialect=dialect)


@pytest.mark.parametrize("dialect, sql", [
    ("postgres", "SELECT 'TOP 5 rows' AS label LIMIT 5"),  # inside a string: no slip
    ("tsql", "SELECT TOP (5) * FROM [orders] WHERE d < GETDATE()"),
    ("sqlite", 'SELECT "name" FROM customers LIMIT 3'),
])
def test_correct_sql_gets_no_hint(dialect, sql):
    assert dialect_hint(sql=sql, dialect=dialect) == ""
