"""PostgreSQL: read-only transactions, statement_timeout, and a server-side cursor for reads.

Every statement of a user's text goes through the extended query protocol, which refuses a second
statement: reads and writes are sent in pipeline mode (psycopg's client cursor would otherwise use the
simple protocol, which runs several), reads as the query of a named cursor (DECLARE … FOR) that streams.
PostgreSQL has no per-value limit: reads are wrapped so that the server itself refuses a row larger
than MAX_VALUE_BYTES before sending it (ROW_TOO_LARGE below is the recognisable error).
"""

from __future__ import annotations

from contextlib import contextmanager, suppress
from typing import Any, Iterator, Sequence

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

from sqltools.plans import Plan, postgresql_plan
from sqltools.vendors.base import FETCH_BYTES, Vendor, ended_by, own_transaction, tagged

# The start of the server's error when a row is over the cap: the wrapper casts this sentence to
# int (plain SQL has no RAISE); the cast depends on the row, so the planner cannot fold it early.
ROW_TOO_LARGE = "sqltools: a row of the result holds"


class PostgreSQL(Vendor):
    name = "postgresql"
    dialect = "postgres"
    tables_sql = """
        SELECT n.nspname, c.relname,
               CASE WHEN c.relkind IN ('v', 'm') THEN 'view' ELSE 'table' END,
               CASE WHEN c.relkind IN ('r', 'p') AND c.reltuples >= 0 THEN c.reltuples::bigint END
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%%'
          AND NOT c.relispartition
        ORDER BY n.nspname, c.relname
    """
    columns_sql = """
        SELECT column_name, data_type, is_nullable = 'YES', column_default,
               character_maximum_length, numeric_precision, numeric_scale
        FROM information_schema.columns WHERE table_schema = %s AND table_name = %s
        ORDER BY ordinal_position
    """
    foreign_keys_sql = """
        SELECT con.conname, fn.nspname, fc.relname, fa.attname, tn.nspname, tc.relname, ta.attname
        FROM pg_catalog.pg_constraint con
        JOIN pg_catalog.pg_class fc ON fc.oid = con.conrelid
        JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace
        JOIN pg_catalog.pg_class tc ON tc.oid = con.confrelid
        JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace
        CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(fnum, tnum, pos)
        JOIN pg_catalog.pg_attribute fa ON fa.attrelid = con.conrelid AND fa.attnum = k.fnum
        JOIN pg_catalog.pg_attribute ta ON ta.attrelid = con.confrelid AND ta.attnum = k.tnum
        WHERE con.contype = 'f' AND ((fn.nspname = %s AND fc.relname = %s) OR (tn.nspname = %s AND tc.relname = %s))
        ORDER BY con.conname, k.pos
    """
    indexes_sql = """
        SELECT ic.relname, a.attname, ix.indisunique, ix.indisprimary
        FROM pg_catalog.pg_index ix
        JOIN pg_catalog.pg_class t ON t.oid = ix.indrelid
        JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
        JOIN pg_catalog.pg_class ic ON ic.oid = ix.indexrelid
        CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, pos)
        JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
        WHERE n.nspname = %s AND t.relname = %s
        ORDER BY ic.relname, k.pos
    """

    def default_schema(self, cursor: CursorWrapper) -> str:
        cursor.execute("SELECT current_schema()")
        return cursor.fetchone()[0]

    def comments(self, cursor: CursorWrapper, schema: str, table: str) -> dict[str, str]:
        cursor.execute(
            """
            SELECT COALESCE(a.attname, ''), d.description FROM pg_catalog.pg_description d
            JOIN pg_catalog.pg_class c ON c.oid = d.objoid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid AND d.objsubid > 0
            WHERE d.classoid = 'pg_catalog.pg_class'::regclass AND n.nspname = %s AND c.relname = %s
            """,
            [schema, table],
        )
        return dict(cursor.fetchall())

    def connection_setup(self, raw: Any, *, max_value_bytes: int, tag: str = "") -> None:
        # The guard reads a backslash in '…' as a plain character, as PostgreSQL does by default: pin it.
        raw.execute(f"{tag}SET standard_conforming_strings = on")

    def read_sql(self, sql: str, *, max_value_bytes: int) -> str:
        # A plain filter over a subquery keeps its ORDER BY and its duplicate column names, and adds
        # no statement: a second one inside the parentheses is a syntax error. The newline ends a
        # trailing -- comment. pg_column_size counts what the server holds (a stored value that is
        # compressed counts compressed), the wire carries it expanded. One row over max_value_bytes is
        # an error; the rows after the running total passes FETCH_BYTES are not sent (they could not be
        # shown within MAX_RESULT_CHARS anyway), so one FETCH of max_rows + 1 rows holds at most that
        # much. The running total is the last column, which read_run drops.
        body = sql.rstrip().rstrip(";")
        limit = int(max_value_bytes)
        return (
            f"SELECT * FROM (SELECT *, sum(pg_column_size(sqltools_row.*)) OVER (ROWS UNBOUNDED PRECEDING) "
            f"AS sqltools_total FROM (\n{body}\n) AS sqltools_row WHERE CASE WHEN pg_column_size(sqltools_row.*) > "
            f"{limit} THEN ('{ROW_TOO_LARGE} ' || pg_column_size(sqltools_row.*) || ' bytes')::int = 0 ELSE true END"
            f") AS sqltools_rows WHERE sqltools_total <= {FETCH_BYTES}"
        )

    @contextmanager
    def read_run(
        self, connection: BaseDatabaseWrapper, *, sql: str, params: Sequence[Any] | None, timeout: float,
        max_rows: int, max_value_bytes: int, identity: tuple[str, str] = ("", ""), tag: str = "",
    ) -> Iterator[Any]:
        # One round trip, pipelined: BEGIN READ ONLY, the timeout, DECLARE of a named cursor over the
        # query (read_sql bounds what it sends), one FETCH of max_rows + 1 rows, and ROLLBACK (which
        # closes the cursor). A text run with parameters is the server's own; it is wrapped the same.
        own_transaction(connection)
        limit = batch = int(max_rows) + 1
        with connection.cursor() as control, connection.cursor() as fetcher:
            with ended_by(lambda: _rollback(control, tag)):
                with connection.wrap_database_errors, connection.connection.pipeline():
                    control.execute(f"{tag}BEGIN READ ONLY")
                    session = [f"{int(timeout * 1000)}ms", *identity]
                    control.execute(tagged(tag, _SESSION_SQL, session), session)
                    control.execute(tagged(tag, f"DECLARE sqltools_read NO SCROLL CURSOR FOR {sql}", params), params)
                    fetcher.execute(f"{tag}FETCH FORWARD {batch} FROM sqltools_read")
                    if batch == limit:
                        _end(control, tag)
                yield _Batches(fetcher, batch, tag)

    @contextmanager
    def write_run(
        self, connection: BaseDatabaseWrapper, *, sql: str, timeout: float, identity: tuple[str, str] = ("", ""),
        tag: str = "",
    ) -> Iterator[Any]:
        # Round trip 1, pipelined: BEGIN, the timeout, the statement (pipeline mode sends it with the
        # extended protocol, which refuses a second statement). Round trip 2: COMMIT, or ROLLBACK.
        own_transaction(connection)
        with connection.cursor() as control, connection.cursor() as cursor:
            try:
                with connection.wrap_database_errors, connection.connection.pipeline():
                    control.execute(f"{tag}BEGIN")
                    session = [f"{int(timeout * 1000)}ms", *identity]
                    control.execute(tagged(tag, _SESSION_SQL, session), session)
                    cursor.execute(tag + sql)
                yield cursor
            except BaseException:
                with suppress(Exception):
                    _rollback(control, tag)
                raise
            control.execute(f"{tag}COMMIT")

    explain_prefix = "EXPLAIN (FORMAT JSON) "

    def explain_run(self, connection: BaseDatabaseWrapper, *, sql: str, timeout: float, write: bool = False,
                    tag: str = "") -> Any:
        # One round trip, pipelined like a read: BEGIN READ ONLY, the timeout, the EXPLAIN (extended protocol:
        # one statement), ROLLBACK. EXPLAIN without ANALYZE plans the statement and runs nothing of it.
        own_transaction(connection)
        with connection.cursor() as control, connection.cursor() as cursor:
            with ended_by(lambda: _rollback(control, tag)):
                with connection.wrap_database_errors, connection.connection.pipeline():
                    control.execute(f"{tag}BEGIN READ ONLY")
                    session = [f"{int(timeout * 1000)}ms", "", ""]
                    control.execute(tagged(tag, _SESSION_SQL, session), session)
                    cursor.execute(tag + sql)
                    _end(control, tag)
                return cursor.fetchone()[0]

    def plan_parse(self, raw: Any) -> Plan:
        return postgresql_plan(raw)

    def is_timeout(self, error: BaseException) -> bool:
        return getattr(error.__cause__, "sqlstate", None) == "57014" or "statement timeout" in str(error)

    def is_too_large(self, error: BaseException) -> bool:
        return ROW_TOO_LARGE in str(error)

    def is_connection_lost(self, error: BaseException) -> bool:
        # A link that broke under a pipeline surfaces client-side ("consuming input failed: server closed
        # the connection unexpectedly"), with no SQLSTATE: the server said nothing.
        driver = error.__cause__ or error
        import psycopg  # loaded by Django's backend whenever a PostgreSQL connection exists

        return isinstance(driver, psycopg.OperationalError) and driver.sqlstate is None


# The timeout and the end user's identity, transaction-local (never carried to the next call on this
# connection): row-level security policies read current_setting('mcp.user', true) (docs/governance.md).
# A read runs nothing of its own that locks, but a domain's CHECK or an owner's operator may take a
# session-level advisory lock, which outlives the transaction and would stay on the pooled connection:
# every read and EXPLAIN ends by letting go of them all (in the same round trip).
_UNLOCK = "SELECT pg_advisory_unlock_all()"
_SESSION_SQL = ("SELECT set_config('statement_timeout', %s, true), set_config('mcp.user', %s, true), "
                "set_config('mcp.client', %s, true)")


class _Batches:
    """The cursor of a read: fetchmany() sends the next FETCH only when the last batch was full."""

    def __init__(self, fetcher: Any, batch: int, tag: str) -> None:
        # The last column is read_sql's running total, not the query's.
        self.description, self._fetcher, self._batch, self._tag = fetcher.description[:-1], fetcher, batch, tag
        self._rows = [row[:-1] for row in fetcher.fetchall()]
        self._more = len(self._rows) == batch

    def fetchmany(self, size: int) -> list[tuple]:
        if not self._rows and self._more:
            self._fetcher.execute(f"{self._tag}FETCH FORWARD {self._batch} FROM sqltools_read")
            self._rows = [row[:-1] for row in self._fetcher.fetchall()]
            self._more = len(self._rows) == self._batch
        taken, self._rows = self._rows[:size], self._rows[size:]
        return taken


def _rollback(control: CursorWrapper, tag: str) -> None:
    """ROLLBACK if a transaction is open (a broken connection is UNKNOWN: the ROLLBACK then fails, and closing it
    ends the transaction)."""
    import psycopg

    if control.db.connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        _end(control, tag)


def _end(control: CursorWrapper, tag: str) -> None:
    """ROLLBACK, then let go of any session advisory lock the statement's code took (see _UNLOCK)."""
    control.execute(f"{tag}ROLLBACK")
    control.execute(tag + _UNLOCK)
