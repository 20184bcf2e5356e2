"""What the target login may do, from each vendor's own catalog: can it write, is it an administrator?

In read-only mode the statement guard and read-only transactions keep writes out; a login that
can write is the barrier that is missing when either has a bug. The operator hears about it in
`manage.py check --deploy` (sqltools.W010, or E010 with REQUIRE_READ_ONLY_LOGIN), in one line at
startup, and in /health's `login_read_only`. Every statement here is constant catalog SQL.
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import parse_qs, urlsplit

from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

from sqltools.conf import sqltools_settings
from sqltools.policy import catalog_cursor
from sqltools.query import target
from sqltools.vendors import vendor_for

logger = logging.getLogger(__name__)

REMEMBER_SECONDS = 600.0


@dataclass
class LoginReport:
    read_only: bool | None  # None: could not tell
    privileged: bool | None  # an administrator of the server or the database
    reasons: list[str] = field(default_factory=list)  # what it can do that makes it so


_SYSTEM = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND left(n.nspname, 3) <> 'pg_'"
POSTGRESQL_SQL = f"""
SELECT r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls,
  (SELECT string_agg(g.rolname, ', ' ORDER BY g.rolname) FROM pg_roles g
    WHERE g.rolname IN ('pg_write_server_files', 'pg_read_server_files', 'pg_execute_server_program',
                        'pg_write_all_data')
      AND pg_has_role(current_user, g.oid, 'MEMBER')),
  (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'f') AND {_SYSTEM}
      AND has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')),
  (SELECT string_agg(n.nspname, ', ' ORDER BY n.nspname) FROM pg_namespace n
    WHERE {_SYSTEM} AND has_schema_privilege(n.oid, 'CREATE')),
  current_setting('default_transaction_read_only') = 'on', pg_is_in_recovery()
FROM pg_roles r WHERE r.rolname = current_user
"""

MSSQL_ROLES_SQL = """
SELECT CAST(IS_SRVROLEMEMBER('sysadmin') AS int), CAST(HAS_PERMS_BY_NAME(NULL, NULL, 'CONTROL SERVER') AS int),
  CAST(IS_ROLEMEMBER('db_owner') AS int), CAST(IS_ROLEMEMBER('db_datawriter') AS int),
  CAST(IS_ROLEMEMBER('db_ddladmin') AS int)
"""
MSSQL_PERMISSIONS_SQL = """
SELECT permission_name FROM fn_my_permissions(NULL, 'DATABASE')
WHERE permission_name IN ('CONTROL', 'ALTER', 'INSERT', 'UPDATE', 'DELETE', 'CREATE TABLE', 'ALTER ANY SCHEMA')
"""
MSSQL_TABLES_SQL = """
SELECT CAST(COUNT(*) AS int) FROM sys.objects o
WHERE o.type IN ('U', 'V') AND (
  HAS_PERMS_BY_NAME(QUOTENAME(SCHEMA_NAME(o.schema_id)) + '.' + QUOTENAME(o.name), 'OBJECT', 'INSERT') = 1
  OR HAS_PERMS_BY_NAME(QUOTENAME(SCHEMA_NAME(o.schema_id)) + '.' + QUOTENAME(o.name), 'OBJECT', 'UPDATE') = 1
  OR HAS_PERMS_BY_NAME(QUOTENAME(SCHEMA_NAME(o.schema_id)) + '.' + QUOTENAME(o.name), 'OBJECT', 'DELETE') = 1)
"""


def _postgresql(cursor: CursorWrapper) -> LoginReport:
    cursor.execute(POSTGRESQL_SQL)
    superuser, createrole, createdb, bypassrls, server_roles, tables, schemas, default_ro, standby = cursor.fetchone()
    admin = _named({"superuser": superuser, "CREATEROLE": createrole, "BYPASSRLS": bypassrls,
                    f"member of {server_roles}": server_roles})
    writes = _named({"CREATEDB": createdb, f"INSERT/UPDATE/DELETE/TRUNCATE on {tables} tables or views": tables,
                     f"CREATE in schema {schemas}": schemas})
    if standby:  # a hot standby refuses every write, whoever asks
        return LoginReport(True, bool(admin), [])
    if writes and default_ro:
        writes.append("default_transaction_read_only is on, but a session may turn it off")
    return LoginReport(not (admin or writes), bool(admin), admin + writes)


_GRANT = re.compile(r"^GRANT (?P<privileges>.+?) ON (?P<on>\S+) TO ", re.I)
_MYSQL_ADMIN = {"SUPER", "FILE", "CREATE USER", "SHUTDOWN", "RELOAD", "PROXY"}
_MYSQL_WRITES = {"INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "INDEX", "CREATE VIEW", "CREATE ROUTINE",
                 "ALTER ROUTINE", "TRIGGER", "EVENT", "DELETE HISTORY"}


def _mysql(cursor: CursorWrapper) -> LoginReport:
    cursor.execute("SHOW GRANTS")
    admin: list[str] = []
    writes: list[str] = []
    for (grant,) in cursor.fetchall():
        match = _GRANT.match(grant)
        if match is None:  # GRANT role TO user: the active role's own grants are listed too
            continue
        on = match["on"]
        privileges = {p.strip().upper() for p in re.sub(r"\([^)]*\)", "", match["privileges"]).split(",")}
        if privileges & {"ALL", "ALL PRIVILEGES"}:
            (admin if on == "*.*" else writes).append(f"ALL PRIVILEGES ON {on}")
        admin += [f"{p} ON {on}" for p in sorted(privileges & _MYSQL_ADMIN)]
        writes += [f"{p} ON {on}" for p in sorted(privileges & _MYSQL_WRITES)]
        if grant.upper().rstrip().endswith("WITH GRANT OPTION"):
            admin.append(f"GRANT OPTION ON {on}")
    return LoginReport(not (admin or writes), bool(admin), admin + writes)


def _mssql(cursor: CursorWrapper) -> LoginReport:
    cursor.execute(MSSQL_ROLES_SQL)
    sysadmin, control_server, owner, writer, ddladmin = cursor.fetchone()
    cursor.execute(MSSQL_PERMISSIONS_SQL)
    permissions = sorted(row[0] for row in cursor.fetchall())
    cursor.execute(MSSQL_TABLES_SQL)
    tables = cursor.fetchone()[0]
    granted = [p for p in permissions if p != "CONTROL"]
    admin = _named({"sysadmin": sysadmin, "CONTROL SERVER": control_server, "db_owner": owner,
                    "CONTROL on the database": "CONTROL" in permissions})
    writes = _named({"db_datawriter": writer, "db_ddladmin": ddladmin,
                     f"database permissions {', '.join(granted)}": granted,
                     f"INSERT/UPDATE/DELETE on {tables} tables or views": tables})
    return LoginReport(not (admin or writes), bool(admin), admin + writes)


def _sqlite(connection: BaseDatabaseWrapper) -> LoginReport:
    """From the settings and the file: opening a missing file would create it, and the demo seeder looks for it."""
    name = str(connection.settings_dict["NAME"])
    path, query = (urlsplit(name).path, parse_qs(urlsplit(name).query)) if name.startswith("file:") else (name, {})
    if query.get("mode") == ["ro"] or query.get("immutable") == ["1"]:
        return LoginReport(True, False, [])
    if path in ("", ":memory:") or query.get("mode") == ["memory"]:
        return LoginReport(False, False, ["an in-memory database"])
    if not os.path.exists(path):
        return LoginReport(None, False, ["the database file does not exist yet"])
    if os.access(path, os.W_OK):
        return LoginReport(False, False, ["the database file is writable by this process and not opened with ?mode=ro"])
    return LoginReport(True, False, [])


def _named(flags: dict[str, object]) -> list[str]:
    """The names whose flag is set (SQL Server's IS_* functions answer 1, 0 or NULL)."""
    return [name for name, on in flags.items() if on]


PROBES: dict[str, Callable[[CursorWrapper], LoginReport]] = {
    "postgresql": _postgresql, "mysql": _mysql, "mssql": _mssql,
}


def login_privileges(alias: str | None = None) -> LoginReport:
    """What the target login may do; TargetUnavailable when the target does not answer."""
    connection = connections[alias or sqltools_settings().ALIAS]
    if vendor_for(connection).name == "sqlite":
        return _sqlite(connection)
    connection, vendor = target(alias)
    try:
        with catalog_cursor(connection) as cursor:
            return PROBES[vendor.name](cursor)
    except DatabaseError as error:
        logger.warning("Could not read the privileges of SQL target %r's login: %s", connection.alias, error)
        return LoginReport(None, None, [f"its privileges could not be read ({type(error).__name__})"])


_remembered: dict[str, tuple[float, LoginReport]] = {}


def login_report_cached(alias: str) -> LoginReport | None:
    """The remembered report if it is fresh; never a query."""
    hit = _remembered.get(alias)
    return hit[1] if hit is not None and time.monotonic() - hit[0] < REMEMBER_SECONDS else None


def login_report_remembered(alias: str) -> LoginReport:
    """login_privileges, asked at most once per REMEMBER_SECONDS (an unreachable target is not remembered)."""
    report = login_report_cached(alias)
    if report is None:
        report = login_privileges(alias)
        _remembered[alias] = (time.monotonic(), report)
    return report
