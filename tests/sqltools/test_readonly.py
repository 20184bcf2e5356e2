"""Read-only mode: every hostile statement is refused, with a reason, and leaves the target unchanged;
analysts' queries still run; write mode writes atomically; the database stops what the parser misses."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from django.db import connections
from sqlglot import exp

from sqltools.catalog import tables_list
from sqltools.errors import QueryFailed, QueryRefused
from sqltools.query import query_run
from sqltools.readonly import Kind, Reach, Statement, statement_parse
from sqltools.vendors import vendor_for
from tests.sqltools.hostile_sql import Hostile, hostile_for, legitimate_for
from tests.targets import target_params

on_targets = pytest.mark.django_db(transaction=True, databases="__all__")

# Everything a schema change could touch, beyond the rows of the tables and views themselves.
_OBJECTS_SQL = {
    "sqlite": "SELECT type, name, sql FROM sqlite_master UNION ALL SELECT type, name, sql FROM sqlite_temp_master",
    "postgresql": """
        SELECT n.nspname, c.relname, CAST(c.relkind AS text) FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%%'
        UNION ALL SELECT schemaname, sequencename, CAST(last_value AS text) FROM pg_catalog.pg_sequences
    """,
    "mysql": """
        SELECT table_name, column_name, column_type FROM information_schema.columns WHERE table_schema = DATABASE()
        UNION ALL SELECT trigger_name, event_object_table, action_statement FROM information_schema.triggers
        WHERE trigger_schema = DATABASE()
    """,
}


def database_checksum(alias: str, *, only: tuple[str, ...] | None = None) -> str:
    """A digest of the catalog (tables, views, columns, sequences) and of every row of every table and
    view, or of the tables named in `only` when a test knows what a write could touch."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    digest = hashlib.sha256()
    tables = sorted(tables_list(alias=alias), key=lambda t: (t.schema, t.name))
    digest.update(repr([(t.schema, t.name, t.kind) for t in tables]).encode())
    with connection.cursor() as cursor:
        for table in tables if only is None else [t for t in tables if t.name in only]:
            cursor.execute(f"SELECT * FROM {quote(table.schema)}.{quote(table.name)}")
            columns = [d[0] for d in cursor.description]
            digest.update(repr((table.schema, table.name, table.kind, columns)).encode())
            digest.update(repr(sorted(repr(row) for row in cursor.fetchall())).encode())
        cursor.execute(_OBJECTS_SQL[connection.vendor])
        digest.update(repr(sorted(repr(row) for row in cursor.fetchall())).encode())
    return digest.hexdigest()


def _dialect(alias: str) -> str:
    return vendor_for(connections[alias]).dialect


def _says_why(error: QueryRefused) -> bool:
    return len(str(error).split()) >= 3


def _parser_problem(sql: str, dialect: str) -> str | None:
    """Read-only mode rests on the parser: a hostile text it classifies as a read is a hole."""
    try:
        statement = statement_parse(sql=sql, dialect=dialect)
    except QueryRefused as error:
        return None if _says_why(error) else f"refused without a reason: {str(error)!r}"
    except Exception as error:  # noqa: BLE001 - any crash of the checker is a finding
        return f"the parser crashed: {type(error).__name__}: {error}"
    return "the parser classified it as a read" if statement.kind is Kind.READ else None


@pytest.fixture
def parsed_kinds(monkeypatch) -> list[Kind]:
    """What statement_parse told query_run, so that a refusal by the database alone shows up."""
    kinds: list[Kind] = []

    def recording_parse(*, sql: str, dialect: str, **kwargs) -> Statement:
        statement = statement_parse(sql=sql, dialect=dialect, **kwargs)
        kinds.append(statement.kind)
        return statement

    monkeypatch.setattr("sqltools.policy.statement_parse", recording_parse)
    return kinds


def _run_problem(entry: Hostile, alias: str, parsed_kinds: list[Kind]) -> str | None:
    parsed_kinds.clear()
    try:
        query_run(sql=entry.sql, alias=alias)
    except QueryRefused as error:
        if not _says_why(error):
            return f"refused without a reason: {str(error)!r}"
    except Exception as error:  # noqa: BLE001 - anything but a refusal is a finding
        return f"not refused: {type(error).__name__}: {str(error)[:200]}"
    else:
        return "not refused: it ran"
    if Kind.READ in parsed_kinds:
        return "refused only by the database: the parser classified it as a read"
    return None


def _report(failures: list[str]) -> str:
    return f"{len(failures)} hostile statement(s) not refused as they should be:\n" + "\n".join(failures)


def _describe(entry: Hostile) -> str:
    text = entry.sql if len(entry.sql) <= 120 else entry.sql[:120] + "..."
    return f"[{entry.label}] {text!r}"


# Session and server state a statement could leave behind on the pooled connection: locks, settings,
# variables. Values that change by themselves (clocks, random seeds, counters) are left out.
_STATE_SQL = {
    "sqlite": ["PRAGMA query_only", "PRAGMA writable_schema", "PRAGMA foreign_keys", "PRAGMA journal_mode"],
    "postgresql": [
        "SELECT locktype, mode FROM pg_locks WHERE locktype IN ('advisory', 'userlock') ORDER BY 1, 2",
        "SELECT name, setting FROM pg_settings WHERE source IN ('session', 'override') ORDER BY name",
        "SELECT count(*) FROM pg_largeobject_metadata",
        "SELECT count(*) FROM pg_replication_slots",
    ],
    "mysql": [
        "SELECT IS_USED_LOCK('readonly_probe'), @readonly_probe",
        "SHOW SESSION VARIABLES WHERE Variable_name NOT IN ('timestamp', 'rand_seed1', 'rand_seed2', "
        "'last_insert_id', 'insert_id', 'identity', 'warning_count', 'error_count', 'gtid_seq_no')",
        "SHOW GLOBAL VARIABLES WHERE Variable_name NOT LIKE 'gtid%%'",
    ],
}


def server_state(alias: str) -> list:
    """Locks, session and global settings the server reports, and probe files on this machine's disk."""
    connection = connections[alias]
    state: list = [sorted(str(p) for p in Path("/tmp").glob("readonly_probe*"))]
    with connection.cursor() as cursor:
        for sql in _STATE_SQL[connection.vendor]:
            cursor.execute(sql)
            state.append(cursor.fetchall())
    return state


@on_targets
def test_read_only_mode_refuses_the_hostile_corpus_and_changes_nothing(target_alias, parsed_kinds):
    corpus = hostile_for(_dialect(target_alias))
    assert len(corpus) >= 60
    before, state_before = database_checksum(target_alias), server_state(target_alias)
    failures = []
    for entry in corpus:
        problem = _run_problem(entry, target_alias, parsed_kinds)
        if problem:
            failures.append(f"{_describe(entry)}: {problem}")
    after, state_after = database_checksum(target_alias), server_state(target_alias)
    assert not failures, _report(failures)
    assert after == before, "the database changed while the hostile corpus ran"
    assert state_after == state_before, "locks, settings, variables or files were left behind"


def test_tsql_hostile_corpus_is_refused_by_the_parser():
    failures = []
    for entry in hostile_for("tsql"):
        problem = _parser_problem(entry.sql, "tsql")
        if problem:
            failures.append(f"{_describe(entry)}: {problem}")
    assert not failures, _report(failures)


@on_targets
def test_analyst_queries_are_accepted_and_run(target_alias):
    dialect = _dialect(target_alias)
    failures = []
    for sql in legitimate_for(dialect):
        try:
            assert statement_parse(sql=sql, dialect=dialect).kind is Kind.READ
            result = query_run(sql=sql, alias=target_alias)
            assert result.columns and result.row_count > 0, "no rows"
        except Exception as error:  # noqa: BLE001 - collect every failure, assertions included
            failures.append(f"{sql!r}: {type(error).__name__}: {error}")
    assert not failures, "legitimate queries failed:\n" + "\n".join(failures)


def test_analyst_tsql_queries_parse_as_reads():
    for sql in legitimate_for("tsql"):
        assert statement_parse(sql=sql, dialect="tsql").kind is Kind.READ, sql


def _notes(alias: str, customer_id: int) -> str | None:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT notes FROM customers WHERE customer_id = %s", [customer_id])
        return cursor.fetchone()[0]


def _set_notes(alias: str, customer_id: int, notes: str | None) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute("UPDATE customers SET notes = %s WHERE customer_id = %s", [notes, customer_id])


# The last customer: PostgreSQL writes an updated row at the end of the heap, so updating (and restoring)
# customer 1 would change the order of unordered reads such as the table sample other tests rely on.
LAST_CUSTOMER = 1000


@on_targets
def test_write_mode_updates_and_commits(target_alias, sqltools_config):
    sqltools_config(READ_ONLY=False)
    original, before = _notes(target_alias, LAST_CUSTOMER), database_checksum(target_alias, only=("customers",))
    try:
        sql = f"UPDATE customers SET notes = 'x' WHERE customer_id = {LAST_CUSTOMER}"
        result = query_run(sql=sql, alias=target_alias)
        assert (result.statement_type, result.rows_affected) == ("dml", 1)
        # Outside any transaction now: the value is there only if query_run committed it.
        assert not connections[target_alias].in_atomic_block
        assert _notes(target_alias, LAST_CUSTOMER) == "x"
        assert database_checksum(target_alias, only=("customers",)) != before  # the checksum sees one cell
    finally:
        _set_notes(target_alias, LAST_CUSTOMER, original)
    assert database_checksum(target_alias, only=("customers",)) == before


@pytest.mark.parametrize("sql", ["UPDATE customers SET notes = 'x'", "DELETE FROM order_lines"])
@on_targets
def test_write_mode_refuses_writes_to_every_row_unless_allowed(target_alias, sqltools_config, sql):
    sqltools_config(READ_ONLY=False)
    before = database_checksum(target_alias, only=("customers", "order_lines"))
    with pytest.raises(QueryRefused, match="without WHERE would change every row"):
        query_run(sql=sql, alias=target_alias)
    assert database_checksum(target_alias, only=("customers", "order_lines")) == before


@on_targets
def test_a_write_over_max_affected_rows_is_rolled_back(target_alias, sqltools_config):
    sqltools_config(READ_ONLY=False, MAX_AFFECTED_ROWS=10)
    before = database_checksum(target_alias, only=("customers",))
    with pytest.raises(
        QueryRefused, match="would change 20 rows, more than MAX_AFFECTED_ROWS .10.; it was rolled back"
    ):
        query_run(sql="UPDATE customers SET notes = 'x' WHERE customer_id <= 20", alias=target_alias)
    assert database_checksum(target_alias, only=("customers",)) == before


@on_targets
def test_a_write_that_returns_its_rows_is_counted_and_capped_too(target_alias, sqltools_config):
    """RETURNING: SQLite counts the changed rows only once every returned row is read, so the cap reads them."""
    sqltools_config(READ_ONLY=False, MAX_AFFECTED_ROWS=10, MAX_ROWS=3)
    with connections[target_alias].cursor() as cursor:
        cursor.execute("CREATE TABLE readonly_probe (a INT)")
        cursor.execute("INSERT INTO readonly_probe VALUES " + ", ".join(f"({i})" for i in range(1, 21)))
    try:
        with pytest.raises(QueryRefused, match=r"would change (20 rows, more than MAX_AFFECTED_ROWS \(10\)|more than "
                                               r"10 rows \(MAX_AFFECTED_ROWS\)); it was rolled back"):
            query_run(sql="DELETE FROM readonly_probe WHERE a <= 20 RETURNING a", alias=target_alias)
        with connections[target_alias].cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM readonly_probe")
            assert cursor.fetchone()[0] == 20
        result = query_run(sql="DELETE FROM readonly_probe WHERE a <= 5 RETURNING a", alias=target_alias)
        assert (result.rows_affected, result.row_count, result.truncated_reason) == (5, 3, "max_rows")
    finally:
        _drop_probe(target_alias)


@on_targets
def test_an_operator_can_allow_writes_without_where(target_alias, sqltools_config):
    sqltools_config(READ_ONLY=False, ALLOW_UNFILTERED_WRITES=True)
    with connections[target_alias].cursor() as cursor:
        cursor.execute("CREATE TABLE readonly_probe (a INT)")
        cursor.execute("INSERT INTO readonly_probe VALUES (1), (2)")
    try:
        assert query_run(sql="DELETE FROM readonly_probe", alias=target_alias).rows_affected == 2
    finally:
        _drop_probe(target_alias)


@pytest.mark.parametrize("sql", ["CREATE TABLE readonly_probe (a int)", "DROP TABLE orders"])
@on_targets
def test_write_mode_still_refuses_ddl(target_alias, sqltools_config, sql):
    sqltools_config(READ_ONLY=False)
    with pytest.raises(QueryRefused, match="ALLOW_DDL"):
        query_run(sql=sql, alias=target_alias)
    assert "orders" in {t.name for t in tables_list(alias=target_alias)}


@on_targets
def test_ddl_runs_when_allowed(target_alias, sqltools_config):
    sqltools_config(READ_ONLY=False, ALLOW_DDL=True)
    query_run(sql="CREATE TABLE readonly_probe (a int)", alias=target_alias)
    try:
        assert "readonly_probe" in {t.name for t in tables_list(alias=target_alias)}
    finally:
        query_run(sql="DROP TABLE readonly_probe", alias=target_alias)
    assert "readonly_probe" not in {t.name for t in tables_list(alias=target_alias)}


@on_targets
def test_dml_needs_the_write_permission(target_alias, sqltools_config):
    sqltools_config(READ_ONLY=False)
    with pytest.raises(QueryRefused, match="sql:write"):
        query_run(sql="UPDATE customers SET notes = 'x' WHERE customer_id = 1", alias=target_alias, allow_write=False)
    assert _notes(target_alias, 1) != "x"


@pytest.mark.parametrize(
    "sql, table",
    [
        ("UPDATE orders SET customer_id = NULL WHERE order_id <= 5", "orders"),  # NOT NULL fails
        ("UPDATE order_lines SET quantity = 1 / (order_line_id - 10) WHERE order_id <= 20", "order_lines"),  # 10th row
    ],
    ids=["not-null", "midway"],
)
@on_targets
def test_failing_write_changes_nothing(target_alias, sqltools_config, sql, table):
    sqltools_config(READ_ONLY=False)
    before = database_checksum(target_alias, only=(table,))
    with pytest.raises(QueryFailed, match="rejected"):
        query_run(sql=sql, alias=target_alias)
    assert database_checksum(target_alias, only=(table,)) == before


def _drop_probe(alias: str) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS readonly_probe")


@pytest.mark.parametrize(
    "sql, table",
    [
        ("DELETE FROM order_lines WHERE order_id <= 10", "order_lines"),
        ("UPDATE customers SET notes = 'x'", "customers"),
        ("CREATE TABLE readonly_probe (a int)", None),
    ],
    ids=["delete", "update", "create"],
)
@on_targets
def test_database_refuses_a_write_the_parser_let_through(target_alias, monkeypatch, sql, table):
    # MySQL/MariaDB: DDL commits implicitly, so the read guard makes the whole session read-only.
    def parse_as_read(*, sql: str, dialect: str, **kwargs) -> Statement:
        return Statement(Kind.READ, exp.select("1"))

    monkeypatch.setattr("sqltools.policy.statement_parse", parse_as_read)
    before = database_checksum(target_alias, only=(table,))
    try:
        with pytest.raises((QueryRefused, QueryFailed)):
            query_run(sql=sql, alias=target_alias)
    finally:
        _drop_probe(target_alias)  # only there if the write got through
    assert database_checksum(target_alias, only=(table,)) == before


_WRITING_FUNCTION = {
    "target_pg": "CREATE FUNCTION readonly_probe() RETURNS int LANGUAGE sql AS "
    "'DELETE FROM order_lines WHERE order_id <= 10; SELECT 1'",
    "target_mysql": "CREATE FUNCTION readonly_probe() RETURNS int MODIFIES SQL DATA "
    "BEGIN DELETE FROM order_lines WHERE order_id <= 10; RETURN 1; END",
}


@on_targets
@pytest.mark.parametrize(
    "target_alias", target_params(*_WRITING_FUNCTION), indirect=True
)  # SQLite has no SQL functions
def test_read_only_transaction_stops_a_function_that_writes(target_alias, sqltools_config):
    """An operator wrongly allowed a function that writes: the read-only transaction still stops it."""
    sqltools_config(READ_ONLY_EXTRA_FUNCTIONS=("readonly_probe",))
    with connections[target_alias].cursor() as cursor:
        cursor.execute(_WRITING_FUNCTION[target_alias])
    try:
        reach = Reach(functions=frozenset({"readonly_probe"}))
        assert (
            statement_parse(sql="SELECT readonly_probe()", dialect=_dialect(target_alias), reach=reach).kind
            is Kind.READ
        )
        before = database_checksum(target_alias, only=("order_lines",))
        with pytest.raises((QueryRefused, QueryFailed), match="(?i)read.only"):
            query_run(sql="SELECT readonly_probe()", alias=target_alias)
        assert database_checksum(target_alias, only=("order_lines",)) == before
    finally:
        with connections[target_alias].cursor() as cursor:
            cursor.execute("DROP FUNCTION readonly_probe")


def test_the_parser_is_sqlglots_compiled_build():
    """requirements/base.txt asks for sqlglot[c]: the guard parses every execute_sql, 2.5-3x faster compiled."""
    import sqlglot.parser

    assert sqlglot.parser.__file__.endswith(".so")
