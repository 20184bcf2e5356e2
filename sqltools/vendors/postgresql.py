"""PostgreSQL: read-only transactions, statement_timeout, and a server-side cursor for reads."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from django.db.backends.utils import CursorWrapper

from sqltools.vendors.base import Vendor


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

    @contextmanager
    def read_guard(self, cursor: CursorWrapper, *, timeout: float, max_rows: int) -> Iterator[CursorWrapper]:
        cursor.execute("SET TRANSACTION READ ONLY")
        cursor.execute("SELECT set_config('statement_timeout', %s, true)", [f"{int(timeout * 1000)}ms"])
        # A named (server-side) cursor streams rows, so fetching max_rows + 1 never pulls the whole result.
        server_side = cursor.db.chunked_cursor()
        try:
            yield server_side
        finally:
            server_side.close()

    @contextmanager
    def write_guard(self, cursor: CursorWrapper, *, timeout: float) -> Iterator[CursorWrapper]:
        cursor.execute("SELECT set_config('statement_timeout', %s, true)", [f"{int(timeout * 1000)}ms"])
        yield cursor

    def is_timeout(self, error: BaseException) -> bool:
        return getattr(error.__cause__, "sqlstate", None) == "57014" or "statement timeout" in str(error)
