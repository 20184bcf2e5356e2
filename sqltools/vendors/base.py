"""The Vendor interface and the shapes its catalog queries return."""

from __future__ import annotations

from contextlib import contextmanager, suppress
from typing import Any, Callable, Iterator, Sequence

from django.db.backends.base.base import BaseDatabaseWrapper
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

    def driver_params(self, params: Sequence[Any] | None) -> Sequence[Any] | None:
        """`params` as the driver reads them: None when it will not %-format the text (then '%%' stays '%%')."""
        return params

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

    def connection_setup(self, raw: Any, *, max_value_bytes: int, tag: str = "") -> None:
        """Harden a new driver connection to the target (sqltools.connections calls it once per connection);
        its statements start with `tag` (sqltools.tags, proven by the policy)."""

    def read_sql(self, sql: str, *, max_value_bytes: int) -> str:
        """The statement a read really runs: the user's, or a wrapper that has the server bound it."""
        return sql

    def sample_sql(self, qualified_name: str, limit: int) -> tuple[str, list[Any]]:
        """The statement and parameters for the first `limit` rows. `qualified_name` must come from
        catalog.quoted_identifier, the one place that quotes a name (and doubles its '%')."""
        return f"SELECT * FROM {qualified_name} LIMIT %s", [limit]

    # After a query timeout the driver's connection may be unusable (FreeTDS): replace it.
    reconnect_after_timeout = False

    @contextmanager
    def read_run(
        self, connection: BaseDatabaseWrapper, *, sql: str, params: Sequence[Any] | None, timeout: float,
        max_rows: int, max_value_bytes: int, identity: tuple[str, str] = ("", ""), tag: str = "",
    ) -> Iterator[Any]:
        """Run one read and yield a cursor on its result; on exit its transaction is rolled back.

        Every statement it sends, the session's own included, starts with `tag` (Checked.tag: the call's
        statement tag, proven by the policy); `tagged` doubles its '%' where the driver reads placeholders.

        Inside: a read-only transaction where the database has one, a timeout, a row cap (max_rows + 1
        rows reach the client at most), a value cap, and the session as it was before. Each vendor
        sends these in as few round trips as its driver allows (the count is in its docstring and
        asserted by tests/sqltools/test_roundtrips.py). `params` None: `sql` is a user's text, sent as is.
        """
        raise NotImplementedError

    @contextmanager
    def write_run(
        self, connection: BaseDatabaseWrapper, *, sql: str, timeout: float, identity: tuple[str, str] = ("", ""),
        tag: str = "",
    ) -> Iterator[Any]:
        """Run one write (a user's text, sent as is) with a timeout; yield its cursor, then commit (roll back on error).

        `identity` is the end user and client, for the database's own row-level security and auditing where the
        vendor carries it (PostgreSQL: mcp.user and mcp.client, transaction-local)."""
        raise NotImplementedError

    # The fixed text before a statement that asks for its estimated plan without running it (never ANALYZE);
    # sqltools.policy admits an EXPLAIN only as this prefix and a statement it admitted.
    explain_prefix: str = ""

    def explain_run(self, connection: BaseDatabaseWrapper, *, sql: str, timeout: float, write: bool = False,
                    tag: str = "") -> Any:
        """Send `sql` (explain_prefix and an admitted statement) and return the plan as the database gives it,
        in a read-only transaction where the database has one (MariaDB refuses the EXPLAIN of a `write` in one:
        there it is an ordinary transaction), rolled back, with a timeout."""
        raise NotImplementedError

    def plan_parse(self, raw: Any) -> Any:
        """The plan explain_run returned, as a sqltools.plans.Plan."""
        raise NotImplementedError

    def is_timeout(self, error: BaseException) -> bool:
        raise NotImplementedError

    def is_too_large(self, error: BaseException) -> bool:
        """The error is the server or driver refusing a value or row over MAX_VALUE_BYTES."""
        return False

    def is_connection_lost(self, error: BaseException) -> bool:
        """A driver-specific sign that the connection broke, beyond the SQLSTATEs diagnostics knows."""
        return False


# Bytes one fetch may bring into the worker: rows per fetch is this over MAX_VALUE_BYTES (one value, or
# on PostgreSQL one row, is at most that), so the rows a call holds at once stay bounded.
FETCH_BYTES = 64 * 1024 * 1024


def rows_per_fetch(max_value_bytes: int) -> int:
    return max(1, FETCH_BYTES // max(1, int(max_value_bytes)))


def tagged(tag: str, sql: str, params: Sequence[Any] | None = None) -> str:
    """`sql` after `tag`; with parameters the driver reads '%' as a placeholder's start, so the tag's are doubled."""
    return (tag if params is None else tag.replace("%", "%%")) + sql


def own_transaction(connection: BaseDatabaseWrapper) -> None:
    """Connect if needed, outside any atomic block: sqltools begins and ends its own transactions on a target."""
    connection.ensure_connection()
    if connection.in_atomic_block:
        raise RuntimeError(
            f"sqltools runs its own transactions: do not call it inside atomic() on {connection.alias!r}."
        )


@contextmanager
def ended_by(
    end: Callable[[], Any], *, unless: Callable[[BaseException], bool] = lambda error: False
) -> Iterator[None]:
    """Run `end` after the block. After an error it is tried too (never hiding that error), unless `unless`
    says the connection is past saving (it is then closed, which ends the transaction at the server)."""
    try:
        yield
    except BaseException as error:
        if not unless(error):
            with suppress(Exception):
                end()
        raise
    end()
