"""What the SQL target is, in an operator's and an assistant's words: vendor, version, database, host.

Never a login or a password. The version needs a connection; when the target does not answer,
the rest is still known from the settings and `version` is None.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from sqltools.conf import sqltools_settings
from sqltools.vendors import vendor_for

_LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mysql": "MySQL", "microsoft": "Microsoft SQL Server"}


@dataclass(frozen=True)
class TargetInfo:
    vendor: str  # "PostgreSQL", "MariaDB", "Microsoft SQL Server"...
    version: str | None  # None: the target did not answer
    database: str
    host: str  # host[:port], "" for a local file
    dialect: str  # sqlglot's name of the SQL dialect: tsql, postgres, mysql, sqlite

    @property
    def label(self) -> str:
        """The vendor and version as a tool description names them: "PostgreSQL 15.4"."""
        return f"{self.vendor} {self.version}" if self.version else self.vendor

    @property
    def place(self) -> str:
        return f"database {self.database!r}" + (f" on {self.host}" if self.host else "")


def database_label(alias: str) -> str:
    """The database's name as an operator knows it: a file's name for SQLite, never a host or user."""
    config = _settings_of(alias)
    options = config.get("OPTIONS") or {}
    name = str(options.get("dbname") or options.get("database") or options.get("db") or config.get("NAME") or "")
    return Path(name).name if config["ENGINE"].endswith("sqlite3") else name  # the driver's dbname wins, as here


def _settings_of(alias: str) -> dict:
    """The alias's DATABASES entry as Django holds it (an alias added later is read from its connection)."""
    return connections.settings[alias] if alias in connections.settings else connections[alias].settings_dict


_SECRET_OPTION = re.compile(r"pass|secret|key|token", re.IGNORECASE)


def target_identity(alias: str) -> str:
    """Which database an alias reaches, as a string that tells two apart: engine, host, port and database (a
    SQLite file's full path); never a login. An approval is bound to it, not to the alias: the same alias may
    name another database in another deployment, or after TARGET_DATABASE_URL changes."""
    config = _settings_of(alias)
    engine, name = config["ENGINE"].rsplit(".", 1)[-1], str(config.get("NAME") or "")
    if engine == "sqlite3":
        return f"sqlite3:{name if name.startswith(':memory:') or 'mode=memory' in name else Path(name).resolve()}"
    # Driver options can name another database, host or service than NAME and HOST (?dbname=, ?service=): they
    # are part of where a statement runs. Their digest, without anything secret, keeps them out of the page.
    options = {k: str(v) for k, v in (config.get("OPTIONS") or {}).items() if not _SECRET_OPTION.search(k)}
    digest = hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:16] if options else ""
    return f"{engine}://{config.get('HOST') or ''}:{config.get('PORT') or ''}/{name}" + (f"?{digest}" if digest else "")


def target_info(*, alias: str | None = None, connect: bool = True) -> TargetInfo:
    """The target's identity; asks the server for its version only when `connect` (and says None if it fails)."""
    connection = connections[alias or sqltools_settings().ALIAS]
    config = connection.settings_dict
    host = str(config.get("HOST") or "")
    if host and config.get("PORT"):
        host = f"{host}:{config['PORT']}"
    vendor, version = _LABELS.get(connection.vendor, connection.vendor), None
    if connect:
        try:
            vendor, version = _vendor_version(connection)
        except (DatabaseError, Exception):  # a description must not fail: the version is then unknown
            version = None
    return TargetInfo(vendor, version, database_label(connection.alias), host, vendor_for(connection).dialect)


def _vendor_version(connection: BaseDatabaseWrapper) -> tuple[str, str]:
    """From what the Django backends already know (each asks the server once and keeps the answer)."""
    if connection.vendor == "sqlite":
        return "SQLite", sqlite3.sqlite_version
    connection.ensure_connection()
    if connection.vendor == "postgresql":
        number = connection.pg_version
        return "PostgreSQL", f"{number // 10000}.{number % 100}" if number >= 100000 else str(number)
    if connection.vendor == "mysql":
        return ("MariaDB" if connection.mysql_is_mariadb else "MySQL"), ".".join(map(str, connection.mysql_version))
    if connection.vendor == "microsoft":
        return "Microsoft SQL Server", str(connection.sql_server_version)
    return _LABELS.get(connection.vendor, connection.vendor), ""
