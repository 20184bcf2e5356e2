"""ChatGPT deep research's search and fetch, against every target loaded with the demo data."""

from __future__ import annotations

import base64
import json
import re

import pytest
from django.core.cache import cache
from django.db import connections
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from sqltools.catalog import TableRef, table_describe, table_resolve, tables_list
from sqltools.errors import InvalidArgument, QueryRefused, TableNotFound
from sqltools.query import query_run
from sqltools.search import fetch_run, query_id, record_url, row_id, search_run, table_id

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture(autouse=True)
def cold_cache():
    cache.clear()
    yield
    cache.clear()


def _schema(alias: str) -> str:
    return table_resolve(table="orders", alias=alias).schema


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _steady(record: dict) -> dict:
    """A record without what changes between two runs: timings and MySQL's wandering row estimates."""
    metadata = {k: v for k, v in record["metadata"].items() if k != "elapsed_ms"}
    if "table" in metadata and isinstance(metadata["table"], dict):
        metadata["table"] = {**metadata["table"], "row_estimate": None}
    text = re.sub(r"about \d+ rows?", "about N rows", record["text"])
    return {**record, "metadata": metadata, "text": text}


def _count(alias: str, table: str) -> int:
    return query_run(sql=f"SELECT COUNT(*) FROM {table}", alias=alias).rows[0][0]


@pytest.mark.parametrize("query", ["list tables", "show tables", "tables", "LIST ALL TABLES"])
def test_list_tables_gives_one_hit_per_table(target_alias, query):
    hits = search_run(query=query, alias=target_alias)
    schema = _schema(target_alias)
    assert [h.id for h in hits] == [table_id(ref) for ref in tables_list(alias=target_alias)]
    assert f"table:{schema}.orders" in [h.id for h in hits]
    titles = {h.id: h.title for h in hits}
    assert titles[f"table:{schema}.orders"].startswith(f"Table {schema}.orders")
    assert titles[f"table:{schema}.sales_by_customer"] == f"View {schema}.sales_by_customer"
    assert all(set(h.as_dict()) == {"id", "title", "url"} and h.url == f"/records/{h.id}" for h in hits)


def test_list_tables_takes_a_name_filter(target_alias):
    ids = [h.id for h in search_run(query="list tables order", alias=target_alias)]
    schema = _schema(target_alias)
    assert sorted(ids) == [f"table:{schema}.order_lines", f"table:{schema}.orders"]


@pytest.mark.parametrize("query", ["describe orders", "DESCRIBE Orders", "desc orders", "schema of orders",
                                   "columns of ORDERS"])
def test_describe_forms_find_the_table(target_alias, query):
    schema = _schema(target_alias)
    assert [h.id for h in search_run(query=query, alias=target_alias)] == [f"table:{schema}.orders"]


def test_describe_unknown_table_suggests_close_names(target_alias):
    with pytest.raises(TableNotFound, match="Did you mean.*customers"):
        search_run(query="describe custmers", alias=target_alias)


def test_sample_gives_the_sample_then_a_row_per_primary_key(target_alias):
    schema = _schema(target_alias)
    hits = search_run(query="sample customers limit 3", alias=target_alias)
    assert [h.id for h in hits] == [f"sample:{schema}.customers:3"] + [
        row_id(TableRef(schema, "customers", "table"), [n]) for n in (1, 2, 3)
    ]
    assert hits[0].title == f"Sample of {schema}.customers (first 3 rows)"
    assert hits[1].title.startswith(f"Row {schema}.customers customer_id=1 — ")
    sample = fetch_run(id=hits[0].id, alias=target_alias)
    assert sample.text.splitlines()[0].startswith("| customer_id | name | email |")
    assert "buyer3@example.com" in sample.text and sample.metadata["row_count"] == 3
    row = fetch_run(id=hits[2].id, alias=target_alias)
    assert "customer_id: 2" in row.text.splitlines() and "email: buyer2@example.com" in row.text.splitlines()
    assert row.metadata["primary_key"] == {"customer_id": 2}


def test_sample_defaults_to_ten_rows_and_clamps(target_alias, sqltools_config):
    schema = _schema(target_alias)
    assert len(search_run(query="sample products", alias=target_alias)) == 11
    sqltools_config(MAX_SAMPLE_ROWS=4)
    assert search_run(query="sample products limit 500", alias=target_alias)[0].id == f"sample:{schema}.products:4"


def test_sample_of_a_view_has_no_row_ids(target_alias):
    schema = _schema(target_alias)
    hits = search_run(query="sample sales_by_customer limit 2", alias=target_alias)
    assert [h.id for h in hits] == [f"sample:{schema}.sales_by_customer:2"]


def test_sql_runs_and_its_result_can_be_fetched(target_alias):
    sql = "SELECT customer_id, email FROM customers WHERE customer_id <= 2 ORDER BY customer_id"
    [hit] = search_run(query=sql, alias=target_alias)
    assert hit.id == query_id(sql) and hit.id.startswith(f"query:{_b64(sql)}:")
    assert hit.title == f"Query (2 rows): {sql}"
    [one] = search_run(query="SELECT 1 AS one", alias=target_alias)
    assert one.title == "Query (1 row): SELECT 1 AS one"
    record = fetch_run(id=hit.id, alias=target_alias)
    assert record.text.splitlines()[:4] == ["| customer_id | email |", "| --- | --- |",
                                            "| 1 | buyer1@example.com |", "| 2 | buyer2@example.com |"]
    assert record.text.endswith("2 rows.")
    assert record.metadata | {"elapsed_ms": 0} == {"sql": sql, "columns": ["customer_id", "email"], "row_count": 2,
                                                   "truncated": False, "truncated_reason": None, "elapsed_ms": 0}


def test_sql_with_a_comment_or_cte_is_still_sql(target_alias):
    for sql in ("-- how many\nSELECT COUNT(*) AS n FROM orders",
                "WITH o AS (SELECT * FROM orders) SELECT COUNT(*) FROM o"):
        [hit] = search_run(query=sql, alias=target_alias)
        assert "| 12500 |" in fetch_run(id=hit.id, alias=target_alias).text


def test_truncated_query_result_says_so(target_alias, sqltools_config):
    sqltools_config(MAX_ROWS=5)
    [hit] = search_run(query="SELECT order_id FROM orders ORDER BY order_id", alias=target_alias)
    record = fetch_run(id=hit.id, alias=target_alias)
    assert hit.title.startswith("Query (5 rows, more exist): SELECT")
    assert record.metadata["truncated"] and record.text.endswith("5 rows; truncated: more rows exist than the row cap.")


def test_words_find_tables_by_name_before_columns(target_alias):
    schema = _schema(target_alias)
    hits = search_run(query="customer", alias=target_alias)
    titles = [h.title for h in hits]
    assert hits[0].id == f"table:{schema}.customers"
    assert titles[0].startswith(f"Table {schema}.customers (name matches; column")
    assert f"Table {schema}.orders (column customer_id matches)" in titles
    by_name = [i for i, t in enumerate(titles) if "name matches" in t]
    assert by_name == list(range(len(by_name))) and len(by_name) == 2  # customers, sales_by_customer


def test_words_are_case_insensitive_and_plural_tolerant(target_alias):
    schema = _schema(target_alias)
    ids = [h.id for h in search_run(query="Which ORDERS were shipped?", alias=target_alias)]
    assert ids[0] == f"table:{schema}.orders"
    assert f"table:{schema}.order_lines" in ids


def test_words_that_start_like_sql_are_still_words(target_alias):
    schema = _schema(target_alias)
    assert search_run(query="with the most orders", alias=target_alias)[0].id == f"table:{schema}.orders"


def test_words_with_no_match_give_no_hits(target_alias):
    assert search_run(query="zebra giraffe", alias=target_alias) == []


def test_every_table_hit_fetches_its_description(target_alias):
    for hit in search_run(query="list tables", alias=target_alias):
        record = fetch_run(id=hit.id, alias=target_alias)
        assert set(record.as_dict()) == {"id", "title", "text", "url", "metadata"}
        assert (record.id, record.url) == (hit.id, hit.url)
        described = table_describe(table=record.metadata["table"]["name"], alias=target_alias)
        assert _steady(record.as_dict())["metadata"] == _steady({"text": "", "metadata": described})["metadata"]
        assert "Columns:" in record.text


def test_table_description_text_is_readable(target_alias):
    schema = _schema(target_alias)
    text = fetch_run(id=f"table:{schema}.orders", alias=target_alias).text
    assert text.splitlines()[0].startswith(f"Table {schema}.orders")
    assert "Primary key: order_id" in text
    assert f"- {schema}.orders(customer_id) -> {schema}.customers(customer_id)" in text
    assert f"- {schema}.order_lines(order_id) -> {schema}.orders(order_id)" in text
    assert "Indexes:" in text and "ix_orders_customer (customer_id)" in text
    assert any(line.startswith("- status ") and "NOT NULL" in line for line in text.splitlines())


@pytest.mark.parametrize("query", ["describe orders", "sample employees limit 2",
                                   "SELECT name FROM products WHERE product_id = 7"])
def test_fetch_works_with_a_cold_cache(target_alias, query):
    hits = search_run(query=query, alias=target_alias)
    warm = [fetch_run(id=h.id, alias=target_alias) for h in hits]
    cache.clear()  # another worker, or the entry expired
    cold = [fetch_run(id=h.id, alias=target_alias) for h in hits]
    assert [_steady(r.as_dict()) for r in cold] == [_steady(r.as_dict()) for r in warm]


def test_warm_fetch_does_not_run_the_query_again(target_alias, monkeypatch):
    [hit] = search_run(query="SELECT COUNT(*) AS n FROM customers", alias=target_alias)

    def refuse(**kwargs):
        raise AssertionError("the query ran again")

    monkeypatch.setattr("sqltools.search.query_run", refuse)
    assert "| 1000 |" in fetch_run(id=hit.id, alias=target_alias).text


def test_ids_are_stable(target_alias):
    for query in ("list tables", "customer", "sample orders limit 3", "SELECT 1 AS one"):
        first = search_run(query=query, alias=target_alias)
        cache.clear()
        assert search_run(query=query, alias=target_alias) == first
    schema = _schema(target_alias)
    assert search_run(query="describe orders", alias=target_alias)[0].id == f"table:{schema}.orders"


def test_max_search_results_is_respected(target_alias, sqltools_config):
    sqltools_config(MAX_SEARCH_RESULTS=2)
    assert len(search_run(query="list tables", alias=target_alias)) == 2
    assert len(search_run(query="sample orders limit 10", alias=target_alias)) == 2
    assert len(search_run(query="id", alias=target_alias)) == 2


def test_base_url_makes_absolute_citable_urls(target_alias):
    schema = _schema(target_alias)
    [hit] = search_run(query="describe orders", alias=target_alias, base_url="https://mcp.example.com/")
    assert hit.url == f"https://mcp.example.com/records/table:{schema}.orders"
    assert fetch_run(id=hit.id, alias=target_alias, base_url="https://mcp.example.com").url == hit.url
    assert record_url(id_="table:dbo.Order Details/x", base_url="") == "/records/table:dbo.Order%20Details%2Fx"


def test_odd_table_names_round_trip(target_alias):
    connection = connections[target_alias]
    name = connection.ops.quote_name("Odd:Name 100%")
    with connection.cursor() as cursor:
        key = connection.ops.quote_name("id %")
        cursor.execute(f"CREATE TABLE {name} ({key} INTEGER PRIMARY KEY, label VARCHAR(20))")
        cursor.execute(f"INSERT INTO {name} ({key}, label) VALUES (7, 'seven')")
    try:
        encoded = f"{_schema(target_alias)}.Odd%3AName 100%25"
        hits = search_run(query='sample "Odd:Name 100%"', alias=target_alias)
        assert [h.id for h in hits] == [f"sample:{encoded}:10", f"row:{encoded}:{_b64('[7]')}"]
        cache.clear()
        assert "label: seven" in fetch_run(id=hits[1].id, alias=target_alias).text.splitlines()
        assert fetch_run(id=f"table:{encoded}", alias=target_alias).title.endswith(".Odd:Name 100%")
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {name}")


@pytest.mark.parametrize("make_id, message", [
    (lambda s: "", "not an id from search"),
    (lambda s: "garbage", "not an id from search"),
    (lambda s: "table:", "not an id from search"),
    (lambda s: f"nope:{s}.orders", "not an id from search"),
    (lambda s: "table:orders", "is not <schema>.<table>"),
    (lambda s: f"row:{s}.orders:!!not-base64!!", "not url-safe base64"),
    (lambda s: f"row:{s}.orders:{_b64('not json')}", "its key is not JSON"),
    (lambda s: f"row:{s}.orders:{_b64('[1, 2]')}", "does not match the primary key"),
    (lambda s: f"row:{s}.orders:{_b64(json.dumps({'order_id': 1}))}", "does not match the primary key"),
    (lambda s: f"row:{s}.sales_by_customer:{_b64('[1]')}", "does not match the primary key"),
    (lambda s: f"sample:{s}.orders:many", "must end in a row count"),
    (lambda s: f"sample:{s}.orders:²", "must end in a row count"),
], ids=["empty", "garbage", "bare-prefix", "unknown-prefix", "no-schema", "bad-base64", "not-json", "key-arity",
        "key-object", "no-primary-key", "sample-count", "sample-superscript"])
def test_malformed_ids_are_invalid_arguments(target_alias, make_id, message):
    with pytest.raises(InvalidArgument, match=message):
        fetch_run(id=make_id(_schema(target_alias)), alias=target_alias)


@pytest.mark.parametrize("make_id, message", [
    (lambda s: f"table:{s}.no_such_table", "No table or view named"),
    (lambda s: f"row:{s}.no_such_table:{_b64('[1]')}", "No table or view named"),
    (lambda s: f"row:{s}.customers:{_b64('[999999]')}", "customers has customer_id = 999999; it may have been deleted"),
], ids=["table", "row-of-unknown-table", "row-gone"])
def test_ids_of_missing_things_are_not_found(target_alias, make_id, message):
    with pytest.raises(TableNotFound, match=message):
        fetch_run(id=make_id(_schema(target_alias)), alias=target_alias)


@pytest.mark.parametrize("sql", ["DELETE FROM order_lines", "UPDATE customers SET name = 'x'",
                                 "SELECT 1; DELETE FROM order_lines", "DROP TABLE order_lines"])
def test_writes_are_refused_in_read_only_mode(target_alias, sql):
    with pytest.raises(QueryRefused):
        search_run(query=sql, alias=target_alias)
    with pytest.raises(QueryRefused):
        fetch_run(id=query_id(sql), alias=target_alias)
    assert _count(target_alias, "order_lines") == 50000 and _count(target_alias, "customers") == 1000


def forged_query_ids(sql: str) -> dict[str, str]:
    """Ids for `sql` that this server did not issue: the old unsigned form, another query's signature
    on it, and a signature made with another SECRET_KEY."""
    signature = query_id("SELECT 1 AS one").rpartition(":")[2]
    with override_settings(SECRET_KEY="another server's secret key, long enough to be one"):
        foreign = query_id(sql)
    return {"unsigned": f"query:{_b64(sql)}", "altered": f"query:{_b64(sql)}:{signature}", "foreign-key": foreign}


@pytest.mark.parametrize("kind", ["unsigned", "altered", "foreign-key"])
def test_query_ids_not_issued_here_are_refused_before_running(target_alias, kind):
    sql = "SELECT COUNT(*) AS n FROM customers"
    with CaptureQueriesContext(connections[target_alias]) as ran, pytest.raises(QueryRefused) as refused:
        fetch_run(id=forged_query_ids(sql)[kind], alias=target_alias)
    assert "was not issued by this server (or was altered)" in refused.value.message
    assert "execute_sql" in refused.value.message and ran.captured_queries == []
    with CaptureQueriesContext(connections[target_alias]) as control:  # the capture does see a query that runs
        assert "| 1000 |" in fetch_run(id=query_id(sql), alias=target_alias).text
    assert any(sql in query["sql"] for query in control.captured_queries)


def test_read_only_refusal_says_why(target_alias):
    with pytest.raises(QueryRefused, match="read-only mode"):
        search_run(query="DELETE FROM order_lines", alias=target_alias)


def test_search_and_fetch_never_write_even_in_write_mode(target_alias, sqltools_config):
    sqltools_config(READ_ONLY=False)
    with pytest.raises(QueryRefused, match="read queries only"):
        search_run(query="DELETE FROM order_lines", alias=target_alias)
    with pytest.raises(QueryRefused, match="read queries only"):
        fetch_run(id=query_id("DELETE FROM order_lines WHERE order_line_id = 1"), alias=target_alias)
    assert _count(target_alias, "order_lines") == 50000


def test_empty_query_is_invalid(target_alias):
    with pytest.raises(InvalidArgument, match="empty"):
        search_run(query="   ", alias=target_alias)
