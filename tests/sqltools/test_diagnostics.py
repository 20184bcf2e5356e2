"""Connection failures reach the assistant as a category and a log reference; host, port and login stay in the log.
The login's privileges are read from each vendor's catalog and shown to the operator."""

from __future__ import annotations

import logging
import re
import shutil
import socket

import pyodbc
import pytest
from django.conf import settings
from django.db import connections

from sqltools.diagnostics import connection_error_category
from sqltools.errors import TargetUnavailable
from sqltools.query import target
from tests.live import free_port  # nothing listens there once the probe socket is closed

LOGIN = "diag_login_name"


@pytest.fixture
def alias_for(django_db_blocker):
    """alias_for(config) registers a database alias for this test only and returns its name."""
    added: list[str] = []

    def add(config: dict) -> str:
        alias = f"diag_{len(added)}"
        configured = connections.configure_settings({"default": connections.settings["default"], alias: config})
        connections.settings[alias] = configured[alias]
        added.append(alias)
        return alias

    with django_db_blocker.unblock():
        yield add
        for alias in added:
            connections[alias].close()
            del connections[alias]
            del connections.settings[alias]


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield server.getsockname()[1]
    server.close()


def _failure(alias: str, caplog) -> tuple[TargetUnavailable, str]:
    with caplog.at_level(logging.WARNING, logger="sqltools.diagnostics"), pytest.raises(TargetUnavailable) as raised:
        target(alias)
    lines = [r.getMessage() for r in caplog.records if r.name == "sqltools.diagnostics"]
    assert len(lines) == 1
    return raised.value, lines[0]


def _assert_told_apart(error: TargetUnavailable, log_line: str, *, category: str, host: str, port: int, user: str) -> None:
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


needs_pg = pytest.mark.skipif("target_pg" not in settings.DATABASES, reason="PostgreSQL is not listening on 127.0.0.1")
needs_mysql = pytest.mark.skipif("target_mysql" not in settings.DATABASES, reason="MariaDB is not listening on 127.0.0.1")


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

needs_freetds = pytest.mark.skipif(not shutil.which("odbcinst"), reason="unixODBC/FreeTDS not installed (scripts/system-deps.sh)")


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


@pytest.mark.parametrize("args, category", [
    (("28000", "[28000] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Login failed for user 'bob'. (18456)"), "login_failed"),
    (("28000", "[28000] [FreeTDS][SQL Server]Login failed for user 'bob'. (18456) (SQLDriverConnect)"), "login_failed"),
    (("42000", "[42000] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Cannot open database \"sales\" "
               "requested by the login. The login failed. (4060)"), "misconfigured"),
    (("08001", "[08001] [Microsoft][ODBC Driver 18 for SQL Server]SSL Provider: [error:0A000086:SSL routines::"
               "certificate verify failed:unable to get local issuer certificate] (-1)"), "tls"),
    (("HYT00", "[HYT00] [Microsoft][ODBC Driver 18 for SQL Server]Login timeout expired (0)"), "timeout"),
    (("08001", "[08001] [Microsoft][ODBC Driver 18 for SQL Server]TCP Provider: Error code 0x2749 (10057)"), "unreachable"),
    (("01000", "[01000] [unixODBC][Driver Manager]Can't open lib 'ODBC Driver 17 for SQL Server' : file not found"),
     "misconfigured"),
    (("IM002", "[IM002] [unixODBC][Driver Manager]Data source name not found and no default driver specified"), "misconfigured"),
])
def test_sql_server_driver_messages_have_categories(args, category):
    assert connection_error_category(pyodbc.OperationalError(*args)) == category


@pytest.mark.parametrize("args, category", [
    ((2026, "TLS/SSL error: self-signed certificate"), "tls"),
    ((1698, "Access denied for user 'root'@'localhost'"), "login_failed"),
    ((2005, "Unknown server host 'db.example' (-2)"), "unreachable"),
])
def test_mariadb_codes_have_categories(args, category):
    import MySQLdb

    assert connection_error_category(MySQLdb.OperationalError(*args)) == category


@pytest.mark.parametrize("text, category", [
    ('connection to server at "10.0.0.3", port 5432 failed: FATAL:  password authentication failed for user "bob"', "login_failed"),
    ('connection to server at "10.0.0.3", port 5432 failed: FATAL:  no pg_hba.conf entry for host "10.0.0.9"', "login_failed"),
    ('connection to server at "10.0.0.3", port 5432 failed: server does not support SSL, but SSL was required', "tls"),
    ('could not translate host name "db.internal" to address: Name or service not known', "unreachable"),
])
def test_postgresql_messages_have_categories(text, category):
    import psycopg

    assert connection_error_category(psycopg.OperationalError(text)) == category
