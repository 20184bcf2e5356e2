"""The Vendor interface and the shapes its catalog queries return."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from django.db.backends.utils import CursorWrapper


class Vendor:
    name: str = ""
    dialect: str = ""  # sqlglot dialect
    # Rows: (schema, name, kind 'table'|'view', row estimate or None), ordered.
    tables_sql: str = ""
    # Params (schema, table). Rows: (name, type, nullable bool-ish, default, max_length, precision, scale).
    columns_sql: str = ""
    # Params (schema, table, schema, table). Rows: (constraint, from_schema, from_table, from_column,
    # to_schema, to_table, to_column) for keys leaving or entering the table.
    foreign_keys_sql: str = ""
    # Params (schema, table). Rows: (index, column, unique, primary), ordered by index and position.
    indexes_sql: str = ""

    def default_schema(self, cursor: CursorWrapper) -> str:
        raise NotImplementedError

    def columns(self, cursor: CursorWrapper, schema: str, table: str) -> list[tuple]:
        cursor.execute(self.columns_sql, [schema, table])
        return cursor.fetchall()

    def foreign_keys(self, cursor: CursorWrapper, schema: str, table: str) -> list[tuple]:
        cursor.execute(self.foreign_keys_sql, [schema, table, schema, table])
        return cursor.fetchall()

    def indexes(self, cursor: CursorWrapper, schema: str, table: str) -> list[tuple]:
        cursor.execute(self.indexes_sql, [schema, table])
        return cursor.fetchall()

    def primary_key(self, cursor: CursorWrapper, schema: str, table: str) -> list[str]:
        """Primary-key columns in key order; [] means "read it from indexes()" (where it is an index)."""
        return []

    def comments(self, cursor: CursorWrapper, schema: str, table: str) -> dict[str, str]:
        """Column comments keyed by column name ('' for the table itself)."""
        return {}

    def connection_setup(self, raw: Any, *, max_value_bytes: int) -> None:
        """Harden a new driver connection to the target (sqltools.connections calls it once per connection)."""

    def read_sql(self, sql: str, *, max_value_bytes: int) -> str:
        """The statement a read really runs: the user's, or a wrapper that has the server bound it."""
        return sql

    def execute_text(self, cursor: CursorWrapper, sql: str) -> None:
        """Execute a user's SQL text as is (no parameters, so '%' is not a placeholder)."""
        cursor.execute(sql)

    def sample_sql(self, qualified_name: str, limit: int) -> tuple[str, list[Any]]:
        """The statement and parameters for the first `limit` rows. `qualified_name` must come from
        catalog.quoted_identifier, the one place that quotes a name (and doubles its '%')."""
        return f"SELECT * FROM {qualified_name} LIMIT %s", [limit]

    @contextmanager
    def read_guard(
        self, cursor: CursorWrapper, *, timeout: float, max_rows: int, max_value_bytes: int
    ) -> Iterator[CursorWrapper]:
        """Run reads inside: a read-only transaction where possible, a timeout, a row cap, a value cap.

        Yields the cursor to execute the query on (PostgreSQL and MySQL swap in a streaming cursor).
        The caller has opened a transaction (atomic) that it always rolls back.
        """
        raise NotImplementedError

    @contextmanager
    def write_guard(self, cursor: CursorWrapper, *, timeout: float) -> Iterator[CursorWrapper]:
        raise NotImplementedError

    def is_timeout(self, error: BaseException) -> bool:
        raise NotImplementedError

    def is_too_large(self, error: BaseException) -> bool:
        """The error is the server or driver refusing a value or row over MAX_VALUE_BYTES."""
        return False
