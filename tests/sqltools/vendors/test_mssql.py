"""SQL Server without a server: our T-SQL parses as T-SQL and matches mssql-django's compiler; the real
driver stack (pyodbc + unixODBC + FreeTDS, and mssql-python's bundled driver) fails fast and clearly
against an unreachable server and one that accepts TCP but never answers; and, against a TDS responder
that answers a script, it logs in, reads and writes in the batches we mean, times out, and reconnects."""

from __future__ import annotations

import os
import time
from pathlib import Path

import environ
import pytest
import sqlglot
from django.db import DatabaseError, connections, models
from sqlglot import exp

from mcpsite.liveserver import free_port  # nothing listens there once the probe socket is closed
from mcpsite.targetdb import target_database
from sqltools.errors import QueryTimeout, TargetUnavailable
from sqltools.explain import plan_explain
from sqltools.query import query_read, query_run, target
from sqltools.readonly import Kind, statement_parse
from sqltools.tags import SERVER_TAG
from sqltools.vendors import VENDORS
from tests.sqltools.tds_responder import DROP, INT, NVARCHAR, SILENT, Rows, Rule, TdsResponder

MSSQL = VENDORS["mssql"]


def _as_tsql(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql.replace("%s", "'p'"), read="tsql")


@pytest.mark.parametrize("name", ["tables_sql", "columns_sql", "foreign_keys_sql", "indexes_sql", "comments_sql"])
def test_catalog_queries_parse_as_tsql(name):
    tree = _as_tsql(getattr(MSSQL, name))
    assert isinstance(tree, exp.Select)
    tables = {t.name.lower() for t in tree.find_all(exp.Table)}
    assert tables and all(
        t
        in {
            "objects",
            "schemas",
            "partitions",
            "columns",
            "types",
            "foreign_keys",
            "foreign_key_columns",
            "tables",
            "indexes",
            "index_columns",
            "extended_properties",
        }
        for t in tables
    )


def _mssql_config(settings, url: str) -> dict:
    """The DATABASES entry the product builds from TARGET_DATABASE_URL=`url`."""
    os.environ["TARGET_DATABASE_URL"] = url
    try:
        return target_database(environ.Env(), var_dir=settings.VAR_DIR)
    finally:
        del os.environ["TARGET_DATABASE_URL"]


@pytest.fixture
def mssql_connection(settings, alias_for):
    """An mssql-django connection that is never opened (server version preset as the backend caches it)."""
    alias = alias_for(_mssql_config(settings, "mssql://sa:pw@127.0.0.1:1/demo?driver=FreeTDS"), name="target_mssql")
    connection = connections[alias]
    type(connection)._known_versions[alias] = 2019
    type(connection)._known_azures[alias] = False
    return connection


class DemoOrder(models.Model):
    order_id = models.IntegerField(primary_key=True)
    status = models.CharField(max_length=20)

    class Meta:
        managed = False
        db_table = "orders"
        app_label = "sqltools"


def test_sample_sql_agrees_with_mssql_django_top(mssql_connection):
    theirs, their_params = DemoOrder.objects.all()[:10].query.get_compiler(connection=mssql_connection).as_sql()
    ours, our_params = MSSQL.sample_sql(
        f"{mssql_connection.ops.quote_name('dbo')}.{mssql_connection.ops.quote_name('orders')}", 10
    )
    their_tree, our_tree = _as_tsql(theirs % tuple(their_params)), _as_tsql(ours.replace("%s", str(our_params[0])))
    assert their_tree.args["limit"].sql("tsql") == our_tree.args["limit"].sql("tsql") == "TOP 10" or (
        their_tree.args["limit"].expression.sql() == our_tree.args["limit"].expression.sql() == "10"
    )
    assert (
        [t.name for t in their_tree.find_all(exp.Table)] == [t.name for t in our_tree.find_all(exp.Table)] == ["orders"]
    )


def test_offset_paging_from_mssql_django_is_read_only_tsql(mssql_connection):
    sql, params = DemoOrder.objects.order_by("order_id")[5:15].query.get_compiler(connection=mssql_connection).as_sql()
    text = sql.replace("%s", "{}").format(*params)
    assert "OFFSET" in text and "FETCH" in text
    assert statement_parse(sql=text, dialect="tsql").kind is Kind.READ


def test_bracket_quoting_matches_the_backend(mssql_connection):
    quoted = f"{mssql_connection.ops.quote_name('dbo')}.{mssql_connection.ops.quote_name('Order Details')}"
    assert quoted == "[dbo].[Order Details]"
    table = _as_tsql(f"SELECT * FROM {quoted}").find(exp.Table)
    assert (table.db, table.name) == ("dbo", "Order Details")


def test_mssql_env_variables_build_a_connection(monkeypatch, settings):
    for key, value in {
        "MSSQL_HOST": "sql.example.com",
        "MSSQL_USER": "reader",
        "MSSQL_PASSWORD": "s3cret",
        "MSSQL_DATABASE": "sales",
        "MSSQL_DRIVER": "ODBC Driver 18 for SQL Server",
        "TrustServerCertificate": "yes",
        "Trusted_Connection": "no",
    }.items():
        monkeypatch.setenv(key, value)
    config = target_database(environ.Env(), var_dir=settings.VAR_DIR)
    assert (config["ENGINE"], config["HOST"], config["NAME"], config["USER"]) == (
        "mssql",
        "sql.example.com",
        "sales",
        "reader",
    )
    assert config["OPTIONS"]["driver"] == "ODBC Driver 18 for SQL Server"
    assert "TrustServerCertificate=yes" in config["OPTIONS"]["extra_params"]
    assert config["Trusted_Connection"] == "no"


def _driver_alias(settings, alias_for, *, port: int, python_driver: bool) -> str:
    query = "python_driver=mssql_python&TrustServerCertificate=yes" if python_driver else "driver=FreeTDS"
    config = _mssql_config(settings, f"mssql://sa:pw@127.0.0.1:{port}/demo?{query}&connection_timeout=2")
    return alias_for(config, name=f"mssql_{'py' if python_driver else 'odbc'}_{port}")


needs_freetds = pytest.mark.requires("freetds")


@needs_freetds
@pytest.mark.parametrize("python_driver", [False, True], ids=["pyodbc-freetds", "mssql-python"])
def test_unreachable_server_fails_fast_and_clearly(settings, alias_for, python_driver):
    alias = _driver_alias(settings, alias_for, port=free_port(), python_driver=python_driver)
    started = time.perf_counter()
    with pytest.raises(TargetUnavailable, match=r"\(unreachable; log ref") as error:
        target(alias)
    assert time.perf_counter() - started < 5
    assert "pw" not in str(error.value)


@needs_freetds
@pytest.mark.parametrize("python_driver", [False, True], ids=["pyodbc-freetds", "mssql-python"])
def test_silent_server_times_out_instead_of_hanging(settings, alias_for, silent_server, python_driver):
    alias = _driver_alias(settings, alias_for, port=silent_server, python_driver=python_driver)
    started = time.perf_counter()
    with pytest.raises(TargetUnavailable, match=r"\(timeout; log ref"):
        target(alias)
    assert 1 <= time.perf_counter() - started < 10


# --- Through the real driver stack to a TDS responder (tests/sqltools/tds_responder.py) ------------------------------

ANSWER = Rows([("answer", INT), ("note", NVARCHAR)], [(42, "forty-two")])
SHOWPLAN = (Path(__file__).parent.parent / "showplan_sample.xml").read_text()


@pytest.fixture
def responder():
    double = TdsResponder(rules=[
        # mssql-django at connect: the transaction count, and a clock whose value must not be text.
        Rule("SELECT @@TRANCOUNT", Rows([("n", INT)], [(0,)])), Rule("SYSDATETIME", Rows([("now", INT)], [(0,)])),
        Rule("SELECT 42", ANSWER), Rule("WAITFOR", SILENT), Rule("SELECT 'drop'", DROP, times=1),
        Rule("FROM dbo.customers", Rows([("Microsoft SQL Server 2005 XML Showplan", NVARCHAR)], [(SHOWPLAN,)])),
    ])
    yield double
    double.close()


@pytest.fixture(params=[False, True], ids=["pyodbc-freetds", "mssql-python"])
def responder_alias(request, settings, responder, alias_for, sqltools_config):
    python_driver = request.param
    query = "python_driver=mssql_python&Encrypt=no&TrustServerCertificate=yes" if python_driver else "driver=FreeTDS"
    config = _mssql_config(settings, f"mssql://sa:pw@127.0.0.1:{responder.port}/demo?{query}&connection_timeout=3")
    alias = alias_for(config, name=f"mssql_responder_{'py' if python_driver else 'odbc'}")
    connection = connections[alias]
    type(connection)._known_versions[alias] = 2019  # what mssql-django would ask SERVERPROPERTY for
    type(connection)._known_azures[alias] = False
    sqltools_config(QUERY_TIMEOUT_SECONDS=1, READ_ONLY=False)
    return alias


def _sent_since(responder: TdsResponder, start: int) -> list[str]:
    """What went since `start`, each without the statement tag it starts with (tests/sqltools/test_tags.py)."""
    return [text.removeprefix(SERVER_TAG) for kind, text in responder.requests[start:] if kind != "attention"]


@needs_freetds
def test_a_read_is_two_batches_with_the_caps_and_the_rollback(responder, responder_alias):
    assert query_run(sql="SELECT 1", alias=responder_alias).rows == []  # connects (mssql-django's own batches)
    start = len(responder.requests)
    result = query_run(sql="SELECT 42 AS answer", alias=responder_alias)
    assert (result.columns, result.rows) == (["answer", "note"], [[42, "forty-two"]])
    assert _sent_since(responder, start) == [
        "SET ROWCOUNT 1001; SET TEXTSIZE 16777216; BEGIN TRANSACTION; SELECT 42 AS answer",
        "IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION; SET ROWCOUNT 0; SET TEXTSIZE 2147483647",
    ]


@needs_freetds
def test_a_generated_read_with_parameters_is_one_rpc(responder, responder_alias):
    connection, vendor = target(responder_alias)
    start = len(responder.requests)
    result = query_read(
        connection=connection, vendor=vendor, sql="SELECT 42 AS answer WHERE 1 = %s", params=[1], max_rows=5
    )
    assert result.rows == [[42, "forty-two"]]
    assert _sent_since(responder, start) == ["SET ROWCOUNT 6; SET TEXTSIZE 16777216; SELECT 42 AS answer WHERE 1 = @P1"]


@needs_freetds
def test_explain_is_showplan_on_in_its_own_batch_then_the_connection_is_closed(responder, responder_alias):
    query_run(sql="SELECT 1", alias=responder_alias)
    start = len(responder.requests)
    sql = "SELECT c.name FROM dbo.customers AS c WHERE c.country = N'Japan'"
    plan = plan_explain(sql=sql, alias=responder_alias)
    # ON alone, the statement alone (compiled, not run: the server answers with its plan), OFF; then the
    # connection is closed (the driver rolls back as it closes it).
    assert _sent_since(responder, start) == ["SET SHOWPLAN_XML ON", sql, "SET SHOWPLAN_XML OFF", "ROLLBACK"]
    assert plan.scans == ["dbo.customers"] and plan.missing_indexes[0]["equality"] == ["country"]
    assert connections[responder_alias].connection is None  # no session is left with SHOWPLAN on


@needs_freetds
def test_a_write_is_two_batches(responder, responder_alias):
    query_run(sql="SELECT 1", alias=responder_alias)
    start = len(responder.requests)
    query_run(sql="UPDATE orders SET status = 'x' WHERE order_id = 1", alias=responder_alias)
    assert _sent_since(responder, start) == [
        "BEGIN TRANSACTION; UPDATE orders SET status = 'x' WHERE order_id = 1", "COMMIT TRANSACTION"]


@needs_freetds
def test_the_end_users_identity_rides_in_the_batches_and_is_cleared_after(responder, responder_alias, sqltools_config):
    """sp_set_session_context for a security policy's SESSION_CONTEXT(N'mcp_user'), cleared so it never carries over."""
    from sqltools.governance import Access, access_scope

    sqltools_config(READ_ONLY=False)
    query_run(sql="SELECT 1", alias=responder_alias)
    who = ("EXEC sp_set_session_context N'mcp_user', N'o''brien'; "
           "EXEC sp_set_session_context N'mcp_client', N'Claude'; ")
    forget = "EXEC sp_set_session_context N'mcp_user', NULL; EXEC sp_set_session_context N'mcp_client', NULL"
    with access_scope(Access(user_id=7, username="o'brien", client="Claude")):
        start = len(responder.requests)
        query_run(sql="SELECT 42 AS answer", alias=responder_alias)
        assert _sent_since(responder, start) == [
            f"SET ROWCOUNT 1001; SET TEXTSIZE 16777216; {who}BEGIN TRANSACTION; SELECT 42 AS answer",
            f"IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION; SET ROWCOUNT 0; SET TEXTSIZE 2147483647; {forget}",
        ]
        start = len(responder.requests)
        query_run(sql="UPDATE orders SET status = 'x' WHERE order_id = 1", alias=responder_alias)
        assert _sent_since(responder, start) == [
            f"BEGIN TRANSACTION; {who}UPDATE orders SET status = 'x' WHERE order_id = 1",
            f"COMMIT TRANSACTION; {forget}",
        ]
        connection, vendor = target(responder_alias)
        start = len(responder.requests)
        query_read(connection=connection, vendor=vendor, sql="SELECT 42 AS answer WHERE 1 = %s", params=[1], max_rows=5)
        assert _sent_since(responder, start) == [
            f"SET ROWCOUNT 6; SET TEXTSIZE 16777216; {who}SELECT 42 AS answer WHERE 1 = @P1",
            forget,
        ]


@needs_freetds
def test_every_batch_and_rpc_starts_with_the_calls_tag(responder, responder_alias, sqltools_config):
    """The T-SQL on the wire (as the TDS responder received it) starts with the call's tag, which SQL Server lexes
    as one comment before the batch the guard checked, and which sqlglot's T-SQL parser reads as a comment."""
    from sqltools.lexing import COMMENT, server_parts
    from sqltools.tags import call_tag_scope

    sqltools_config(READ_ONLY=False)
    query_run(sql="SELECT 1", alias=responder_alias)
    with call_tag_scope(client="*/ DROP TABLE orders; /*", user_id=7, username="", tool="execute_sql",
                        audit_id="0123456789abcdef") as call:
        start = len(responder.requests)
        query_run(sql="SELECT 42 AS answer", alias=responder_alias)
        query_run(sql="UPDATE orders SET status = 'x' WHERE order_id = 1", alias=responder_alias)
        connection, vendor = target(responder_alias)
        query_read(connection=connection, vendor=vendor, sql="SELECT 42 AS answer WHERE 1 = %s", params=[1], max_rows=5)
    sent = [text for kind, text in responder.requests[start:] if kind != "attention"]
    assert len(sent) == 5 and "client='%2A%2F%20DROP%20TABLE%20orders%3B%20%2F%2A'" in call.text
    for text in sent:
        assert text.startswith(call.text), text
        assert server_parts(sql=text, dialect="tsql")[0] == (COMMENT, 0, len(call.text) - 1)
        first = sqlglot.tokenize(text, read="tsql")[0]  # sqlglot too reads the tag as the first token's comment
        assert "audit_id='0123456789abcdef'" in first.comments[0] and first.start == len(call.text)
        statements = sqlglot.parse(text.replace("@P1", "1"), read="tsql")
        assert not any(isinstance(node, exp.Drop) for statement in statements for node in statement.walk())


@needs_freetds
def test_a_catalog_querys_tag_is_sent_as_the_policy_checked_it(responder, responder_alias):
    """mssql-django %-formats a statement only when it has parameters: the catalog's list of none leaves '%%' as
    it is, so the tag of a client named with a space must not be doubled for it."""
    from sqltools.catalog import tables_list
    from sqltools.tags import call_tag_scope

    query_run(sql="SELECT 1", alias=responder_alias)
    with call_tag_scope(client="Claude Desktop", user_id=7, username="", tool="list_tables",
                        audit_id="0123456789abcdef") as call:
        start = len(responder.requests)
        with pytest.raises(DatabaseError, match="No results|Invalid cursor state"):  # the responder has no catalog
            tables_list(alias=responder_alias)
    sent = [text for kind, text in responder.requests[start:] if kind != "attention"]
    assert "client='Claude%20Desktop'" in call.text
    assert sent and all(text.startswith(call.text) for text in sent), sent


@needs_freetds
def test_the_query_timeout_holds_and_the_next_call_reconnects(responder, responder_alias):
    query_run(sql="SELECT 1", alias=responder_alias)
    started = time.perf_counter()
    with pytest.raises(QueryTimeout, match="longer than 1 s"):
        query_run(sql="SELECT 1 FROM orders WHERE 'WAITFOR' = 'x'", alias=responder_alias)
    assert 0.9 < time.perf_counter() - started < 5
    assert connections[responder_alias].connection is None  # closed: the driver may have left it dead
    assert query_run(sql="SELECT 42", alias=responder_alias).rows == [[42, "forty-two"]]


@needs_freetds
def test_a_dropped_connection_is_unavailable_and_the_next_call_reconnects(responder, responder_alias):
    query_run(sql="SELECT 1", alias=responder_alias)
    with pytest.raises(TargetUnavailable, match=r"\(unreachable; log ref"):
        query_run(sql="SELECT 'drop'", alias=responder_alias)
    assert query_run(sql="SELECT 42", alias=responder_alias).rows == [[42, "forty-two"]]
