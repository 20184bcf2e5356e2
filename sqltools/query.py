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
from sqltools.governance import Access, Rule, access_scope, current_access, masked_row
from sqltools.plans import Plan
from sqltools.policy import Checked, catalog_view, statement_policy
from sqltools.readonly import Kind
from sqltools.tags import statement_timed
from sqltools.values import RowsEncoded, json_text, rows_to_json_text
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
    # A large result's rows, only written (query_run's encode_over); `rows` is empty until rows_restore().
    encoded: ClassVar[RowsEncoded | None] = None

    def rows_restore(self) -> list[list[Any]]:
        """`rows`, read back from their JSON if the result holds them only written."""
        if self.encoded is not None:
            self.rows, self.rows_json, self.encoded = self.encoded.rows(), self.encoded.json(), None
        return self.rows

    def cut(self, count: int, reason: str = "max_chars") -> None:
        """Keep the first `count` rows (the response budget decides, sqltools.query or mcp_bridge)."""
        if count < len(self.rows_restore()):
            self.rows_json = None
            self.rows = self.rows[:count]
            self.row_count, self.truncated, self.truncated_reason = count, True, reason

    def as_dict(self, *, rows: bool = True) -> dict[str, Any]:
        """The result's fields and its notice; rows=False leaves the rows out (and does not read them back)."""
        # Shallow: dataclasses.asdict would deep-copy every row, the largest cost of a big result.
        if rows:
            self.rows_restore()
        names = _RESULT_FIELDS if rows else _HEAD_FIELDS
        return {**{name: getattr(self, name) for name in names}, "notice": self.notice}


_RESULT_FIELDS = tuple(f.name for f in fields(QueryResult))
_HEAD_FIELDS = tuple(name for name in _RESULT_FIELDS if name != "rows")


def target(alias: str | None = None) -> tuple[BaseDatabaseWrapper, Vendor]:
    """The target connection and its vendor, connected, or TargetUnavailable."""
    connection = connections[alias or sqltools_settings().ALIAS]
    try:
        connection.ensure_connection()
    except DatabaseError as error:
        raise target_unavailable(connection=connection, error=error) from None
    return connection, vendor_for(connection)


def query_run(*, sql: str, alias: str | None = None, max_rows: int | None = None, allow_write: bool = True,
              purpose: str = "execute_sql", access: Access | None = None,
              encode_over: int | None = None) -> QueryResult:
    """Run one statement the policy admits for the caller (`access`, else the tool call's): reads always,
    writes as sqltools.policy decides, and either only once a person approved it when the settings say so
    (sqltools.approvals: the user, the client, the statement and the target bind the approval).

    encode_over: for a caller that sends rows as they are written (mcp_bridge.bulk), a result whose rows' JSON
    reaches this many characters keeps them only written (QueryResult.encoded: their JSON and their text copy,
    batch by batch), never as Python objects all at once; QueryResult.rows_restore() reads them back."""
    with access_scope(access or current_access()) as access:
        connection, vendor = target(alias)
        checked = statement_policy(sql=sql, dialect=vendor.dialect, allow_write=allow_write, purpose=purpose,
                                   access=access, catalog=catalog_view(connection, vendor))
        approval_gate(sql=sql, checked=checked, dialect=vendor.dialect, alias=connection.alias, access=access,
                      estimate=lambda: plan_of(connection=connection, vendor=vendor, checked=checked))
        cap = row_cap(max_rows)
        if checked.kind is Kind.READ:
            result = query_read(connection=connection, vendor=vendor, sql=sql, params=None, max_rows=cap,
                                checked=checked, encode_over=encode_over)
        else:
            result = _write(connection=connection, vendor=vendor, checked=checked, max_rows=cap,
                            encode_over=encode_over)
    result.limit_applied = cap
    return result


def query_read(
    *, connection: BaseDatabaseWrapper, vendor: Vendor, sql: str, params: Sequence[Any] | None, max_rows: int,
    checked: Checked | None = None, access: Access | None = None, encode_over: int | None = None,
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
        return _rows_read(reader, max_rows=max_rows, masks=checked.masks, started=started, encode_over=encode_over)


def plan_of(*, connection: BaseDatabaseWrapper, vendor: Vendor, checked: Checked) -> Plan:
    """The estimated plan of an admitted statement: its EXPLAIN (passed through the policy too) is all that runs."""
    explain = statement_policy(sql=vendor.explain_prefix + checked.sql, dialect=vendor.dialect, purpose="explain",
                               explained=checked)
    timeout = sqltools_settings().QUERY_TIMEOUT_SECONDS
    with statement_timed(system=vendor.name, operation=explain.verb), _database_errors(vendor, timeout, connection):
        raw = vendor.explain_run(connection, sql=explain.sql, timeout=timeout, write=checked.kind is not Kind.READ,
                                 tag=explain.tag)
    return vendor.plan_parse(raw)


_TEXTY = (str, bytes, memoryview)


def _write(*, connection: BaseDatabaseWrapper, vendor: Vendor, checked: Checked, max_rows: int,
           encode_over: int | None = None) -> QueryResult:
    timeout = sqltools_settings().QUERY_TIMEOUT_SECONDS
    started = time.perf_counter()
    with statement_timed(system=vendor.name, operation=checked.verb), _database_errors(vendor, timeout, connection), \
            vendor.write_run(connection, sql=checked.sql, timeout=timeout, identity=_identity(),
                             tag=checked.tag) as writer:
        cap = sqltools_settings().MAX_AFFECTED_ROWS
        _affected_check(_affected(writer), cap)  # raised inside the write: it rolls back
        result = _rows_read(writer, max_rows=max_rows, masks=(), started=started, encode_over=encode_over)
        if writer.description:
            # Rows returned (RETURNING), one per changed row: SQLite counts the changes only once every returned
            # row is read, so the rest are read (and dropped) before the count, and the cap, are final.
            if _rest_counted(writer, up_to=cap + 1) + result.row_count > cap:
                raise QueryRefused(f"This write would change more than {cap:,} rows (MAX_AFFECTED_ROWS); it was "
                                   "rolled back. Narrow the WHERE clause or split the change.")
        affected = _affected(writer)
        _affected_check(affected, cap)
    result.statement_type = checked.kind.value
    result.rows_affected = affected
    return result


def _affected(writer: Any) -> int | None:
    return writer.rowcount if writer.rowcount is not None and writer.rowcount >= 0 else None


def _affected_check(affected: int | None, cap: int) -> None:
    if affected is not None and affected > cap:
        raise QueryRefused(f"This write would change {affected:,} rows, more than MAX_AFFECTED_ROWS "
                           f"({cap:,}); it was rolled back. Narrow the WHERE clause or split the change.")


def _rest_counted(reader: Any, *, up_to: int) -> int:
    """How many rows the cursor still holds, read and dropped, up to `up_to`."""
    count = 0
    while count < up_to:
        chunk = reader.fetchmany(min(_BATCH_ROWS, up_to - count))
        if not chunk:
            break
        count += len(chunk)
    return count


def _identity() -> tuple[str, str]:
    """The end user and client of the tool call, for the database's own row-level security."""
    access = current_access()
    return access.username, access.client


def _rows_read(reader: Any, *, max_rows: int, masks: tuple[tuple[int, Rule], ...], started: float,
               encode_over: int | None = None) -> QueryResult:
    """The result of a statement that ran: up to `max_rows` rows, masked, made JSON-safe and written as JSON a
    batch at a time (_Rows), stopping at the row cap or the character budget; the result says which cut it.

    Fetching stops before the first row whose text passes the character budget: that row and the rest could
    not be shown (JSON is at least as long as the text and bytes it holds), so keeping them would only spend
    the worker's memory.
    """
    columns = [d[0] for d in reader.description or ()]
    if not columns:
        return _result(columns, _Rows(columns, masks, None), max_rows=max_rows, started=started, over_cap=False)
    conf = sqltools_settings()
    # What one fetch may hold (a PostgreSQL FETCH is a round trip), and never more than a batch: small values
    # would otherwise bring a whole large result in one fetch, held as objects before its first batch is written.
    fetch = min(rows_per_fetch(conf.MAX_VALUE_BYTES), _BATCH_ROWS)
    budget = conf.MAX_RESULT_CHARS
    rows = _Rows(columns, masks, encode_over)
    pending: list[Sequence[Any]] = []
    size = taken = 0
    over_cap = over_budget = False
    # The driver's cursor under one translation of its errors, not Django's wrapper around every fetch.
    raw, errors = (reader.cursor, reader.db.wrap_database_errors) if isinstance(reader, CursorWrapper) \
        else (reader, nullcontext())
    with errors:
        while not (over_cap or over_budget or rows.full):
            chunk = raw.fetchmany(min(fetch, max_rows + 1 - taken))
            if not chunk:
                break
            for row in chunk:
                if taken == max_rows:
                    over_cap = True
                    break
                size += sum([len(value) for value in row if isinstance(value, _TEXTY)])
                if size > budget:
                    over_budget = True
                    break
                pending.append(row)
                taken += 1
            if len(pending) >= _BATCH_ROWS:
                rows.add(pending)
                pending = []
        if pending:
            rows.add(pending)
    rows.full |= over_budget
    return _result(columns, rows, max_rows=max_rows, started=started, over_cap=over_cap)


_BATCH_ROWS = 500  # rows made JSON-safe and written at once


class _Rows:
    """A result's rows as they are fetched. Each batch is masked, made JSON-safe and written as JSON once;
    with `encode_over` (query_run), once the rows' JSON reaches that size they are kept only written (RowsEncoded:
    JSON and the text copy), so a large result is never held as Python objects at once, and a batch that
    would pass the character budget is cut where it fits. `full`: rows were left out for the budget."""

    def __init__(self, columns: list[str], masks: tuple[tuple[int, Rule], ...], encode_over: int | None) -> None:
        self.masks = masks
        self.rows: list[list[Any]] = []
        self.parts: list[str] = []  # the JSON of each batch, without its brackets
        self.json_chars = 2
        self.full = False
        self.encode_over = encode_over
        self.encoded: RowsEncoded | None = None
        # Both copies of the rows, and room for the result's other fields, the text's column and summary
        # lines and the JSON-RPC envelope (mcp_bridge.render checks the whole response again).
        self.columns_chars = len(json_text(columns))
        self.encoded_budget = sqltools_settings().MAX_RESULT_CHARS - 2 * self.columns_chars - _OTHER_CHARS

    def add(self, batch: list[Sequence[Any]]) -> None:
        if self.full:
            return
        if self.masks:
            batch = [masked_row(row, self.masks) for row in batch]
        listed, text = rows_to_json_text(batch, in_place=True)
        if self.encoded is not None:
            self._encode(listed, text)
            return
        self.rows += listed
        self.parts.append(text[1:-1])
        self.json_chars += len(text) - 2 + (2 if len(self.parts) > 1 else 0)
        if self.encode_over is not None and self.json_chars >= self.encode_over:
            rows, rows_json = self.rows, self.json()
            self.rows, self.parts, self.encoded = [], [], RowsEncoded()
            self._encode(rows, rows_json)

    def _encode(self, rows: list[list[Any]], rows_json: str) -> None:
        self.full = not self.encoded.add(rows, rows_json, self.encoded_budget)

    def json(self) -> str:
        return "[" + ", ".join(self.parts) + "]"


_OTHER_CHARS = 2000


def _result(columns: list[str], rows: _Rows, *, max_rows: int, started: float, over_cap: bool) -> QueryResult:
    """The rows with the cap that cut them, if one did: the row cap, or the character budget (checked here for
    rows held as objects, as they were written for encoded ones)."""
    reason = None
    if rows.encoded is not None:
        listed, rows_json, count = [], None, rows.encoded.count
        if rows.full:
            reason = "max_chars"
    else:
        # The budget covers the JSON of columns and rows, with room for the other fields of the result.
        budget = sqltools_settings().MAX_RESULT_CHARS - rows.columns_chars - 200
        listed, rows_json = rows.rows, rows.json()
        if (listed and len(rows_json) > budget) or rows.full:
            listed, rows_json, reason = _within(listed, budget), None, "max_chars"
        count = len(listed)
    if reason is None and over_cap:
        reason = "max_rows"
    elapsed = round((time.perf_counter() - started) * 1000, 3)
    result = QueryResult(columns, listed, count, reason is not None, reason, elapsed, limit_applied=max_rows)
    if rows_json is not None:
        result.rows_json = rows_json
    if rows.encoded is not None:
        result.encoded = rows.encoded
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
