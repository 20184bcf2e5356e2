"""explain_sql on every backend here, T-SQL by parse: the plan is estimated, never run, and its EXPLAIN passes the
policy."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlglot
from django.db import connections
from sqlglot import exp

from sqltools.errors import QueryRefused
from sqltools.explain import plan_explain, plan_summary, plan_text
from sqltools.governance import Access, GroupPolicy, Rule
from sqltools.plans import mssql_plan
from sqltools.policy import statement_policy
from sqltools.query import query_run
from sqltools.readonly import Kind, statement_parse
from sqltools.vendors import VENDORS
from tests.sqltools.test_query import SLOW_QUERY
from tests.targets import statements_sent

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

JOIN = ("SELECT c.name, o.status FROM orders o JOIN customers c ON c.customer_id = o.customer_id "
        "WHERE c.country = 'Japan'")


# Whatever the statistics say: a primary-key equality is a seek, a leading-wildcard LIKE a full scan.
SEEK_AND_SCAN = ("SELECT o.status FROM orders o WHERE o.order_id = 5 "
                 "UNION ALL SELECT c.name FROM customers c WHERE c.name LIKE '%a%'")


def checksum(alias: str, table: str = "orders") -> tuple:
    """Every row of the table, in key order: equal before and after means nothing changed."""
    with connections[alias].cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} ORDER BY 1")
        return tuple(map(tuple, cursor.fetchall()))


def test_a_plan_names_its_operators_scans_and_seeks(target_alias):
    summary = plan_summary(plan_explain(sql=SEEK_AND_SCAN, alias=target_alias))
    accesses = {op["access"] for op in summary["operators"]}
    assert summary["executed"] is False and "seek" in accesses and "scan" in accesses
    assert summary["scans"] and summary["raw_plan"]
    text = plan_text(summary)
    assert "was not run" in text and "[scan]" in text and "[seek]" in text
    if target_alias == "target":
        assert summary["estimated_rows"] is None and "no row or cost estimates" in summary["notice"]
    else:  # PostgreSQL and MariaDB estimate rows; PostgreSQL a cost too
        assert summary["estimated_rows"] > 0
        assert (summary["estimated_cost"] is not None) is (target_alias == "target_pg")


def test_explain_does_not_run_the_statement(target_alias):
    started = time.monotonic()
    plan = plan_explain(sql=SLOW_QUERY[target_alias], alias=target_alias)  # runs past the 5 s timeout when run
    assert time.monotonic() - started < 2 and plan.nodes


def test_a_write_is_planned_never_done(target_alias, sqltools_config):
    sqltools_config(READ_ONLY=False)
    before = checksum(target_alias)
    plan = plan_explain(sql="DELETE FROM orders WHERE order_id <= 500", alias=target_alias, allow_write=True)
    assert plan.nodes and checksum(target_alias) == before
    if target_alias != "target":  # the rows it would change, where the database estimates them
        assert plan.rows and plan.rows > 1
    with pytest.raises(QueryRefused, match="sql:write"):
        plan_explain(sql="DELETE FROM orders WHERE order_id <= 500", alias=target_alias, allow_write=False)


def test_the_inner_statement_meets_the_same_guard_as_execute_sql(target_alias):
    for sql in ("DELETE FROM orders WHERE order_id = 1", "SELECT 1; SELECT 2"):
        with pytest.raises(QueryRefused):
            plan_explain(sql=sql, alias=target_alias)
    with pytest.raises(QueryRefused, match="read-only mode"):
        plan_explain(sql="UPDATE orders SET status = 'x' WHERE order_id = 1", alias=target_alias, allow_write=True)
    with pytest.raises(QueryRefused):  # EXPLAIN is no way around the guard either: the server adds it
        plan_explain(sql="EXPLAIN SELECT 1", alias=target_alias)


def test_the_inner_statement_meets_the_callers_data_policy(target_alias):
    only_orders = Access(user_id=1, username="policed", restricted=True, groups=(
        GroupPolicy("g", (Rule(("*", "orders"), "allow"),), ()),))
    assert plan_explain(sql="SELECT * FROM orders", alias=target_alias, access=only_orders).nodes
    with pytest.raises(QueryRefused):
        plan_explain(sql="SELECT * FROM customers", alias=target_alias, access=only_orders)


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite", "tsql"])
def test_the_policy_admits_only_its_fixed_explain_of_an_admitted_statement(dialect, sqltools_config):
    inner = statement_policy(sql="SELECT 1 AS one", dialect=dialect)
    prefix = next(v.explain_prefix for v in VENDORS.values() if v.dialect == dialect)
    assert (
        statement_policy(sql=prefix + inner.sql, dialect=dialect, purpose="explain", explained=inner).kind is Kind.READ
    )
    for forged in ("EXPLAIN ANALYZE SELECT 1 AS one", prefix + "SELECT 2 AS two", prefix + inner.sql + "; SELECT 1"):
        with pytest.raises(QueryRefused, match="bug"):
            statement_policy(sql=forged, dialect=dialect, purpose="explain", explained=inner)
    with pytest.raises(QueryRefused, match="bug"):
        statement_policy(sql=prefix + inner.sql, dialect=dialect, purpose="explain")
    sqltools_config(READ_ONLY=False)
    write = statement_policy(sql="DELETE FROM orders WHERE order_id = 1", dialect=dialect, allow_write=True)
    explained = statement_policy(sql=prefix + write.sql, dialect=dialect, purpose="explain", explained=write)
    # A prefix makes the text a read; without one (SQL Server) the text is the write, and says so.
    assert explained.kind is (Kind.READ if prefix else write.kind)


def test_sql_server_showplan_batches_parse_as_tsql():
    checked = statement_policy(sql="SELECT TOP (5) name FROM dbo.customers WHERE country = N'Japan'", dialect="tsql")
    on, statement, off = VENDORS["mssql"].explain_batches(checked.sql)
    for batch, value in ((on, "ON"), (off, "OFF")):  # each alone in its batch: one statement, SET SHOWPLAN_XML
        parsed = sqlglot.parse(batch, read="tsql")
        assert len(parsed) == 1 and batch == f"SET SHOWPLAN_XML {value}"
    assert statement == checked.sql  # exactly what the policy admitted, with no ON/OFF inside it
    assert statement_parse(sql=statement, dialect="tsql").kind is Kind.READ
    assert not any("SHOWPLAN" in s.sql(dialect="tsql").upper() for s in sqlglot.parse(statement, read="tsql"))
    assert isinstance(sqlglot.parse_one(statement, read="tsql"), exp.Select)
    tagged_on, tagged_statement, _ = VENDORS["mssql"].explain_batches(checked.sql, "/* mcp_tool='explain_sql' */ ")
    assert len(sqlglot.parse(tagged_on, read="tsql")) == 1 and tagged_on.endswith("*/ SET SHOWPLAN_XML ON")
    assert tagged_statement.endswith(checked.sql)  # the tag is a comment before it, nothing else


SHOWPLAN = (Path(__file__).parent / "showplan_sample.xml").read_text()


def test_a_sql_server_plan_reads_as_a_tree_with_missing_indexes():
    plan = mssql_plan(SHOWPLAN)
    summary = plan_summary(plan)
    ops = [(op["depth"], op["operator"], op["access"], op["relation"]) for op in summary["operators"]]
    assert ops == [(0, "Nested Loops", None, None),
                   (1, "Clustered Index Scan", "scan", "dbo.customers"),
                   (1, "Index Seek", "seek", "dbo.orders")]
    assert plan.rows == 1234.5 and plan.cost == 12.75 and plan.scans == ["dbo.customers"]
    missing = summary["missing_indexes"][0]
    assert missing["impact"] == 87.5 and missing["equality"] == ["country"] and missing["include"] == ["name"]
    assert missing["suggestion"] == "CREATE INDEX ON dbo.customers (country) INCLUDE (name)"
    text = plan_text(summary)
    assert "SQL Server estimated plan" in text and "Missing index (impact 87.5%)" in text
    assert summary["raw_format"] == "xml" and summary["raw_plan"] == SHOWPLAN


def test_explain_passes_the_policy_then_only_the_explain_runs(target_alias, sqltools_config):
    """The one extra round trip of the cost guard is the EXPLAIN: a read over the limit does not run."""
    sqltools_config(MAX_ESTIMATED_ROWS=1, OVER_LIMIT="refuse")
    if target_alias == "target":
        assert query_run(sql=JOIN, alias=target_alias).row_count >= 0  # SQLite gives no estimate: not over
        return
    over = "estimates about .* rows( at its largest step)?, over the limit of 1 .MAX_ESTIMATED_ROWS."
    with pytest.raises(QueryRefused, match=over):
        query_run(sql=JOIN, alias=target_alias)


def test_every_statement_of_an_explain_starts_with_the_calls_tag(target_alias, sqltools_config):
    from tests.sqltools.test_tags import _call

    sqltools_config(MAX_ESTIMATED_ROWS=1_000_000)  # the cost guard's estimate too
    with _call(tool="explain_sql") as call, statements_sent(target_alias) as sent:
        plan_explain(sql="SELECT count(*) FROM customers", alias=target_alias)
        query_run(sql="SELECT count(*) FROM orders", alias=target_alias)
    tag = call.text.replace("%", "%%")
    explains = [sql for sql in sent if "EXPLAIN" in sql]
    assert len(explains) == 2 and all(sql.startswith((call.text, tag)) for sql in sent), sent
