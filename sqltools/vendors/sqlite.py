"""SQLite: the embedded demo target. Timeouts use the driver's progress handler.

The driver runs one statement per execute() (it refuses a second). SQLITE_LIMIT_LENGTH, set on
each new target connection, bounds any string or blob a statement builds or reads, so a huge value
fails fast instead of taking the worker's memory. The progress handler runs between virtual-machine
instructions: it cannot stop one long instruction (a single sort, or one function call on a big
value), which the length limit keeps short.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

from sqltools.plans import Plan, sqlite_plan
from sqltools.vendors.base import Vendor, own_transaction, tagged


class SQLite(Vendor):
    name = "sqlite"
    dialect = "sqlite"
    tables_sql = """
        SELECT 'main', name, type, NULL FROM sqlite_master
        WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
        ORDER BY name
    """

    def default_schema(self, cursor: CursorWrapper) -> str:
        return "main"

    def columns(self, cursor: CursorWrapper, schema: str, table: str) -> list[tuple]:
        cursor.execute("SELECT name, type, \"notnull\", dflt_value FROM pragma_table_info(%s)", [table])
        return [
            (name, type_, not notnull, default, None, None, None) for name, type_, notnull, default in cursor.fetchall()
        ]

    def primary_key(self, cursor: CursorWrapper, schema: str, table: str) -> list[str]:
        # A rowid table's INTEGER PRIMARY KEY has no index entry: ask table_info.
        cursor.execute("SELECT name FROM pragma_table_info(%s) WHERE pk > 0 ORDER BY pk", [table])
        return [row[0] for row in cursor.fetchall()]

    def foreign_keys(self, cursor: CursorWrapper, schema: str, table: str) -> list[tuple]:
        cursor.execute(
            """
            SELECT m.name, p."table", p."from", p."to", p.id FROM sqlite_master m, pragma_foreign_key_list(m.name) p
            WHERE m.type = 'table' AND (m.name = %s OR p."table" = %s COLLATE NOCASE)
            """,
            [table, table],
        )
        rows = []
        for from_table, to_table, from_col, to_col, key_id in cursor.fetchall():
            to_col = to_col or self.primary_key(cursor, schema, to_table)[0]
            rows.append((f"fk_{from_table}_{key_id}", "main", from_table, from_col, "main", to_table, to_col))
        return rows

    def indexes(self, cursor: CursorWrapper, schema: str, table: str) -> list[tuple]:
        cursor.execute(
            """
            SELECT il.name, ii.name, il."unique", il.origin = 'pk'
            FROM pragma_index_list(%s) il, pragma_index_info(il.name) ii
            ORDER BY il.name, ii.seqno
            """,
            [table],
        )
        return cursor.fetchall()

    def connection_setup(self, raw: sqlite3.Connection, *, max_value_bytes: int, tag: str = "") -> None:
        raw.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, int(max_value_bytes))

    @contextmanager
    def read_run(
        self, connection: BaseDatabaseWrapper, *, sql: str, params: Sequence[Any] | None, timeout: float,
        max_rows: int, max_value_bytes: int, identity: tuple[str, str] = ("", ""), tag: str = "",
    ) -> Iterator[CursorWrapper]:
        # In-process, so no round trips: BEGIN, the pragma, the query, the pragma back, ROLLBACK. The transaction
        # is begun and rolled back here rather than by atomic(): its savepoint and autocommit bookkeeping cost
        # more than the rest of a small read, and own_transaction has made sure no atomic block is open.
        own_transaction(connection)
        with connection.cursor() as cursor:
            raw = connection.connection  # the pragmas on the driver's connection: Django's wrappers add nothing here
            cursor.execute("BEGIN")
            try:
                raw.execute(f"{tag}PRAGMA query_only = ON")
                _set_deadline(raw, timeout)
                try:
                    # the driver runs one statement; None: no placeholders
                    cursor.execute(tagged(tag, sql, params), params)
                    yield cursor
                finally:
                    raw.set_progress_handler(None, 0)
                    raw.execute(f"{tag}PRAGMA query_only = OFF")
            finally:
                if raw.in_transaction:
                    raw.rollback()  # the driver's ROLLBACK, as atomic() ends it

    @contextmanager
    def write_run(
        self, connection: BaseDatabaseWrapper, *, sql: str, timeout: float, identity: tuple[str, str] = ("", ""),
        tag: str = "",
    ) -> Iterator[CursorWrapper]:
        own_transaction(connection)
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            _set_deadline(connection.connection, timeout)
            try:
                cursor.execute(tag + sql)
                yield cursor
            finally:
                connection.connection.set_progress_handler(None, 0)

    explain_prefix = "EXPLAIN QUERY PLAN "

    def explain_run(self, connection: BaseDatabaseWrapper, *, sql: str, timeout: float, write: bool = False,
                    tag: str = "") -> list[tuple]:
        # Prepares the statement and describes it, inside a read: query_only and the rollback hold even for a
        # write's plan.
        with self.read_run(connection, sql=sql, params=None, timeout=timeout, max_rows=0, max_value_bytes=0,
                           tag=tag) as cursor:
            return [tuple(row) for row in cursor.fetchall()]

    def plan_parse(self, raw: list[tuple]) -> Plan:
        return sqlite_plan(raw)

    def is_timeout(self, error: BaseException) -> bool:
        return isinstance(error.__cause__ or error, sqlite3.OperationalError) and "interrupted" in str(error)

    def is_too_large(self, error: BaseException) -> bool:
        return getattr(error.__cause__, "sqlite_errorname", None) == "SQLITE_TOOBIG"


def _set_deadline(raw: sqlite3.Connection, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    # Called every 10k virtual-machine instructions; a non-zero return aborts the statement.
    raw.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
