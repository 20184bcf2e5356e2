"""SQL Server without a server: our T-SQL parses as T-SQL and matches mssql-django's compiler,
and the real driver stack (pyodbc + unixODBC + FreeTDS, and mssql-python's bundled driver)
fails fast and clearly against an unreachable server and one that accepts TCP but never answers."""

from __future__ import annotations

import os
import shutil
import socket
import time

import environ
import pytest
import sqlglot
from django.db import connections, models
from sqlglot import exp

from mcpsite.targetdb import target_database
from sqltools.errors import TargetUnavailable
from sqltools.query import target
from sqltools.readonly import Kind, statement_parse
from sqltools.vendors import VENDORS
from tests.live import free_port  # nothing listens there once the probe socket is closed

MSSQL = VENDORS["mssql"]


def _as_tsql(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql.replace("%s", "'p'"), read="tsql")


@pytest.mark.parametrize("name", ["tables_sql", "columns_sql", "foreign_keys_sql", "indexes_sql", "comments_sql"])
def test_catalog_queries_parse_as_tsql(name):
    tree = _as_tsql(getattr(MSSQL, name))
    assert isinstance(tree, exp.Select)
    tables = {t.name.lower() for t in tree.find_all(exp.Table)}
    assert tables and all(t in {"objects", "schemas", "partitions", "columns", "types", "foreign_keys",
                                "foreign_key_columns", "tables", "indexes", "index_columns", "extended_properties"} for t in tables)


@pytest.fixture
def mssql_connection(settings):
    """An mssql-django connection that is never opened (server version preset as the backend caches it)."""
    env = environ.Env()
    os.environ["TARGET_DATABASE_URL"] = "mssql://sa:pw@127.0.0.1:1/demo?driver=FreeTDS"
    try:
        config = target_database(env, var_dir=settings.VAR_DIR)
    finally:
        del os.environ["TARGET_DATABASE_URL"]
    connection = _add_alias("target_mssql", config)
    type(connection)._known_versions["target_mssql"] = 2019
    type(connection)._known_azures["target_mssql"] = False
    yield connection
    _remove_alias("target_mssql")


def _add_alias(alias: str, config: dict):
    """Register a database alias for this test only (Django caches DATABASES in `connections`)."""
    configured = connections.configure_settings({"default": connections.settings["default"], alias: config})
    connections.settings[alias] = configured[alias]
    return connections[alias]


def _remove_alias(alias: str) -> None:
    connections[alias].close()
    del connections[alias]
    del connections.settings[alias]


class DemoOrder(models.Model):
    order_id = models.IntegerField(primary_key=True)
    status = models.CharField(max_length=20)

    class Meta:
        managed = False
        db_table = "orders"
        app_label = "sqltools"


def test_sample_sql_agrees_with_mssql_django_top(mssql_connection):
    theirs, their_params = DemoOrder.objects.all()[:10].query.get_compiler(connection=mssql_connection).as_sql()
    ours, our_params = MSSQL.sample_sql(f"{mssql_connection.ops.quote_name('dbo')}.{mssql_connection.ops.quote_name('orders')}", 10)
    their_tree, our_tree = _as_tsql(theirs % tuple(their_params)), _as_tsql(ours.replace("%s", str(our_params[0])))
    assert their_tree.args["limit"].sql("tsql") == our_tree.args["limit"].sql("tsql") == "TOP 10" or (
        their_tree.args["limit"].expression.sql() == our_tree.args["limit"].expression.sql() == "10")
    assert [t.name for t in their_tree.find_all(exp.Table)] == [t.name for t in our_tree.find_all(exp.Table)] == ["orders"]


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
    for key, value in {"MSSQL_HOST": "sql.example.com", "MSSQL_USER": "reader", "MSSQL_PASSWORD": "s3cret",
                       "MSSQL_DATABASE": "sales", "MSSQL_DRIVER": "ODBC Driver 18 for SQL Server",
                       "TrustServerCertificate": "yes", "Trusted_Connection": "no"}.items():
        monkeypatch.setenv(key, value)
    config = target_database(environ.Env(), var_dir=settings.VAR_DIR)
    assert (config["ENGINE"], config["HOST"], config["NAME"], config["USER"]) == ("mssql", "sql.example.com", "sales", "reader")
    assert config["OPTIONS"]["driver"] == "ODBC Driver 18 for SQL Server"
    assert "TrustServerCertificate=yes" in config["OPTIONS"]["extra_params"]
    assert config["Trusted_Connection"] == "no"


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield server.getsockname()[1]
    server.close()




def _driver_alias(settings, *, port: int, python_driver: bool) -> str:
    query = "python_driver=mssql_python&TrustServerCertificate=yes" if python_driver else "driver=FreeTDS"
    os.environ["TARGET_DATABASE_URL"] = f"mssql://sa:pw@127.0.0.1:{port}/demo?{query}&connection_timeout=2"
    try:
        config = target_database(environ.Env(), var_dir=settings.VAR_DIR)
    finally:
        del os.environ["TARGET_DATABASE_URL"]
    alias = f"mssql_{'py' if python_driver else 'odbc'}_{port}"
    _add_alias(alias, config)
    return alias


needs_freetds = pytest.mark.skipif(
    not shutil.which("odbcinst") and not os.environ.get("CI"), reason="unixODBC/FreeTDS not installed (scripts/system-deps.sh)"
)


@needs_freetds
@pytest.mark.parametrize("python_driver", [False, True], ids=["pyodbc-freetds", "mssql-python"])
def test_unreachable_server_fails_fast_and_clearly(settings, django_db_blocker, python_driver):
    alias = _driver_alias(settings, port=free_port(), python_driver=python_driver)
    started = time.perf_counter()
    with pytest.raises(TargetUnavailable, match=r"\(unreachable; log ref") as error:
        with django_db_blocker.unblock():
            target(alias)
    _remove_alias(alias)
    assert time.perf_counter() - started < 5
    assert "pw" not in str(error.value)


@needs_freetds
@pytest.mark.parametrize("python_driver", [False, True], ids=["pyodbc-freetds", "mssql-python"])
def test_silent_server_times_out_instead_of_hanging(settings, django_db_blocker, silent_server, python_driver):
    alias = _driver_alias(settings, port=silent_server, python_driver=python_driver)
    started = time.perf_counter()
    with pytest.raises(TargetUnavailable, match=r"\(timeout; log ref"):
        with django_db_blocker.unblock():
            target(alias)
    _remove_alias(alias)
    assert 1 <= time.perf_counter() - started < 10
