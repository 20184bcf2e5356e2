"""Microsoft SQL Server (mssql-django over pyodbc or mssql-python): the product's real target.

Row estimates come from sys.partitions (no scan); column comments from MS_Description
extended properties. Reads are capped with SET ROWCOUNT and SET TEXTSIZE (the bytes of one
(n)varchar(max), varbinary(max), text or image value) and timed out by the driver's query timeout
(SQL_ATTR_QUERY_TIMEOUT), since SQL Server has no read-only transactions. Neither the server nor
its drivers can refuse a second statement in a batch: only the statement policy stands there.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from django.db.backends.utils import CursorWrapper

from sqltools.vendors.base import Vendor


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
               CASE WHEN t.name IN ('nchar', 'nvarchar') AND c.max_length > 0 THEN c.max_length / 2 ELSE c.max_length END,
               c.precision, c.scale
        FROM sys.columns c JOIN sys.types t ON t.user_type_id = c.user_type_id
        WHERE c.object_id = OBJECT_ID(QUOTENAME(%s) + '.' + QUOTENAME(%s))
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
        WHERE i.object_id = OBJECT_ID(QUOTENAME(%s) + '.' + QUOTENAME(%s)) AND ic.is_included_column = 0
        ORDER BY i.name, ic.key_ordinal
    """
    comments_sql = """
        SELECT COALESCE(c.name, ''), CAST(ep.value AS nvarchar(4000))
        FROM sys.extended_properties ep
        LEFT JOIN sys.columns c ON c.object_id = ep.major_id AND c.column_id = ep.minor_id AND ep.minor_id > 0
        WHERE ep.class = 1 AND ep.name = 'MS_Description'
          AND ep.major_id = OBJECT_ID(QUOTENAME(%s) + '.' + QUOTENAME(%s))
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
        # One batch, one round trip. TEXTSIZE truncates a longer value instead of failing.
        return f"SET ROWCOUNT {int(max_rows) + 1}; SET TEXTSIZE {min(int(max_value_bytes), 2147483647)}"

    @contextmanager
    def read_guard(
        self, cursor: CursorWrapper, *, timeout: float, max_rows: int, max_value_bytes: int
    ) -> Iterator[CursorWrapper]:
        raw = cursor.db.connection
        previous = raw.timeout
        raw.timeout = max(1, int(round(timeout)))
        cursor.execute(self.read_caps_sql(max_rows=max_rows, max_value_bytes=max_value_bytes))
        try:
            yield cursor
        finally:
            # 2147483647 is what the ODBC drivers set at login (SET TEXTSIZE 0 would mean 4 KB).
            cursor.execute("SET ROWCOUNT 0; SET TEXTSIZE 2147483647")
            raw.timeout = previous

    @contextmanager
    def write_guard(self, cursor: CursorWrapper, *, timeout: float) -> Iterator[CursorWrapper]:
        raw = cursor.db.connection
        previous = raw.timeout
        raw.timeout = max(1, int(round(timeout)))
        try:
            yield cursor
        finally:
            raw.timeout = previous

    def is_timeout(self, error: BaseException) -> bool:
        # HYT00: the driver's query timeout expired.
        text = str(error.__cause__ or error)
        return "HYT00" in text or "Query timeout expired" in text

    def execute_text(self, cursor: CursorWrapper, sql: str) -> None:
        # mssql-django's cursor rewrites '%' and GROUP BY for Django's own queries; a user's
        # parameterless text goes to the driver's cursor untouched.
        cursor.cursor.cursor.execute(sql)
