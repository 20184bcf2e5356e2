"""MySQL and MariaDB: read-only transactions, server-side statement time and row limits.

mysqlclient asks for several statements per call by default (CLIENT.MULTI_STATEMENTS); each new
target connection turns that off on the server, whatever its OPTIONS say. Reads go through an
unbuffered cursor, so rows arrive one at a time and the caller stops when it has enough:
max_allowed_packet bounds one value (the server answers NULL with a warning above it).
"""

from __future__ import annotations

from contextlib import closing, contextmanager, suppress
from typing import Any, Iterator, Sequence

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

from sqltools.plans import Plan, mysql_plan
from sqltools.vendors.base import Vendor, ended_by, own_transaction, tagged

# enum_mysql_set_option in the C API; mysqlclient exports no constant for it.
_MULTI_STATEMENTS_OFF = 1
# sql_mode flags that change how text is split into strings and names (ANSI mode includes the first).
_LEXING_MODES = frozenset({"ANSI_QUOTES", "NO_BACKSLASH_ESCAPES"})


class MySQL(Vendor):
    name = "mysql"
    dialect = "mysql"
    tables_sql = """
        SELECT table_schema, table_name, CASE WHEN table_type = 'VIEW' THEN 'view' ELSE 'table' END,
               CASE WHEN table_type = 'VIEW' THEN NULL ELSE table_rows END
        FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name
    """
    columns_sql = """
        SELECT column_name, column_type, is_nullable = 'YES', column_default,
               character_maximum_length, numeric_precision, numeric_scale
        FROM information_schema.columns WHERE table_schema = %s AND table_name = %s
        ORDER BY ordinal_position
    """
    foreign_keys_sql = """
        SELECT constraint_name, table_schema, table_name, column_name,
               referenced_table_schema, referenced_table_name, referenced_column_name
        FROM information_schema.key_column_usage
        WHERE referenced_table_name IS NOT NULL
          AND ((table_schema = %s AND table_name = %s) OR (referenced_table_schema = %s AND referenced_table_name = %s))
        ORDER BY constraint_name, ordinal_position
    """
    indexes_sql = """
        SELECT index_name, column_name, non_unique = 0, index_name = 'PRIMARY'
        FROM information_schema.statistics WHERE table_schema = %s AND table_name = %s
        ORDER BY index_name, seq_in_index
    """

    def default_schema(self, cursor: CursorWrapper) -> str:
        cursor.execute("SELECT DATABASE()")
        return cursor.fetchone()[0]

    def comments(self, cursor: CursorWrapper, schema: str, table: str) -> dict[str, str]:
        cursor.execute(
            "SELECT column_name, column_comment FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s AND column_comment <> ''",
            [schema, table],
        )
        return dict(cursor.fetchall())

    def connection_setup(self, raw: Any, *, max_value_bytes: int, tag: str = "") -> None:
        raw.set_server_option(_MULTI_STATEMENTS_OFF)
        # The guard lexes "…" as a string and \ as an escape, as MySQL does by default: pin those modes.
        with closing(raw.cursor()) as cursor:
            cursor.execute(f"{tag}SELECT @@SESSION.sql_mode")
            modes = [mode for mode in cursor.fetchone()[0].split(",") if mode]
            kept = [mode for mode in modes if mode not in _LEXING_MODES]
            if kept != modes:
                modes_param = [",".join(kept)]
                cursor.execute(tagged(tag, "SET SESSION sql_mode = %s", modes_param), modes_param)

    @contextmanager
    def read_run(
        self, connection: BaseDatabaseWrapper, *, sql: str, params: Sequence[Any] | None, timeout: float,
        max_rows: int, max_value_bytes: int, identity: tuple[str, str] = ("", ""), tag: str = "",
    ) -> Iterator[CursorWrapper]:
        # The statement runs alone in autocommit: its own transaction, read-only, ends with it (nothing
        # is left to roll back). MariaDB: one round trip, the settings riding on the statement (SET
        # STATEMENT … FOR). MySQL: three, settings set before and reset after in one SET each.
        own_transaction(connection)
        _identify(connection, identity, tag)
        limit = int(max_rows) + 1
        # Django's cursors buffer the whole result in the client; this one streams it. Closing it
        # reads what is left, which sql_select_limit keeps to max_rows + 1 rows.
        db = connection  # debug-wrapped like Django's own cursors when queries are logged (tests, DEBUG)
        streaming = (db.make_debug_cursor if db.queries_logged else db.make_cursor)(_streaming_cursor(db.connection))
        try:
            if db.mysql_is_mariadb:
                read_only = "transaction_read_only" if db.mysql_version >= (11, 1) else "tx_read_only"
                streaming.execute(tagged(
                    tag, f"SET STATEMENT {read_only} = 1, max_statement_time = {float(timeout):.3f}, "
                    f"sql_select_limit = {limit} FOR {sql}", params), params)
                yield streaming
                return
            with connection.cursor() as cursor:
                cursor.execute(f"{tag}SET SESSION transaction_read_only = 1, "
                               f"max_execution_time = {int(timeout * 1000)}, sql_select_limit = {limit}")
                # The result is read to its end (closed) first: the connection is busy until then.
                with ended_by(lambda: (_close_quietly(streaming), cursor.execute(tag + _MYSQL_RESET))):
                    streaming.execute(tagged(tag, sql, params), params)
                    yield streaming
        finally:
            _close_quietly(streaming)

    @contextmanager
    def write_run(
        self, connection: BaseDatabaseWrapper, *, sql: str, timeout: float, identity: tuple[str, str] = ("", ""),
        tag: str = "",
    ) -> Iterator[CursorWrapper]:
        # Three round trips: START TRANSACTION, the statement, COMMIT (or ROLLBACK), so that a write found
        # to change more than MAX_AFFECTED_ROWS can still be undone. MariaDB bounds its time in the
        # statement's own round trip; MySQL's max_execution_time applies to SELECT only.
        own_transaction(connection)
        _identify(connection, identity, tag)
        if connection.mysql_is_mariadb:
            sql = f"SET STATEMENT max_statement_time = {float(timeout):.3f} FOR {sql}"
        with connection.cursor() as cursor:
            cursor.execute(f"{tag}START TRANSACTION")
            try:
                cursor.execute(tag + sql)
                yield cursor
            except BaseException:
                with suppress(Exception):
                    cursor.execute(f"{tag}ROLLBACK")
                raise
            cursor.execute(f"{tag}COMMIT")

    explain_prefix = "EXPLAIN FORMAT=JSON "

    def explain_run(self, connection: BaseDatabaseWrapper, *, sql: str, timeout: float, write: bool = False,
                    tag: str = "") -> Any:
        # MariaDB may evaluate a constant subquery while it plans; a read passed the read guard, so that reads
        # only. MariaDB: one round trip in autocommit, read-only and time-bounded by SET STATEMENT (it refuses
        # the EXPLAIN of a write in a read-only transaction; EXPLAIN changes nothing either way). MySQL: a
        # read-only transaction, rolled back.
        own_transaction(connection)
        if connection.mysql_is_mariadb:
            read_only = "" if write else \
                f"{'transaction_read_only' if connection.mysql_version >= (11, 1) else 'tx_read_only'} = 1, "
            with connection.cursor() as cursor:
                cursor.execute(f"{tag}SET STATEMENT {read_only}max_statement_time = {float(timeout):.3f} FOR {sql}")
                return cursor.fetchone()[0]
        with connection.cursor() as cursor:
            cursor.execute(tag + ("START TRANSACTION" if write else "START TRANSACTION READ ONLY"))
            try:
                cursor.execute(tag + sql)
                return cursor.fetchone()[0]
            finally:
                with suppress(Exception):
                    cursor.execute(f"{tag}ROLLBACK")

    def plan_parse(self, raw: Any) -> Plan:
        return mysql_plan(raw)

    def is_timeout(self, error: BaseException) -> bool:
        code = error.__cause__.args[0] if error.__cause__ and error.__cause__.args else None
        # 1969: MariaDB max_statement_time; 3024: MySQL max_execution_time.
        return code in (1969, 3024)


def _identify(connection: BaseDatabaseWrapper, identity: tuple[str, str], tag: str) -> None:
    """@mcp_user and @mcp_client for the statement that follows (a view or trigger of the DBA's may read them).

    One round trip, and only when the call has a user or the previous call on this connection had one,
    which the NULLs then clear: a value never carries over to a call that is not its own.
    """
    if not any(identity) and not getattr(connection, "_sqltools_identified", False):
        return
    with connection.cursor() as cursor:
        values = [identity[0] or None, identity[1] or None]
        cursor.execute(tagged(tag, "SET @mcp_user = %s, @mcp_client = %s", values), values)
    connection._sqltools_identified = any(identity)


_MYSQL_RESET = "SET SESSION transaction_read_only = 0, max_execution_time = DEFAULT, sql_select_limit = DEFAULT"


def _close_quietly(streaming: CursorWrapper) -> None:
    # Closing reads the rest, which repeats the error that already stopped the fetch (a timeout):
    # that one is on its way up. A broken connection fails the next statement.
    with suppress(streaming.db.Database.Error):
        streaming.close()


def _streaming_cursor(raw: Any) -> Any:
    # Imported here: requirements/base.txt does not install mysqlclient (prod.txt and dev.txt do).
    from django.db.backends.mysql.base import CursorWrapper as MySQLCursorWrapper
    from MySQLdb.cursors import SSCursor

    return MySQLCursorWrapper(raw.cursor(SSCursor))
