"""Run SQL against the target: read-only proof, row and character caps, timeouts, rollback."""

from __future__ import annotations

import logging
import re
import time
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Iterator, Sequence

from django.db import DatabaseError, Error, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

from sqltools.approvals import approval_gate
from sqltools.conf import sqltools_settings
from sqltools.diagnostics import connection_lost, database_error_sentence, target_unavailable
from sqltools.errors import InvalidArgument, QueryFailed, QueryRefused, QueryTimeout
from sqltools.governance import Access, access_scope, current_access, masked_row
from sqltools.plans import Plan
from sqltools.policy import Checked, catalog_view, statement_policy
from sqltools.readonly import Kind
from sqltools.tags import statement_timed
from sqltools.values import json_text, rows_to_json_text
from sqltools.vendors import Vendor, vendor_for
from sqltools.vendors.base import rows_per_fetch

logger = logging.getLogger(__name__)


@dataclass
class QueryResult:
    """Rows and every cap that shaped them: a capped result always says which cap and why (`notice`)."""

    columns: list[str]
    rows: list[list[Any]]
    row_count: int
    truncated: bool  # rows exist that are not in `rows`
    truncated_reason: str | None = None  # "max_rows", "max_sample_rows" or "max_chars"
    elapsed_ms: float = 0.0
    statement_type: str = "read"
    rows_affected: int | None = None
    limit_applied: int | None = None  # the row cap this call ran under
    limit_requested: int | None = None  # what the caller asked for, when it asked (get_table_sample's limit)

    @property
    def notice(self) -> str | None:
        """One sentence per cap that changed the answer, for the assistant (text and structured copy alike)."""
        conf = sqltools_settings()
        notes = []
        if (
            self.limit_requested is not None
            and self.limit_applied is not None
            and self.limit_requested > self.limit_applied
        ):
            notes.append(
                f"limit {self.limit_requested:,} is over the maximum of {self.limit_applied:,} sample rows "
                f"(MAX_SAMPLE_ROWS), so {self.limit_applied:,} were asked for."
            )
        if self.truncated_reason == "max_chars":
            notes.append(
                f"More rows exist: the result stops after {self.row_count:,} rows to stay within "
                f"{conf.MAX_RESULT_CHARS:,} characters (MAX_RESULT_CHARS); select fewer or shorter columns."
            )
        elif self.truncated_reason == "max_sample_rows":
            notes.append(
                f"More rows exist: a sample holds at most {self.limit_applied:,} rows (MAX_SAMPLE_ROWS); "
                "use execute_sql with a WHERE clause for others."
            )
        elif self.truncated_reason == "max_rows":
            notes.append(
                f"More rows exist: only the first {self.row_count:,} are returned (MAX_ROWS = "
                f"{self.limit_applied:,}); filter or aggregate for fewer."
            )
        return " ".join(notes) or None

    # The JSON text of `rows` when sqltools encoded them (not a field: never part of the result's dict).
    rows_json: ClassVar[str | None] = None

    def cut(self, count: int, reason: str = "max_chars") -> None:
        """Keep the first `count` rows (the response budget decides, sqltools.query or mcp_bridge)."""
        if count < len(self.rows):
            self.rows_json = None
            self.rows = self.rows[:count]
            self.row_count, self.truncated, self.truncated_reason = count, True, reason

    def as_dict(self) -> dict[str, Any]:
        # Shallow: dataclasses.asdict would deep-copy every row, the largest cost of a big result.
        return {**{name: getattr(self, name) for name in _RESULT_FIELDS}, "notice": self.notice}


_RESULT_FIELDS = tuple(f.name for f in fields(QueryResult))


def target(alias: str | None = None) -> tuple[BaseDatabaseWrapper, Vendor]:
    """The target connection and its vendor, connected, or TargetUnavailable."""
    connection = connections[alias or sqltools_settings().ALIAS]
    try:
        connection.ensure_connection()
    except DatabaseError as error:
        raise target_unavailable(connection=connection, error=error) from None
    return connection, vendor_for(connection)


def query_run(*, sql: str, alias: str | None = None, max_rows: int | None = None, allow_write: bool = True,
              purpose: str = "execute_sql", access: Access | None = None) -> QueryResult:
    """Run one statement the policy admits for the caller (`access`, else the tool call's): reads always,
    writes as sqltools.policy decides, and either only once a person approved it when the settings say so
    (sqltools.approvals: the user, the client, the statement and the target bind the approval)."""
    with access_scope(access or current_access()) as access:
        connection, vendor = target(alias)
        checked = statement_policy(sql=sql, dialect=vendor.dialect, allow_write=allow_write, purpose=purpose,
                                   access=access, catalog=catalog_view(connection, vendor))
        approval_gate(sql=sql, checked=checked, dialect=vendor.dialect, alias=connection.alias, access=access,
                      estimate=lambda: plan_of(connection=connection, vendor=vendor, checked=checked))
        cap = row_cap(max_rows)
        if checked.kind is Kind.READ:
            result = query_read(connection=connection, vendor=vendor, sql=sql, params=None, max_rows=cap,
                                checked=checked)
        else:
            result = _write(connection=connection, vendor=vendor, checked=checked, max_rows=cap)
    result.limit_applied = cap
    return result


def query_read(
    *, connection: BaseDatabaseWrapper, vendor: Vendor, sql: str, params: Sequence[Any] | None, max_rows: int,
    checked: Checked | None = None, access: Access | None = None,
) -> QueryResult:
    """Run a read in a transaction that is always rolled back: what the policy admitted for `sql` and the
    caller's access (the caller may hold that admission already), masked as their data policy says."""
    if checked is None:
        checked = statement_policy(sql=sql, dialect=vendor.dialect, params=params, purpose="generated reads",
                                   access=access or current_access(), catalog=catalog_view(connection, vendor))
    sql, params = checked.sql, checked.params
    conf = sqltools_settings()
    timeout, value_cap = conf.QUERY_TIMEOUT_SECONDS, conf.MAX_VALUE_BYTES
    started = time.perf_counter()
    sql = vendor.read_sql(sql, max_value_bytes=value_cap)
    with statement_timed(system=vendor.name, operation=checked.verb), \
            _database_errors(vendor, timeout, connection), vendor.read_run(
        connection, sql=sql, params=params, timeout=timeout, max_rows=max_rows, max_value_bytes=value_cap,
        identity=_identity(), tag=checked.tag,
    ) as reader:
        columns = [d[0] for d in reader.description or ()]
        raw_rows, over = _fetch(reader, limit=max_rows + 1) if reader.description else ([], False)
    if checked.masks:
        raw_rows = [masked_row(row, checked.masks) for row in raw_rows]
    return _shape(columns, raw_rows, max_rows=max_rows, started=started, over_budget=over)


def plan_of(*, connection: BaseDatabaseWrapper, vendor: Vendor, checked: Checked) -> Plan:
    """The estimated plan of an admitted statement: its EXPLAIN (passed through the policy too) is all that runs."""
    explain = statement_policy(sql=vendor.explain_prefix + checked.sql, dialect=vendor.dialect, purpose="explain",
                               explained=checked)
    timeout = sqltools_settings().QUERY_TIMEOUT_SECONDS
    with statement_timed(system=vendor.name, operation=explain.verb), _database_errors(vendor, timeout, connection):
        raw = vendor.explain_run(connection, sql=explain.sql, timeout=timeout, write=checked.kind is not Kind.READ,
                                 tag=explain.tag)
    return vendor.plan_parse(raw)


def _fetch(reader: Any, *, limit: int) -> tuple[list[Sequence[Any]], bool]:
    """Up to `limit` rows, in batches; stops before the first row whose text passes the character budget.

    That row and the rest could not be shown (JSON is at least as long as the text and bytes it
    holds), so keeping them would only spend the worker's memory. The flag says rows were left.
    """
    conf = sqltools_settings()
    batch = rows_per_fetch(conf.MAX_VALUE_BYTES)  # what one fetch may hold (a PostgreSQL FETCH is a round trip)
    budget = conf.MAX_RESULT_CHARS
    rows: list[Sequence[Any]] = []
    size = 0
    # The driver's cursor under one translation of its errors, not Django's wrapper around every fetch.
    raw, errors = (reader.cursor, reader.db.wrap_database_errors) if isinstance(reader, CursorWrapper) \
        else (reader, nullcontext())
    with errors:
        while len(rows) < limit:
            chunk = raw.fetchmany(min(batch, limit - len(rows)))
            if not chunk:
                break
            for row in chunk:
                size += sum([len(value) for value in row if isinstance(value, _TEXTY)])
                if size > budget:
                    return rows, True
                rows.append(row)
    return rows, False


_TEXTY = (str, bytes, memoryview)


def _write(*, connection: BaseDatabaseWrapper, vendor: Vendor, checked: Checked, max_rows: int) -> QueryResult:
    timeout = sqltools_settings().QUERY_TIMEOUT_SECONDS
    started = time.perf_counter()
    with statement_timed(system=vendor.name, operation=checked.verb), _database_errors(vendor, timeout, connection), \
            vendor.write_run(connection, sql=checked.sql, timeout=timeout, identity=_identity(),
                             tag=checked.tag) as writer:
        affected = writer.rowcount if writer.rowcount is not None and writer.rowcount >= 0 else None
        cap = sqltools_settings().MAX_AFFECTED_ROWS
        if affected is not None and affected > cap:  # raised inside the write: it rolls back
            raise QueryRefused(f"This write would change {affected:,} rows, more than MAX_AFFECTED_ROWS "
                               f"({cap:,}); it was rolled back. Narrow the WHERE clause or split the change.")
        columns = [d[0] for d in writer.description or ()]
        raw_rows, over = _fetch(writer, limit=max_rows + 1) if writer.description else ([], False)
    result = _shape(columns, raw_rows, max_rows=max_rows, started=started, over_budget=over)
    result.statement_type = checked.kind.value
    result.rows_affected = affected
    return result


def _identity() -> tuple[str, str]:
    """The end user and client of the tool call, for the database's own row-level security."""
    access = current_access()
    return access.username, access.client


def _shape(
    columns: list[str], raw_rows: list[Sequence[Any]], *, max_rows: int, started: float, over_budget: bool = False
) -> QueryResult:
    """Convert rows to JSON-safe values, stopping at the row cap or the character budget.

    over_budget: _fetch already left rows out for the budget.
    """
    # The budget covers the JSON of columns and rows, with room for the other fields of the result.
    budget = sqltools_settings().MAX_RESULT_CHARS - len(json_text(columns)) - 200
    over_cap = len(raw_rows) > max_rows
    rows, rows_json = rows_to_json_text(raw_rows[:max_rows] if over_cap else raw_rows, in_place=True)
    size, reason = len(rows_json), None
    # One encoding of the whole list is len(row) + 2 summed over the rows: the per-row sum, in one pass.
    if (rows and size > budget) or over_budget:
        rows, reason = _within(rows, budget), "max_chars"
    elif over_cap:
        reason = "max_rows"
    elapsed = round((time.perf_counter() - started) * 1000, 3)
    result = QueryResult(columns, rows, len(rows), reason is not None, reason, elapsed, limit_applied=max_rows)
    if reason != "max_chars":
        result.rows_json = rows_json
    return result


def _within(rows: list[list[Any]], budget: int) -> list[list[Any]]:
    """The leading rows whose JSON fits the budget."""
    for count, row in enumerate(rows):
        budget -= len(json_text(row)) + 2
        if budget < 0:
            return rows[:count]
    return rows


def row_cap(requested: object, *, setting: str = "MAX_ROWS") -> int:
    """The row cap of a call: the setting's maximum (MAX_ROWS or MAX_SAMPLE_ROWS), or less when the caller asks
    for less; a limit under 1, or not a whole number, is refused with the range."""
    configured = getattr(sqltools_settings(), setting)
    if requested is None:
        return configured
    try:
        value = int(requested)
    except (TypeError, ValueError):
        raise InvalidArgument("limit must be a whole number.") from None
    if value < 1:
        raise InvalidArgument(f"limit must be at least 1 (and at most {configured}, {setting}); {requested} was given.")
    return min(value, configured)


@contextmanager
def _database_errors(vendor: Vendor, timeout: float, connection: BaseDatabaseWrapper | None = None) -> Iterator[None]:
    """Translate driver errors into the sentences sqltools promises (no login, address or driver codes)."""
    try:
        yield
    except Error as error:  # not only DatabaseError: pyodbc reports a lost link as its base Error (SQLSTATE 01000)
        if vendor.is_timeout(error):
            if connection is not None and vendor.reconnect_after_timeout:
                _discard(connection)  # the driver may have left it unusable: the next call gets a new one
            raise QueryTimeout(
                f"The query ran longer than {timeout:g} s and was cancelled (QUERY_TIMEOUT_SECONDS)."
            ) from None
        if connection is not None and (connection_lost(error) or vendor.is_connection_lost(error)):
            _discard(connection)  # broken: the next call gets a new one
            raise target_unavailable(connection=connection, error=error) from None
        if vendor.is_too_large(error):
            megabytes = sqltools_settings().MAX_VALUE_BYTES / 2**20
            raise QueryFailed(
                f"A value or row of the result is larger than {megabytes:g} MB (MAX_VALUE_BYTES); select fewer or "
                "shorter columns, e.g. left(col, 1000) or substr(col, 1, 1000)."
            ) from None
        sentence = database_error_sentence(error)
        if current_access().restricted:  # MySQL quotes the statement it ran, which is the data policy's rewrite
            sentence = re.sub(r" near '.*?'(?= at line \d+)", "", sentence)
        if any(marker in sentence.lower() for marker in ("read-only", "readonly", "read only")):
            raise QueryRefused(f"The database refused a write in a read-only transaction: {sentence}") from None
        raise QueryFailed(f"The database rejected the query: {sentence}") from None


def _discard(connection: BaseDatabaseWrapper) -> None:
    """Close a connection that is broken; closing one can fail too (mssql-python's rolls back first)."""
    with suppress(Error):
        connection.close()
