from __future__ import annotations

import base64
import json
import time

import pytest
from django.db import connections

from sqltools.errors import QueryFailed, QueryRefused, QueryTimeout
from sqltools.query import query_run
from sqltools.values import json_text, row_text
from tests.targets import target_params

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

SLOW_QUERY = {
    "target": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT COUNT(*) FROM c",
    "target_pg": "SELECT COUNT(*) FROM generate_series(1, 1000000000)",
    "target_mysql": "SELECT COUNT(*) FROM order_lines a, order_lines b, order_lines c",
}


def test_select_returns_columns_rows_and_timing(target_alias):
    result = query_run(
        sql="SELECT customer_id, email FROM customers WHERE customer_id <= 3 ORDER BY customer_id", alias=target_alias
    )
    assert result.columns == ["customer_id", "email"]
    assert result.rows == [[1, "buyer1@example.com"], [2, "buyer2@example.com"], [3, "buyer3@example.com"]]
    assert (result.row_count, result.truncated, result.truncated_reason) == (3, False, None)
    assert result.elapsed_ms > 0


@pytest.mark.parametrize("available, expect_truncated", [(5, False), (6, True)])
def test_row_cap_flag_is_exact(target_alias, sqltools_config, available, expect_truncated):
    sqltools_config(MAX_ROWS=5)
    result = query_run(
        sql=f"SELECT order_id FROM orders WHERE order_id <= {available} ORDER BY order_id", alias=target_alias
    )
    assert result.row_count == 5
    assert result.truncated is expect_truncated
    assert result.truncated_reason == ("max_rows" if expect_truncated else None)


def test_row_cap_on_a_large_result_stops_early(target_alias, sqltools_config):
    sqltools_config(MAX_ROWS=10)
    started = time.perf_counter()
    result = query_run(sql="SELECT * FROM order_lines a CROSS JOIN products b", alias=target_alias)
    assert (result.row_count, result.truncated) == (10, True)
    assert time.perf_counter() - started < 3  # 10 million rows exist; we fetched 11


def test_requested_max_rows_cannot_exceed_configured(target_alias, sqltools_config):
    sqltools_config(MAX_ROWS=4)
    assert query_run(sql="SELECT * FROM orders", alias=target_alias, max_rows=100).row_count == 4
    assert query_run(sql="SELECT * FROM orders", alias=target_alias, max_rows=2).row_count == 2


def test_character_budget_truncates_and_says_so(target_alias, sqltools_config):
    sqltools_config(MAX_RESULT_CHARS=2000)
    result = query_run(sql="SELECT * FROM customers ORDER BY customer_id", alias=target_alias)
    assert result.truncated and result.truncated_reason == "max_chars"
    assert 0 < result.row_count < 100
    assert len(json.dumps({"columns": result.columns, "rows": result.rows})) <= 2000


# Customers hold text, decimals, timestamps and NULLs; order lines only numbers (their text is read off their JSON).
WRITTEN = ["SELECT * FROM customers ORDER BY customer_id", "SELECT * FROM order_lines ORDER BY order_line_id"]


@pytest.mark.parametrize("sql", WRITTEN)
def test_a_large_result_written_as_it_is_fetched_is_the_same_result(target_alias, sqltools_config, sql):
    sqltools_config(MAX_ROWS=1700, MAX_RESULT_CHARS=10_000_000)
    plain = query_run(sql=sql, alias=target_alias)
    written = query_run(sql=sql, alias=target_alias, encode_over=20_000)
    assert written.rows == [] and written.encoded is not None  # never held as Python objects all at once
    assert len(written.encoded.json_parts) >= 2  # batch by batch
    assert (written.row_count, written.truncated_reason) == (plain.row_count, plain.truncated_reason)
    assert written.encoded.json() == json_text(plain.rows)
    assert "".join(written.encoded.text_parts) == json_text("\n" + "\n".join(row_text(r) for r in plain.rows))[1:-1]
    assert (written.encoded.json_chars, written.encoded.text_chars) == (
        len(json_text(plain.rows)), len(json_text("\n" + "\n".join(row_text(r) for r in plain.rows))) - 2)
    assert written.rows_restore() == plain.rows and written.encoded is None
    assert query_run(sql=sql, alias=target_alias, encode_over=10**9).encoded is None  # under it: rows as usual


@pytest.mark.parametrize("sql", WRITTEN)
def test_a_written_result_stops_where_both_copies_fill_the_budget(target_alias, sqltools_config, sql):
    sqltools_config(MAX_ROWS=5000, MAX_RESULT_CHARS=60_000)
    written = query_run(sql=sql, alias=target_alias, encode_over=5_000)
    assert (written.truncated, written.truncated_reason) == (True, "max_chars")
    encoded = written.encoded
    budget = 60_000 - 2 * len(json_text(written.columns)) - 2000
    assert encoded.json_chars + encoded.text_chars <= budget
    rows = written.rows_restore()
    assert len(rows) == written.row_count > 100
    assert rows == query_run(sql=sql, alias=target_alias, max_rows=len(rows)).rows
    # The next row would not have fitted.
    sqltools_config(MAX_ROWS=5000, MAX_RESULT_CHARS=10_000_000)
    row = query_run(sql=sql, alias=target_alias, max_rows=len(rows) + 1).rows[-1]
    assert encoded.json_chars + encoded.text_chars + len(json_text(row)) + 2 + len(json_text("\n" + row_text(row))) \
        - 2 > budget
    assert "stops after" in written.notice


def test_a_written_result_at_the_row_cap_says_so(target_alias, sqltools_config):
    sqltools_config(MAX_ROWS=1200, MAX_RESULT_CHARS=10_000_000)
    written = query_run(sql=WRITTEN[1], alias=target_alias, encode_over=5_000)
    assert (written.row_count, written.truncated_reason, written.encoded.count) == (1200, "max_rows", 1200)


@pytest.mark.parametrize("cap", [500, 1000, 1001])
@pytest.mark.parametrize("extra, reason", [(0, None), (1, "max_rows")])
def test_a_written_result_at_exactly_the_row_cap_is_whole_and_one_more_row_cuts_it(target_alias, sqltools_config,
                                                                                 cap, extra, reason):
    """The cap falls on a batch's end (500, 1000) or just past it: MAX_ROWS rows available are the whole result,
    one more makes it max_rows, as for rows held as objects."""
    sqltools_config(MAX_ROWS=cap, MAX_RESULT_CHARS=10_000_000)
    sql = f"SELECT * FROM order_lines WHERE order_line_id <= {cap + extra} ORDER BY order_line_id"
    plain = query_run(sql=sql, alias=target_alias)
    written = query_run(sql=sql, alias=target_alias, encode_over=1)
    assert written.encoded is not None and written.encoded.count == cap
    assert (written.row_count, written.truncated, written.truncated_reason, written.notice) == (
        cap, reason is not None, reason, plain.notice)
    assert (plain.row_count, plain.truncated_reason) == (cap, reason)
    assert written.rows_restore() == plain.rows


def test_rows_are_written_500_at_a_time_however_many_one_fetch_brings(target_alias, sqltools_config):
    """Small values make a fetch bring many rows (rows_per_fetch: 67,108 for MAX_VALUE_BYTES=1000); the rows are
    still made JSON-safe and written 500 at a time, not held as objects until the fetch's end."""
    sqltools_config(MAX_ROWS=5000, MAX_RESULT_CHARS=10_000_000, MAX_VALUE_BYTES=1000)
    written = query_run(sql=WRITTEN[1], alias=target_alias, encode_over=1)
    assert written.encoded.count == 5000 and len(written.encoded.json_parts) == 10


# Each fails at order line 2,501 or so, after several batches were written (no ORDER BY: rows stream as computed).
FAILS_MIDWAY = {
    "target": "SELECT order_line_id, json(CASE WHEN order_line_id = 2501 THEN '{' ELSE '1' END) FROM order_lines",
    "target_pg": "SELECT order_line_id, 1 / (order_line_id - 2501) FROM order_lines",
    "target_mysql": "SELECT order_line_id, -9223372036854775807 + 2500 - order_line_id FROM order_lines",
}


def test_an_error_after_batches_were_written_is_the_error_and_the_next_query_runs(target_alias, sqltools_config):
    sqltools_config(MAX_ROWS=5000, MAX_RESULT_CHARS=10_000_000)
    with pytest.raises(QueryFailed, match="rejected the query"):
        query_run(sql=FAILS_MIDWAY[target_alias], alias=target_alias, encode_over=1)
    after = query_run(sql="SELECT order_line_id FROM order_lines ORDER BY 1", alias=target_alias, encode_over=1)
    assert after.encoded.count == 5000 and after.rows_restore()[:2] == [[1], [2]]


def test_slow_query_is_cut_off_by_the_timeout(target_alias, sqltools_config):
    sqltools_config(QUERY_TIMEOUT_SECONDS=1)
    started = time.perf_counter()
    with pytest.raises(QueryTimeout, match="longer than 1 s"):
        query_run(sql=SLOW_QUERY[target_alias], alias=target_alias)
    assert time.perf_counter() - started < 6
    # The connection is usable afterwards, and the session settings were restored.
    assert query_run(sql="SELECT COUNT(*) FROM orders", alias=target_alias).rows == [[12500]]


def test_database_error_is_a_clear_sentence(target_alias):
    with pytest.raises(QueryFailed, match="The database rejected the query"):
        query_run(sql="SELECT no_such_column FROM orders", alias=target_alias)
    assert query_run(sql="SELECT 1 AS one", alias=target_alias).rows == [[1]]


def test_refusal_says_why(target_alias):
    with pytest.raises(QueryRefused, match="read-only mode"):
        query_run(sql="DELETE FROM orders", alias=target_alias)


TYPE_TABLE = {
    "target": "CREATE TABLE types_probe (d DECIMAL(12,4), dt TIMESTAMP, day DATE, t TIME, b BLOB, u CHAR(36), f REAL, "
              "s VARCHAR(20), n INTEGER)",
    "target_pg": "CREATE TABLE types_probe (d NUMERIC(12,4), dt TIMESTAMPTZ, day DATE, t TIME, b BYTEA, u UUID, "
                 "f DOUBLE PRECISION, s VARCHAR(20), n INTEGER)",
    "target_mysql": "CREATE TABLE types_probe (d DECIMAL(12,4), dt DATETIME(6), day DATE, t TIME(6), b VARBINARY(16), "
                    "u CHAR(36), f DOUBLE, s VARCHAR(20), n INTEGER) CHARACTER SET utf8mb4",
}


def test_values_come_back_json_safe_and_faithful(target_alias):
    import datetime
    import decimal
    import uuid

    connection = connections[target_alias]
    moment = datetime.datetime(2024, 2, 29, 13, 45, 1, 250000, tzinfo=datetime.timezone.utc)
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    with connection.cursor() as cursor:
        cursor.execute(TYPE_TABLE[target_alias])
        cursor.execute(
            "INSERT INTO types_probe VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                decimal.Decimal("12345678.1234"),
                moment if target_alias == "target_pg" else moment.replace(tzinfo=None),
                datetime.date(2024, 2, 29),
                "23:59:58" if target_alias == "target" else datetime.time(23, 59, 58),
                b"\x00\xffbin",
                str(ident) if target_alias != "target_pg" else ident,
                0.1,
                "Zoë 🚀",
                None,
            ],
        )
    try:
        row = dict(
            zip(*(lambda r: (r.columns, r.rows[0]))(query_run(sql="SELECT * FROM types_probe", alias=target_alias)))
        )
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE types_probe")
    json.dumps(row)  # everything is JSON-serialisable
    assert row["d"] == "12345678.1234" or (target_alias == "target" and row["d"] in (12345678.1234, "12345678.1234"))
    assert row["dt"].startswith("2024-02-29T13:45:01.25")
    assert row["day"] == "2024-02-29"
    assert row["t"].startswith("23:59:58")
    assert row["b"] == {"$binary": base64.b64encode(b"\x00\xffbin").decode(), "length": 5}
    assert row["u"] == str(ident)
    assert row["f"] == 0.1
    assert row["s"] == "Zoë 🚀"
    assert row["n"] is None


def test_plain_values_come_back_as_lists_and_the_rest_converted():
    import decimal

    from sqltools.values import rows_to_json_text

    plain = [(1, 2.5, "a\tb", None, True), (2, -0.0, "ß", None, False)]
    rows, text = rows_to_json_text(plain)
    assert rows == [list(row) for row in plain] and all(type(row) is list for row in rows)
    assert text == json.dumps(rows, ensure_ascii=False)
    assert rows_to_json_text([("ß🚀", "日本")])[1] == '[["ß🚀", "日本"]]'  # characters, as MAX_RESULT_CHARS counts them
    mixed = [(1, float("nan"), decimal.Decimal("1.10")), (2, float("-inf"), b"\x01")]
    rows, text = rows_to_json_text(mixed)
    assert rows == [[1, "nan", "1.10"], [2, "-inf", {"$binary": "AQ==", "length": 1}]]
    assert text == json.dumps(rows, ensure_ascii=False)


_NON_FINITE = {
    "target": "SELECT 9e999, -9e999, 1.5",
    "target_pg": "SELECT 'NaN'::float8, '-Infinity'::float8, 1.5::float8",
    "target_mysql": "SELECT 1e308 * 10, -1e308 * 10, 1.5",  # MariaDB's DOUBLE holds no NaN or infinity: it refuses
}


def test_non_finite_floats_from_the_database_are_strings(target_alias):
    if target_alias == "target_mysql":
        with pytest.raises(QueryFailed, match="out of range"):
            query_run(sql=_NON_FINITE[target_alias], alias=target_alias)
        return
    result = query_run(sql=_NON_FINITE[target_alias], alias=target_alias)
    assert result.rows[0][2] == 1.5 and all(isinstance(v, str) for v in result.rows[0][:2])
    json.loads(json.dumps(result.rows, allow_nan=False))


@pytest.mark.parametrize("target_alias", target_params("target_pg"), indirect=True)  # arrays are PostgreSQL's
def test_arrays_keep_their_shape_whatever_else_the_row_holds(target_alias):
    plain = query_run(sql="SELECT ARRAY[1, 2], ARRAY['x', NULL]", alias=target_alias).rows[0]
    mixed = query_run(
        sql="SELECT ARRAY[1, 2], ARRAY['x', NULL], 1.5::numeric, ARRAY[DATE '2024-01-01']", alias=target_alias
    ).rows[0]
    assert plain == [[1, 2], ["x", None]]
    assert mixed == [[1, 2], ["x", None], "1.5", ["2024-01-01"]]


@pytest.mark.parametrize(
    "target_alias", target_params("target_pg", "target_mysql"), indirect=True
)  # SQLite has no TRUNCATE
def test_a_refused_write_is_named_as_the_user_wrote_it(target_alias):
    with pytest.raises(QueryRefused, match=r"and this is TRUNCATE\.$"):
        query_run(sql="TRUNCATE TABLE order_lines", alias=target_alias)
