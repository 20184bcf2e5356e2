from __future__ import annotations

import pytest

from sqltools.catalog import table_describe, table_resolve, table_sample, tables_list, unknown_name_hint
from sqltools.errors import InvalidArgument, TableNotFound

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_list_tables_names_every_demo_table_and_view(target_alias):
    tables = {t.name: t for t in tables_list(alias=target_alias)}
    assert {"customers", "products", "employees", "orders", "order_lines", "sales_by_customer"} <= set(tables)
    assert tables["sales_by_customer"].kind == "view"
    assert tables["orders"].kind == "table"
    assert all("." in t.qualified_name for t in tables.values())


def test_list_tables_filters_by_name(target_alias):
    names = [t.name for t in tables_list(alias=target_alias, name_filter="ORDER")]
    assert sorted(names) == ["order_lines", "orders"]


def test_row_estimates_where_cheap(target_alias):
    from django.db import connections

    if target_alias == "target_pg":
        with connections[target_alias].cursor() as cursor:
            cursor.execute("ANALYZE order_lines")
    orders = next(t for t in tables_list(alias=target_alias) if t.name == "order_lines")
    if target_alias == "target":
        assert orders.row_estimate is None  # SQLite has no cheap estimate
    else:
        assert 25_000 <= orders.row_estimate <= 100_000


@pytest.mark.parametrize(
    "spelling",
    [
        "orders",
        "ORDERS",
        "Orders",
        "{schema}.orders",
        "[{schema}].[orders]",
        '"{schema}"."orders"',
        "`{schema}`.`orders`",
    ],
)
def test_resolve_accepts_common_spellings(target_alias, spelling):
    """Names are split by sqltools, not by the database: every quoting style works on every target."""
    schema = tables_list(alias=target_alias)[0].schema
    ref = table_resolve(table=spelling.format(schema=schema), alias=target_alias)
    assert (ref.schema, ref.name) == (schema, "orders")


def test_unknown_table_lists_close_matches(target_alias):
    with pytest.raises(TableNotFound) as error:
        table_resolve(table="ordr_lines", alias=target_alias)
    assert "order_lines" in str(error.value)


def test_empty_table_name_is_invalid(target_alias):
    with pytest.raises(InvalidArgument):
        table_resolve(table="  ", alias=target_alias)


def test_describe_has_columns_keys_and_indexes(target_alias):
    info = table_describe(table="orders", alias=target_alias)
    columns = {c["name"]: c for c in info["columns"]}
    assert list(columns)[:2] == ["order_id", "customer_id"]
    assert columns["shipped_on"]["nullable"] is True
    assert columns["status"]["nullable"] is False
    assert info["primary_key"] == ["order_id"]
    outgoing = {fk["referenced_table"].split(".")[-1]: fk for fk in info["foreign_keys"]}
    assert outgoing["customers"]["columns"] == ["customer_id"]
    assert outgoing["employees"]["referenced_columns"] == ["employee_id"]
    incoming = [fk for fk in info["referenced_by"] if fk["table"].endswith("order_lines")]
    assert incoming and incoming[0]["columns"] == ["order_id"]
    assert any(ix["columns"] == ["customer_id"] for ix in info["indexes"])


def test_describe_self_reference_appears_both_ways(target_alias):
    info = table_describe(table="employees", alias=target_alias)
    assert [fk["columns"] for fk in info["foreign_keys"]] == [["manager_id"]]
    referenced_by = {fk["table"].split(".")[-1] for fk in info["referenced_by"]}
    assert referenced_by == {"employees", "orders"}


def test_describe_reports_lengths_where_the_backend_has_them(target_alias):
    columns = {c["name"]: c for c in table_describe(table="customers", alias=target_alias)["columns"]}
    if target_alias != "target":
        assert columns["email"]["max_length"] == 120
        assert (columns["credit_limit"]["precision"], columns["credit_limit"]["scale"]) == (12, 2)
    else:
        assert columns["email"]["type"] == "VARCHAR(120)"


def test_sample_returns_first_rows_clamped(target_alias, sqltools_config):
    sqltools_config(MAX_SAMPLE_ROWS=7)
    result = table_sample(table="products", limit=50, alias=target_alias)
    assert result.row_count == 7
    assert result.columns[:2] == ["product_id", "sku"]
    assert table_sample(table="products", alias=target_alias).row_count == 7
    assert table_sample(table="products", limit=3, alias=target_alias).row_count == 3


def test_sample_quotes_identifiers_it_did_not_invent(target_alias):
    from django.db import connections

    connection = connections[target_alias]
    name = connection.ops.quote_name("Order Details")
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, note VARCHAR(20))")
        cursor.execute(f"INSERT INTO {name} (id, note) VALUES (1, 'x')")
    try:
        assert table_sample(table="order details", alias=target_alias).rows == [[1, "x"]]
        with pytest.raises(TableNotFound):
            table_sample(table="orders; DROP TABLE orders", alias=target_alias)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {name}")


def test_sample_rejects_non_numeric_limit(target_alias):
    with pytest.raises(InvalidArgument):
        table_sample(table="orders", limit="ten", alias=target_alias)


def test_close_matches_name_each_table_once(target_alias):
    with pytest.raises(TableNotFound) as error:
        table_resolve(table="customer", alias=target_alias)
    suggested = str(error.value).split("Did you mean: ")[1].rstrip("?").split(", ")
    assert len(suggested) == len(set(suggested))
    assert [s for s in suggested if s.endswith(".customers")] and "customers" not in suggested


def test_a_capped_sample_says_so(target_alias, sqltools_config):
    sqltools_config(MAX_SAMPLE_ROWS=7)
    result = table_sample(table="products", limit=5000, alias=target_alias)
    assert (result.row_count, result.limit_requested, result.limit_applied) == (7, 5000, 7)
    assert result.truncated and result.truncated_reason == "max_sample_rows"
    assert "limit 5,000 is over the maximum of 7" in result.notice and "More rows exist" in result.notice
    exact = table_sample(table="products", limit=7, alias=target_alias)
    assert not exact.truncated and exact.notice is None  # what was asked for is what came: nothing to say


def test_a_limit_below_one_is_refused(target_alias):
    for limit in (0, -5):
        with pytest.raises(InvalidArgument, match="limit must be at least 1"):
            table_sample(table="products", limit=limit, alias=target_alias)


@pytest.mark.parametrize("sql, expected", [
    ("SELECT * FROM Order_Line", "order_lines"),
    ("SELECT custmer_id FROM orders", "orders.customer_id"),
])
def test_unknown_names_in_a_query_get_close_matches(target_alias, sql, expected):
    from sqltools.errors import QueryFailed
    from sqltools.query import query_run

    with pytest.raises(QueryFailed) as error:
        query_run(sql=sql, alias=target_alias)
    hint = unknown_name_hint(message=error.value.message, sql=sql, alias=target_alias)
    assert hint.startswith(" Did you mean: ") and expected in hint
    names = hint.removeprefix(" Did you mean: ").rstrip("?").split(", ")
    assert len(names) == len(set(names))
