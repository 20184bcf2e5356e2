"""Read-only that holds when the statement policy misses: one statement per round trip at the driver,
and a bound on the memory one call can take however large the values a query builds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connections

from sqltools.errors import QueryFailed
from sqltools.policy import Checked
from sqltools.query import _write, query_read
from sqltools.readonly import Kind
from sqltools.vendors import vendor_for
from sqltools.vendors.mssql import MSSQL
from tests.targets import target_params

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def _read(alias: str, sql: str, max_rows: int = 1000):
    connection = connections[alias]
    # As if the statement policy had admitted the text: these tests stand where it missed something.
    checked = Checked(sql, Kind.READ, "SELECT")
    return query_read(connection=connection, vendor=vendor_for(connection), sql=sql, params=None, max_rows=max_rows,
                      checked=checked)


def _table_exists(alias: str, name: str) -> bool:
    connection = connections[alias]
    with connection.cursor() as cursor:
        return name in connection.introspection.table_names(cursor)


# The paths run the text as given: these tests stand where the statement policy let a second statement through.
def test_a_second_statement_is_refused_on_the_read_path(target_alias):
    with pytest.raises(QueryFailed):
        _read(target_alias, "SELECT 1; SELECT 2")


def test_a_second_statement_is_refused_on_the_write_path_and_nothing_after_the_first_runs(target_alias):
    connection = connections[target_alias]
    with pytest.raises(QueryFailed):
        _write(connection=connection, vendor=vendor_for(connection), max_rows=10,
               checked=Checked("SELECT 1; CREATE TABLE probe_x (a int)", Kind.DDL, "CREATE TABLE"))
    assert not _table_exists(target_alias, "probe_x")


@pytest.mark.parametrize("target_alias", target_params("target_mysql"), indirect=True)
def test_mysql_multi_statements_are_off_however_the_connection_was_configured(target_alias):
    connection = connections[target_alias]
    connection.close()
    connection.ensure_connection()  # a new connection: mysqlclient asked for multi-statements at login
    with connection.cursor() as cursor, pytest.raises(Exception, match="1064"):
        cursor.execute("SELECT 1; SELECT 2")


_HUGE = {
    "target": ["SELECT zeroblob(1000000000)", "SELECT randomblob(1000000000)",
               "SELECT replace(hex(zeroblob(10000000)), '0', 'ab')"],
    "target_pg": ["SELECT repeat('x', 100000000)", "SELECT repeat('x', 9000000), repeat('y', 9000000)"],
}


@pytest.mark.parametrize("target_alias", target_params("target", "target_pg"), indirect=True)
def test_a_huge_value_fails_fast_with_a_clear_sentence(target_alias):
    """The size check refuses the value where it is made: the sentence is the size's, not the query timeout's
    (5 s in the tests), and no wall-clock bound is asserted (a shared machine once took 4.3 s for what takes
    1.4 s; speed is the benchmark's business, bench/)."""
    for sql in _HUGE[target_alias]:
        with pytest.raises(
            QueryFailed, match=r"larger than 16 MB \(MAX_VALUE_BYTES\); select fewer or shorter columns"
        ):
            _read(target_alias, sql)
    assert _read(target_alias, "SELECT 1 AS one").rows == [[1]]


@pytest.mark.parametrize("target_alias", target_params("target_mysql"), indirect=True)
def test_mysql_answers_null_for_a_value_over_max_allowed_packet(target_alias):
    assert _read(target_alias, "SELECT repeat('x', 400000000) AS v").rows == [[None]]


@pytest.mark.parametrize("target_alias", target_params("target_pg"), indirect=True)
def test_the_postgresql_row_cap_follows_the_setting(target_alias, sqltools_config):
    sqltools_config(MAX_VALUE_BYTES=1_000_000)
    with pytest.raises(QueryFailed, match=r"larger than 0.953674 MB"):
        _read(target_alias, "SELECT repeat('x', 1000001)")
    assert _read(target_alias, "SELECT length(repeat('x', 2000000))").rows == [[2000000]]


@pytest.mark.parametrize("target_alias", target_params("target_pg"), indirect=True)
def test_the_postgresql_wrapper_keeps_order_names_and_the_users_text(target_alias):
    ordered = _read(target_alias, "SELECT order_id FROM orders ORDER BY order_id DESC LIMIT 5;")
    assert ordered.rows == [[12500], [12499], [12498], [12497], [12496]]
    twins = _read(target_alias, "SELECT 1 AS a, 2 AS a")
    assert (twins.columns, twins.rows) == (["a", "a"], [[1, 2]])
    assert _read(target_alias, "SELECT '%s' AS v -- a trailing comment").rows == [["%s"]]
    assert _read(target_alias, "VALUES (1), (2)").rows == [[1], [2]]


def test_rows_past_the_character_budget_are_never_fetched(target_alias, sqltools_config):
    sqltools_config(MAX_RESULT_CHARS=5000)
    big = {
        "target": "SELECT printf('%.*c', 3000, 'x') FROM orders",
        "target_pg": "SELECT repeat('x', 3000) FROM orders",
        "target_mysql": "SELECT repeat('x', 3000) FROM orders",
    }
    result = _read(target_alias, big[target_alias], max_rows=100)
    assert (result.row_count, result.truncated_reason) == (1, "max_chars")


def test_sql_server_caps_rows_and_value_bytes_in_one_batch():
    assert (
        MSSQL().read_caps_sql(max_rows=1000, max_value_bytes=16 * 2**20) == "SET ROWCOUNT 1001; SET TEXTSIZE 16777216"
    )
    assert MSSQL().read_caps_sql(max_rows=1, max_value_bytes=2**40).endswith("SET TEXTSIZE 2147483647")


_HOSTILE = {
    "target": "SELECT zeroblob(16000000) FROM "
              "(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000) SELECT x FROM c)",
    "target_pg": "SELECT repeat('x', 16000000) FROM generate_series(1, 1000)",
    "target_mysql": "SELECT repeat('x', 16000000) FROM order_lines LIMIT 30",
}
_ONE_VALUE = {"target": "SELECT zeroblob(1000000000)", "target_pg": "SELECT repeat('x', 100000000)"}


def _probe(alias: str, sql: str) -> dict:
    """The read in a fresh process (tests/sqltools/memory_probe.py): its outcome and peak memory in MB."""
    name = connections[alias].settings_dict["NAME"]
    done = subprocess.run([sys.executable, "-m", "tests.sqltools.memory_probe", alias, name, sql], capture_output=True,
                          text=True, timeout=120, cwd=Path(__file__).resolve().parents[2], check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_one_call_takes_bounded_memory_whatever_the_values(target_alias):
    baseline = _probe(target_alias, "SELECT 1")["peak_mb"]
    many = _probe(target_alias, _HOSTILE[target_alias])  # 16 MB values, 1000 of them (MariaDB: 30), about 16 GB
    assert many["outcome"] == "rows=0 truncated=max_chars"
    assert many["peak_mb"] - baseline < 200, many
    if target_alias in _ONE_VALUE:
        one = _probe(target_alias, _ONE_VALUE[target_alias])
        assert "larger than 16 MB" in one["outcome"] and one["peak_mb"] - baseline < 50, one
