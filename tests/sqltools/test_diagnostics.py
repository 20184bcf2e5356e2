"""Connection failures reach the assistant as a category and a log reference; host, port and login stay in the log.
The login's privileges are read from each vendor's catalog and shown to the operator."""

from __future__ import annotations

import logging
import os
import re

import pyodbc
import pytest
import sqlglot
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections
from sqlglot import exp

import sqltools.login
from mcp_bridge.app import startup_announce
from mcpsite.liveserver import free_port  # nothing listens there once the probe socket is closed
from sqltools.checks import check_target_login
from sqltools.diagnostics import connection_error_category, database_error_sentence
from sqltools.errors import QueryFailed, TargetUnavailable
from sqltools.login import LoginReport, login_privileges
from sqltools.query import query_run, target
from tests.targets import target_params

LOGIN = "diag_login_name"






def _failure(alias: str, caplog) -> tuple[TargetUnavailable, str]:
    with caplog.at_level(logging.WARNING, logger="sqltools.diagnostics"), pytest.raises(TargetUnavailable) as raised:
        target(alias)
    lines = [r.getMessage() for r in caplog.records if r.name == "sqltools.diagnostics"]
    assert len(lines) == 1
    return raised.value, lines[0]


def _assert_told_apart(
    error: TargetUnavailable, log_line: str, *, category: str, host: str, port: int, user: str
) -> None:
    message = str(error)
    assert error.category == category and f"({category}; log ref " in message
    ref = re.search(r"log ref ([0-9a-f]{6})\)", message).group(1)
    for secret in (host, str(port), user):
        assert secret not in message
        assert secret in log_line
    assert f"log ref {ref}" in log_line and category in log_line


def _pg(**changes) -> dict:
    base = {"ENGINE": "django.db.backends.postgresql", "NAME": "postgres", "HOST": "127.0.0.1", "PORT": 5432,
            "USER": "postgres", "PASSWORD": "", "OPTIONS": {"connect_timeout": 2}}
    return {**base, **changes}


def _mysql(**changes) -> dict:
    base = {"ENGINE": "django.db.backends.mysql", "NAME": "mysql", "HOST": "127.0.0.1", "PORT": 3306,
            "USER": "root", "PASSWORD": "", "OPTIONS": {"connect_timeout": 2}}
    return {**base, **changes}


needs_pg = pytest.mark.requires("postgresql")
needs_mysql = pytest.mark.requires("mysql")


# --- PostgreSQL ----------------------------------------------------------------------------------------------------

def test_postgresql_on_a_closed_port_is_unreachable(alias_for, caplog):
    port = free_port()
    error, line = _failure(alias_for(_pg(PORT=port, USER=LOGIN)), caplog)
    _assert_told_apart(error, line, category="unreachable", host="127.0.0.1", port=port, user=LOGIN)
    assert "Connection refused" in line  # the driver's own message stays in the log


def test_postgresql_silent_server_is_a_timeout(alias_for, caplog, silent_server):
    error, line = _failure(alias_for(_pg(PORT=silent_server, USER=LOGIN)), caplog)
    _assert_told_apart(error, line, category="timeout", host="127.0.0.1", port=silent_server, user=LOGIN)


@needs_pg
def test_postgresql_unknown_database_is_misconfigured(alias_for, caplog):
    error, line = _failure(alias_for(_pg(NAME="no_such_db_diag")), caplog)
    _assert_told_apart(error, line, category="misconfigured", host="127.0.0.1", port=5432, user="postgres")
    assert "no_such_db_diag" not in str(error)


@needs_pg
def test_postgresql_unknown_role_is_a_failed_login(alias_for, caplog):
    error, line = _failure(alias_for(_pg(USER=LOGIN)), caplog)
    _assert_told_apart(error, line, category="login_failed", host="127.0.0.1", port=5432, user=LOGIN)


# --- MariaDB -------------------------------------------------------------------------------------------------------

@needs_mysql
def test_mariadb_wrong_password_is_a_failed_login(alias_for, caplog):
    error, line = _failure(alias_for(_mysql(PASSWORD="not-the-password")), caplog)
    _assert_told_apart(error, line, category="login_failed", host="127.0.0.1", port=3306, user="root")
    assert "not-the-password" not in line


def test_mariadb_on_a_closed_port_is_unreachable(alias_for, caplog):
    port = free_port()
    error, line = _failure(alias_for(_mysql(PORT=port, USER=LOGIN)), caplog)
    _assert_told_apart(error, line, category="unreachable", host="127.0.0.1", port=port, user=LOGIN)


def test_mariadb_silent_server_is_a_timeout(alias_for, caplog, silent_server):
    error, line = _failure(alias_for(_mysql(PORT=silent_server, USER=LOGIN)), caplog)
    _assert_told_apart(error, line, category="timeout", host="127.0.0.1", port=silent_server, user=LOGIN)


@needs_mysql
def test_mariadb_unknown_database_is_misconfigured(alias_for, caplog):
    error, line = _failure(alias_for(_mysql(NAME="no_such_db_diag")), caplog)
    assert error.category == "misconfigured" and "no_such_db_diag" not in str(error) and "no_such_db_diag" in line


# --- SQLite --------------------------------------------------------------------------------------------------------

def test_sqlite_unopenable_file_is_misconfigured(alias_for, caplog, tmp_path):
    path = tmp_path / "missing-dir" / "sales.sqlite3"
    error, line = _failure(alias_for({"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}), caplog)
    assert error.category == "misconfigured" and str(tmp_path) not in str(error) and str(path) in line


# --- SQL Server: the real driver stacks, and the messages they give for what needs a server --------------------------

needs_freetds = pytest.mark.requires("freetds")


def _mssql(port: int, python_driver: bool) -> dict:
    import environ

    from mcpsite.targetdb import target_database

    query = "python_driver=mssql_python&TrustServerCertificate=yes" if python_driver else "driver=FreeTDS"
    env = environ.Env()
    env.ENVIRON = {"TARGET_DATABASE_URL": f"mssql://{LOGIN}:pw@127.0.0.1:{port}/demo?{query}&connection_timeout=2"}
    return target_database(env, var_dir=settings.VAR_DIR)


@needs_freetds
@pytest.mark.parametrize("python_driver", [False, True], ids=["pyodbc-freetds", "mssql-python"])
def test_sql_server_on_a_closed_port_is_unreachable(alias_for, caplog, python_driver):
    port = free_port()
    error, line = _failure(alias_for(_mssql(port, python_driver)), caplog)
    _assert_told_apart(error, line, category="unreachable", host="127.0.0.1", port=port, user=LOGIN)


@needs_freetds
@pytest.mark.parametrize("python_driver", [False, True], ids=["pyodbc-freetds", "mssql-python"])
def test_sql_server_silent_server_is_a_timeout(alias_for, caplog, silent_server, python_driver):
    error, line = _failure(alias_for(_mssql(silent_server, python_driver)), caplog)
    _assert_told_apart(error, line, category="timeout", host="127.0.0.1", port=silent_server, user=LOGIN)


@pytest.mark.parametrize(
    "args, category",
    [
        (
            (
                "28000",
                "[28000] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Login failed for user 'bob'. (18456)",
            ),
            "login_failed",
        ),
        (
            ("28000", "[28000] [FreeTDS][SQL Server]Login failed for user 'bob'. (18456) (SQLDriverConnect)"),
            "login_failed",
        ),
        (
            (
                "42000",
                "[42000] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Cannot open database \"sales\" "
                "requested by the login. The login failed. (4060)",
            ),
            "misconfigured",
        ),
        (
            (
                "08001",
                "[08001] [Microsoft][ODBC Driver 18 for SQL Server]SSL Provider: [error:0A000086:SSL routines::"
                "certificate verify failed:unable to get local issuer certificate] (-1)",
            ),
            "tls",
        ),
        (("HYT00", "[HYT00] [Microsoft][ODBC Driver 18 for SQL Server]Login timeout expired (0)"), "timeout"),
        (
            ("08001", "[08001] [Microsoft][ODBC Driver 18 for SQL Server]TCP Provider: Error code 0x2749 (10057)"),
            "unreachable",
        ),
        (
            (
                "01000",
                "[01000] [unixODBC][Driver Manager]Can't open lib 'ODBC Driver 17 for SQL Server' : file not found",
            ),
            "misconfigured",
        ),
        (
            ("IM002", "[IM002] [unixODBC][Driver Manager]Data source name not found and no default driver specified"),
            "misconfigured",
        ),
    ],
)
def test_sql_server_driver_messages_have_categories(args, category):
    assert connection_error_category(pyodbc.OperationalError(*args)) == category


@pytest.mark.parametrize(
    "args, category",
    [
        ((2026, "TLS/SSL error: self-signed certificate"), "tls"),
        ((1698, "Access denied for user 'root'@'localhost'"), "login_failed"),
        ((2005, "Unknown server host 'db.example' (-2)"), "unreachable"),
    ],
)
def test_mariadb_codes_have_categories(args, category):
    import MySQLdb

    assert connection_error_category(MySQLdb.OperationalError(*args)) == category


@pytest.mark.parametrize(
    "text, category",
    [
        (
            'connection to server at "10.0.0.3", port 5432 failed: '
            'FATAL:  password authentication failed for user "bob"',
            "login_failed",
        ),
        (
            'connection to server at "10.0.0.3", port 5432 failed: FATAL:  no pg_hba.conf entry for host "10.0.0.9"',
            "login_failed",
        ),
        (
            'connection to server at "10.0.0.3", port 5432 failed: server does not support SSL, but SSL was required',
            "tls",
        ),
        ('could not translate host name "db.internal" to address: Name or service not known', "unreachable"),
    ],
)
def test_postgresql_messages_have_categories(text, category):
    import psycopg

    assert connection_error_category(psycopg.OperationalError(text)) == category


# --- The login's privileges ----------------------------------------------------------------------------------------

RO_ROLE = f"readonly_probe_ro_{os.getpid()}"
SCRATCH = f"diag_probe_{os.getpid()}"


@pytest.fixture(autouse=True)
def _forget_login_reports(monkeypatch):
    monkeypatch.setattr(sqltools.login, "_remembered", {})


def _run(alias: str, *statements: str) -> None:
    with connections[alias].cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


@pytest.fixture
def pg_read_only_role(alias_for):
    """A PostgreSQL role with SELECT on one table and default_transaction_read_only; its alias."""
    admin = alias_for(_pg())
    _run(admin, f"DROP SCHEMA IF EXISTS {SCRATCH} CASCADE", f"DROP ROLE IF EXISTS {RO_ROLE}",
         f"CREATE SCHEMA {SCRATCH}", f"CREATE TABLE {SCRATCH}.t (id int)", f"CREATE ROLE {RO_ROLE} LOGIN",
         f"GRANT USAGE ON SCHEMA {SCRATCH} TO {RO_ROLE}", f"GRANT SELECT ON {SCRATCH}.t TO {RO_ROLE}",
         f"ALTER ROLE {RO_ROLE} SET default_transaction_read_only = on")
    role = alias_for(_pg(USER=RO_ROLE))
    yield role
    connections[role].close()  # a role with a session cannot be dropped
    _run(admin, f"DROP SCHEMA {SCRATCH} CASCADE", f"DROP ROLE {RO_ROLE}")


@needs_pg
def test_postgresql_superuser_is_privileged_and_can_write(alias_for):
    report = login_privileges(alias_for(_pg()))
    assert report.read_only is False and report.privileged is True and "superuser" in report.reasons


@needs_pg
def test_postgresql_select_only_role_is_read_only(pg_read_only_role):
    report = login_privileges(pg_read_only_role)
    assert (report.read_only, report.privileged, report.reasons) == (True, False, [])


@needs_pg
def test_postgresql_role_with_a_write_grant_can_write(pg_read_only_role, alias_for):
    _run(alias_for(_pg()), f"GRANT UPDATE ON {SCRATCH}.t TO {RO_ROLE}")
    report = login_privileges(pg_read_only_role)
    assert report.read_only is False and report.privileged is False
    assert any("INSERT/UPDATE/DELETE/TRUNCATE on 1 tables" in r for r in report.reasons)
    assert any("default_transaction_read_only is on, but" in r for r in report.reasons)


@pytest.fixture
def mysql_read_only_user(alias_for):
    admin = alias_for(_mysql())
    user = f"'{RO_ROLE}'@'127.0.0.1'"
    _run(admin, f"DROP USER IF EXISTS {user}", f"DROP DATABASE IF EXISTS {SCRATCH}", f"CREATE DATABASE {SCRATCH}",
         f"CREATE TABLE {SCRATCH}.t (id int)", f"CREATE USER {user} IDENTIFIED BY 'pw-{RO_ROLE}'",
         f"GRANT SELECT ON {SCRATCH}.* TO {user}")
    yield alias_for(_mysql(NAME=SCRATCH, USER=RO_ROLE, PASSWORD=f"pw-{RO_ROLE}"))
    _run(admin, f"DROP USER {user}", f"DROP DATABASE {SCRATCH}")


@needs_mysql
def test_mariadb_root_is_privileged_and_can_write(alias_for):
    report = login_privileges(alias_for(_mysql()))
    assert report.read_only is False and report.privileged is True and "ALL PRIVILEGES ON *.*" in report.reasons


@needs_mysql
def test_mariadb_select_only_user_is_read_only(mysql_read_only_user):
    assert login_privileges(mysql_read_only_user) == LoginReport(True, False, [])


@needs_mysql
def test_mariadb_user_with_a_write_grant_can_write(mysql_read_only_user, alias_for):
    _run(alias_for(_mysql()), f"GRANT INSERT, DELETE ON {SCRATCH}.t TO '{RO_ROLE}'@'127.0.0.1'")
    connections[mysql_read_only_user].close()
    report = login_privileges(mysql_read_only_user)
    assert report.read_only is False and report.privileged is False
    assert report.reasons == [f"DELETE ON `{SCRATCH}`.`t`", f"INSERT ON `{SCRATCH}`.`t`"]


def test_sqlite_file_is_writable_unless_opened_read_only(alias_for, tmp_path):
    path = tmp_path / "sales.sqlite3"
    writable = alias_for({"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)})
    _run(writable, "CREATE TABLE t (id int)")
    assert login_privileges(writable).read_only is False
    read_only = alias_for({"ENGINE": "django.db.backends.sqlite3", "NAME": f"file:{path}?mode=ro"})
    assert login_privileges(read_only) == LoginReport(True, False, [])
    with pytest.raises(Exception, match="readonly"):
        _run(read_only, "INSERT INTO t VALUES (1)")  # the report is what the driver does


def test_sqlite_report_never_creates_a_missing_file(alias_for, tmp_path):
    path = tmp_path / "not-seeded-yet.sqlite3"
    report = login_privileges(alias_for({"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}))
    assert report.read_only is None and not path.exists()


@pytest.mark.parametrize(
    "name, casts", [("MSSQL_ROLES_SQL", True), ("MSSQL_PERMISSIONS_SQL", False), ("MSSQL_TABLES_SQL", True)]
)
def test_sql_server_privilege_queries_parse_as_tsql(name, casts):
    tree = sqlglot.parse_one(getattr(sqltools.login, name), read="tsql")
    assert isinstance(tree, exp.Select)
    if casts:  # FreeTDS cannot bind a bit or sql_variant column: every value is an int
        assert all(isinstance(c, exp.Cast) and c.to.sql("tsql") == "INTEGER" for c in tree.expressions)


# --- Where the operator sees it -------------------------------------------------------------------------------------

def _writable_sqlite(alias_for, tmp_path) -> str:
    path = tmp_path / "w.sqlite3"
    path.touch()
    return alias_for({"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)})


def _use(sqltools_config, alias: str, **changes) -> None:
    sqltools_config(ALIAS=alias, **changes)


def test_check_warns_when_the_login_can_write(alias_for, tmp_path, sqltools_config):
    _use(sqltools_config, _writable_sqlite(alias_for, tmp_path))
    [warning] = check_target_login()
    assert warning.id == "sqltools.W010" and "can write" in warning.msg and "docs/read_only.md" in warning.hint


def test_check_is_an_error_when_a_read_only_login_is_required(alias_for, tmp_path, sqltools_config):
    _use(sqltools_config, _writable_sqlite(alias_for, tmp_path),
         REQUIRE_READ_ONLY_LOGIN=True)
    assert [e.id for e in check_target_login()] == ["sqltools.E010"]


def test_check_is_silent_for_a_read_only_login_and_warns_apart_when_unreachable(alias_for, tmp_path, sqltools_config):
    path = tmp_path / "r.sqlite3"
    _run(alias_for({"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}), "CREATE TABLE t (id int)")
    _use(sqltools_config, alias_for({"ENGINE": "django.db.backends.sqlite3", "NAME": f"file:{path}?mode=ro"}))
    assert check_target_login() == []
    _use(sqltools_config, alias_for(_pg(PORT=free_port())))
    [warning] = check_target_login()
    assert warning.id == "sqltools.W011" and "(unreachable; log ref" in warning.msg


def test_check_runs_with_deploy_checks_only():
    from django.core.checks import registry

    assert check_target_login in registry.registry.get_checks(include_deployment_checks=True)
    assert check_target_login not in registry.registry.get_checks(include_deployment_checks=False)


def test_startup_says_loudly_when_read_only_mode_has_a_login_that_can_write(
    alias_for, tmp_path, sqltools_config, caplog
):
    _use(sqltools_config, _writable_sqlite(alias_for, tmp_path))
    with caplog.at_level(logging.INFO, logger="mcp_bridge.app"):
        startup_announce()
    [record] = [r for r in caplog.records if r.name == "mcp_bridge.app"]
    assert record.levelno == logging.WARNING and "READ_ONLY_MODE is on but the login CAN WRITE" in record.getMessage()


def test_startup_refuses_when_a_read_only_login_is_required(alias_for, tmp_path, sqltools_config):
    _use(sqltools_config, _writable_sqlite(alias_for, tmp_path),
         REQUIRE_READ_ONLY_LOGIN=True)
    with pytest.raises(ImproperlyConfigured, match="REQUIRE_READ_ONLY_LOGIN"):
        startup_announce()


def test_startup_with_an_unreachable_target_logs_and_starts(alias_for, sqltools_config, caplog):
    _use(sqltools_config, alias_for(_pg(PORT=free_port())), REQUIRE_READ_ONLY_LOGIN=True)
    with caplog.at_level(logging.INFO, logger="mcp_bridge.app"):
        startup_announce()
    assert "login: not checked" in caplog.text and "(unreachable; log ref" in caplog.text


class _Answers:
    """A cursor that answers the three SQL Server catalog queries in order (no server can run here)."""

    def __init__(self, *answers: list[tuple]) -> None:
        self.answers = list(answers)

    def execute(self, sql: str) -> None:
        self.rows = self.answers.pop(0)

    def fetchone(self) -> tuple:
        return self.rows[0]

    def fetchall(self) -> list[tuple]:
        return self.rows


@pytest.mark.parametrize(
    "answers, expected",
    [
        (([(0, 0, 0, 0, 0)], [], [(0,)]), LoginReport(True, False, [])),
        (([(0, 0, None, None, None)], [], [(0,)]), LoginReport(True, False, [])),  # NULL: not a role of this database
        (
            ([(1, 1, 1, 0, 0)], [("CONTROL",), ("INSERT",)], [(12,)]),
            LoginReport(
                False,
                True,
                [
                    "sysadmin",
                    "CONTROL SERVER",
                    "db_owner",
                    "CONTROL on the database",
                    "database permissions INSERT",
                    "INSERT/UPDATE/DELETE on 12 tables or views",
                ],
            ),
        ),
        (
            ([(0, 0, 0, 1, 0)], [], [(3,)]),
            LoginReport(False, False, ["db_datawriter", "INSERT/UPDATE/DELETE on 3 tables or views"]),
        ),
    ],
)
def test_sql_server_answers_make_a_report(answers, expected):
    assert sqltools.login._mssql(_Answers(*answers)) == expected


# --- statement errors: the database's sentence, without the login, addresses or driver wrapping --------------


@pytest.mark.django_db(transaction=True, databases="__all__")
@pytest.mark.parametrize("target_alias", target_params("target_mysql"), indirect=True)
def test_a_permission_error_does_not_name_the_login_or_its_address(target_alias, caplog):
    user = f"diag_probe_{os.getpid()}"
    connection = connections[target_alias]
    db = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE USER IF NOT EXISTS '{user}'@'%%' IDENTIFIED BY 'pw-{user}'")
        cursor.execute(f"GRANT SELECT ON `{db}`.customers TO '{user}'@'%%'")
    caplog.set_level(logging.INFO, logger="sqltools.diagnostics")
    original = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(USER=user, PASSWORD=f"pw-{user}")  # the same alias, logged in as that user
    try:
        with pytest.raises(QueryFailed) as failed:
            query_run(sql="SELECT COUNT(*) FROM orders", alias=target_alias)
        message = failed.value.message
        assert "orders" in message and "log ref" in message
        assert user not in message and "127.0.0.1" not in message and "@" not in message
        assert user in caplog.text  # the operator's log keeps the whole driver message
    finally:
        connection.close()
        connection.settings_dict.update(USER=original["USER"], PASSWORD=original["PASSWORD"])
        with connection.cursor() as cursor:
            cursor.execute(f"DROP USER IF EXISTS '{user}'@'%%'")


@pytest.mark.parametrize("raw, expected", [
    ("[42000] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]The SELECT permission was denied on the object "
     "'orders', database 'Sales', schema 'dbo'. (229) (SQLExecDirectW)",
     "The SELECT permission was denied on the object 'orders', database 'Sales', schema 'dbo'."),
    ('connection to server at "10.0.0.3", port 5432 failed: server closed the connection unexpectedly',
     "the database server failed: server closed the connection unexpectedly"),
])
def test_driver_wrapping_is_removed_from_a_statement_error(raw, expected):
    sentence = database_error_sentence(DatabaseError(raw))
    assert sentence.startswith(expected) and "10.0.0.3" not in sentence and "ODBC" not in sentence


@pytest.mark.django_db(transaction=True, databases="__all__")
@pytest.mark.parametrize("target_alias", target_params("target_pg", "target_mysql"), indirect=True)
def test_a_connection_killed_under_a_call_is_reported_and_replaced(target_alias):
    connection = connections[target_alias]
    query_run(sql="SELECT 1 AS one", alias=target_alias)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()" if connection.vendor == "postgresql" else "SELECT CONNECTION_ID()")
        server_id = cursor.fetchone()[0]
    killer = connections.create_connection(target_alias)  # a second connection of the same settings
    try:
        with killer.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)" if connection.vendor == "postgresql" else "KILL %s",
                           [server_id])
    finally:
        killer.close()
    with pytest.raises(TargetUnavailable, match="log ref"):
        query_run(sql="SELECT COUNT(*) AS n FROM orders", alias=target_alias)
    assert query_run(sql="SELECT COUNT(*) AS n FROM orders", alias=target_alias).rows == [[12500]]
