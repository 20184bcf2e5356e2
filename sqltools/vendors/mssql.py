"""Microsoft SQL Server (mssql-django over pyodbc or mssql-python): the product's real target.

Row estimates come from sys.partitions (no scan); column comments from MS_Description
extended properties. Reads are capped with SET ROWCOUNT and SET TEXTSIZE (the bytes of one
(n)varchar(max), varbinary(max), text or image value) and timed out by the driver's query timeout
(SQL_ATTR_QUERY_TIMEOUT), since SQL Server has no read-only transactions. Neither the server nor
its drivers can refuse a second statement in a batch: only the statement policy stands there.
"""

from __future__ import annotations

import re
from contextlib import contextmanager, suppress
from typing import Any, Iterator, Sequence

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

from sqltools.diagnostics import connection_lost
from sqltools.plans import Plan, mssql_plan
from sqltools.vendors.base import Vendor, ended_by, own_transaction, tagged


# Catalog queries find a table by its names in sys.objects and sys.schemas rather than OBJECT_ID(QUOTENAME(…)):
# no quoting to get right, and Babelfish (which has no `]]` inside brackets) reads them as SQL Server does.
class MSSQL(Vendor):
    name = "mssql"
    dialect = "tsql"
    tables_sql = """
        SELECT s.name, o.name, CASE o.type WHEN 'V' THEN 'view' ELSE 'table' END,
               (SELECT SUM(p.rows) FROM sys.partitions p WHERE p.object_id = o.object_id AND p.index_id IN (0, 1))
        FROM sys.objects o JOIN sys.schemas s ON s.schema_id = o.schema_id
        WHERE o.type IN ('U', 'V') AND o.is_ms_shipped = 0
        ORDER BY s.name, o.name
    """
    columns_sql = """
        SELECT c.name, t.name, c.is_nullable, OBJECT_DEFINITION(c.default_object_id),
               CASE WHEN t.name IN ('nchar', 'nvarchar') AND c.max_length > 0 THEN c.max_length / 2
                    ELSE c.max_length END,
               c.precision, c.scale
        FROM sys.columns c JOIN sys.types t ON t.user_type_id = c.user_type_id
        WHERE c.object_id = (
            SELECT o.object_id FROM sys.objects o JOIN sys.schemas s ON s.schema_id = o.schema_id
            WHERE s.name = %s AND o.name = %s)
        ORDER BY c.column_id
    """
    foreign_keys_sql = """
        SELECT fk.name, fs.name, ft.name, fc.name, ts.name, tt.name, tc.name
        FROM sys.foreign_keys fk
        JOIN sys.foreign_key_columns k ON k.constraint_object_id = fk.object_id
        JOIN sys.tables ft ON ft.object_id = k.parent_object_id
        JOIN sys.schemas fs ON fs.schema_id = ft.schema_id
        JOIN sys.columns fc ON fc.object_id = k.parent_object_id AND fc.column_id = k.parent_column_id
        JOIN sys.tables tt ON tt.object_id = k.referenced_object_id
        JOIN sys.schemas ts ON ts.schema_id = tt.schema_id
        JOIN sys.columns tc ON tc.object_id = k.referenced_object_id AND tc.column_id = k.referenced_column_id
        WHERE (fs.name = %s AND ft.name = %s) OR (ts.name = %s AND tt.name = %s)
        ORDER BY fk.name, k.constraint_column_id
    """
    indexes_sql = """
        SELECT i.name, c.name, i.is_unique, i.is_primary_key
        FROM sys.indexes i
        JOIN sys.index_columns ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id
        JOIN sys.columns c ON c.object_id = ic.object_id AND c.column_id = ic.column_id
        WHERE i.object_id = (
            SELECT o.object_id FROM sys.objects o JOIN sys.schemas s ON s.schema_id = o.schema_id
            WHERE s.name = %s AND o.name = %s) AND ic.is_included_column = 0
        ORDER BY i.name, ic.key_ordinal
    """
    comments_sql = """
        SELECT COALESCE(c.name, ''), CAST(ep.value AS nvarchar(4000))
        FROM sys.extended_properties ep
        LEFT JOIN sys.columns c ON c.object_id = ep.major_id AND c.column_id = ep.minor_id AND ep.minor_id > 0
        WHERE ep.class = 1 AND ep.name = 'MS_Description'
          AND ep.major_id = (
            SELECT o.object_id FROM sys.objects o JOIN sys.schemas s ON s.schema_id = o.schema_id
            WHERE s.name = %s AND o.name = %s)
    """

    def default_schema(self, cursor: CursorWrapper) -> str:
        cursor.execute("SELECT SCHEMA_NAME()")
        return cursor.fetchone()[0]

    def comments(self, cursor: CursorWrapper, schema: str, table: str) -> dict[str, str]:
        cursor.execute(self.comments_sql, [schema, table])
        return dict(cursor.fetchall())

    def sample_sql(self, qualified_name: str, limit: int) -> tuple[str, list[Any]]:
        return f"SELECT TOP (%s) * FROM {qualified_name}", [limit]

    def read_caps_sql(self, *, max_rows: int, max_value_bytes: int) -> str:
        # TEXTSIZE truncates a longer value instead of failing.
        return f"SET ROWCOUNT {int(max_rows) + 1}; SET TEXTSIZE {min(int(max_value_bytes), 2147483647)}"

    reconnect_after_timeout = True  # FreeTDS leaves the connection dead (08S01) after a query timeout

    @contextmanager
    def read_run(
        self, connection: BaseDatabaseWrapper, *, sql: str, params: Sequence[Any] | None, timeout: float,
        max_rows: int, max_value_bytes: int, identity: tuple[str, str] = ("", ""), tag: str = "",
    ) -> Iterator[CursorWrapper]:
        # A user's text (no params): one batch of the caps, BEGIN TRANSACTION and the text, then one
        # batch that rolls back and resets the caps. Two round trips. Generated reads with params go
        # as one RPC (sp_executesql or sp_prepexec): SET options set inside it end with it, and a
        # transaction begun inside one that outlives it is error 266, so it runs without one: a
        # SELECT on SQL Server cannot write, and it is the server's own text. One round trip.
        # The end user and client ride in the first batch (sp_set_session_context) and are cleared in the
        # one that ends the read; a read with params then takes a second round trip to clear them.
        # Each batch starts with the call's tag (sys.dm_exec_requests and Query Store show it).
        own_transaction(connection)
        caps = self.read_caps_sql(max_rows=max_rows, max_value_bytes=max_value_bytes)
        who, forget = _identity_sql(identity), _forget(identity)
        with _timed_cursor(connection, timeout) as cursor:
            if params is not None:
                with ended_by(lambda: forget and _end(cursor, tag + forget), unless=self._past_saving):
                    cursor.execute(tagged(tag, f"{caps}; {who.replace('%', '%%')}{sql}", params), params)
                    yield cursor
                return
            end = _READ_END + (f"; {forget}" if forget else "")
            with ended_by(lambda: _end(cursor, tag + end), unless=self._past_saving):
                _send(cursor, f"{tag}{caps}; {who}BEGIN TRANSACTION; {sql}")
                yield cursor

    @contextmanager
    def write_run(
        self, connection: BaseDatabaseWrapper, *, sql: str, timeout: float, identity: tuple[str, str] = ("", ""),
        tag: str = "",
    ) -> Iterator[CursorWrapper]:
        # Two round trips: BEGIN TRANSACTION with the statement, then COMMIT (or, after an error, ROLLBACK).
        own_transaction(connection)
        who, forget = _identity_sql(identity), _forget(identity)
        after = f"; {forget}" if forget else ""
        with _timed_cursor(connection, timeout) as cursor:
            try:
                _send(cursor, f"{tag}BEGIN TRANSACTION; {who}{sql}")
                yield cursor
            except BaseException as error:
                if not self._past_saving(error):
                    with suppress(Exception):
                        _end(cursor, f"{tag}IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION{after}")
                raise
            _end(cursor, f"{tag}COMMIT TRANSACTION{after}")

    def driver_params(self, params: Sequence[Any] | None) -> Sequence[Any] | None:
        return params or None  # mssql-django formats the text only with parameters (format_sql): [] is none

    explain_prefix = ""  # SHOWPLAN is a session option in a batch of its own, not a prefix: explain_batches

    @staticmethod
    def explain_batches(sql: str, tag: str = "") -> list[str]:
        """SET SHOWPLAN_XML ON must be alone in its batch (the tag is a comment); while it is on, the server
        compiles each statement and returns its plan instead of running it."""
        return [f"{tag}SET SHOWPLAN_XML ON", tag + sql, f"{tag}SET SHOWPLAN_XML OFF"]

    def explain_run(self, connection: BaseDatabaseWrapper, *, sql: str, timeout: float, write: bool = False,
                    tag: str = "") -> str:
        # Three batches on one statement handle, then the connection is closed: a session whose SHOWPLAN
        # state is in doubt (an error between ON and OFF) is never used again.
        own_transaction(connection)
        on, statement, off = self.explain_batches(sql, tag)
        try:
            with _timed_cursor(connection, timeout) as cursor:
                _send(cursor, on)
                _send(cursor, statement)
                driver = cursor.cursor.cursor
                parts = [str(row[0]) for row in driver.fetchall()]
                while driver.nextset():
                    parts.extend(str(row[0]) for row in driver.fetchall())
                _send(cursor, off)
        finally:
            with suppress(Exception):
                connection.close()
        return parts[0] if parts else ""

    def plan_parse(self, raw: str) -> Plan:
        return mssql_plan(raw)

    def _past_saving(self, error: BaseException) -> bool:
        return self.is_timeout(error) or self.is_connection_lost(error) or connection_lost(error)

    def is_timeout(self, error: BaseException) -> bool:
        # HYT00: the driver's query timeout expired (mssql-python says it in words).
        text = str(error.__cause__ or error)
        return "HYT00" in text or "Query timeout expired" in text

    def is_connection_lost(self, error: BaseException) -> bool:
        # FreeTDS reports a closed socket as 01000 with its own numbers (20017: unexpected EOF; 20002-20006:
        # connect, read, write failures); mssql-python drops the SQLSTATE and says it in words.
        text = str(error.__cause__ or error)
        return bool(_FREETDS_NETWORK.search(text)) or "Communication link failure" in text


_READ_END = "IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION; SET ROWCOUNT 0; SET TEXTSIZE 2147483647"
_IDENTITY_KEYS = ("mcp_user", "mcp_client")  # SESSION_CONTEXT(N'mcp_user') in a security policy


def _identity_sql(identity: tuple[str, str]) -> str:
    """sp_set_session_context for the end user and client (N'…' with ' doubled), or '' when there is none."""
    if not any(identity):
        return ""
    return "".join(
        f"EXEC sp_set_session_context N'{key}', N'{_text(value)}'; " for key, value in zip(_IDENTITY_KEYS, identity)
    )


def _text(value: str) -> str:
    """A value for N'…': quotes doubled, NUL (which ends the text for some drivers) dropped."""
    return value.replace("\x00", "").replace("'", "''")


def _forget(identity: tuple[str, str]) -> str:
    """Clears what _identity_sql set, so that it never carries over to the next call on this connection."""
    return "; ".join(f"EXEC sp_set_session_context N'{key}', NULL" for key in _IDENTITY_KEYS) if any(identity) else ""
# 2147483647 is what the ODBC drivers set at login (SET TEXTSIZE 0 would mean 4 KB).
_FREETDS_NETWORK = re.compile(r"\((?:2000[2-6]|20017|20047)\)")


@contextmanager
def _timed_cursor(connection: BaseDatabaseWrapper, timeout: float) -> Iterator[CursorWrapper]:
    """A cursor whose statement handle carries the query timeout.

    pyodbc and mssql-python copy Connection.timeout into SQL_ATTR_QUERY_TIMEOUT when a cursor (its
    statement handle) is allocated; setting it under an existing cursor changes nothing. So: set it,
    allocate, and put the connection's own value back (no round trip: it is a client attribute).
    """
    connection.ensure_connection()
    raw = connection.connection
    previous = raw.timeout
    raw.timeout = max(1, int(round(timeout)))
    try:
        cursor = connection.cursor()
    finally:
        raw.timeout = previous
    with cursor:
        yield cursor


def _send(cursor: CursorWrapper, sql: str) -> None:
    # mssql-django's cursor rewrites '%' and GROUP BY for Django's own queries; text without parameters
    # goes to the driver's cursor untouched (so Django's execute wrappers do not see it).
    with cursor.db.wrap_database_errors:
        cursor.cursor.cursor.execute(sql)


def _end(cursor: CursorWrapper, sql: str) -> None:
    """The closing batch, on the same statement handle: a result not read to its end is discarded first."""
    driver = cursor.cursor.cursor
    with suppress(Exception):  # rows the caller left: the driver cancels them on execute
        if driver.description is not None and driver.fetchone() is None:
            driver.nextset()  # the result is done: take its DONE now, so the driver needs no cancel
    with cursor.db.wrap_database_errors:
        driver.execute(sql)
