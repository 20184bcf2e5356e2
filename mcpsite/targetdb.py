"""Build the Django DATABASES entry of the SQL target from the environment.

Kept out of settings.py so the three ways of naming a target (TARGET_DATABASE_URL, the
original README's MSSQL_* variables, or nothing: the embedded SQLite demo) live in one
small, testable function.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import environ

# Connection-string keywords of the SQL Server ODBC drivers that mssql-django does not model
# as OPTIONS of its own: they travel in OPTIONS["extra_params"].
_MSSQL_OWN_OPTIONS = {
    "driver", "python_driver", "isolation_level", "dsn", "unicode_results", "collation",
    "connection_timeout", "connection_retries", "connection_retry_backoff_time",
    "query_timeout", "return_rows_bulk_insert", "extra_params",
}


def _mssql_options(options: dict[str, Any]) -> dict[str, Any]:
    own = {k: v for k, v in options.items() if k in _MSSQL_OWN_OPTIONS}
    extra = [f"{k}={v}" for k, v in options.items() if k not in _MSSQL_OWN_OPTIONS]
    if own.get("extra_params"):
        extra.insert(0, str(own["extra_params"]))
    if extra:
        own["extra_params"] = ";".join(extra)
    if str(own.get("driver", "")).lower() == "freetds":
        # FreeTDS negotiating the TDS version waits forever on a server that accepts TCP and
        # says nothing; a fixed version makes the login timeout work. SERVER+PORT, not SERVERNAME.
        if "tds_version" not in ";".join(extra).lower():
            extra.append("TDS_Version=7.4")
            own["extra_params"] = ";".join(extra)
        own.setdefault("host_is_server", True)
    # Fail fast instead of mssql-django's default of 5 retries, 5 s apart.
    own.setdefault("connection_timeout", 10)
    own.setdefault("connection_retries", 0)
    return own


def target_database(env: environ.Env, *, var_dir: Path) -> dict[str, Any]:
    """Return the DATABASES["target"] dict described by the environment."""
    url = env.str("TARGET_DATABASE_URL", default="")
    if url:
        config = env.db_url_config(url)
    elif env.str("MSSQL_HOST", default=""):
        config = _config_from_mssql_vars(env)
    else:
        config = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(var_dir / "demo.sqlite3")}
    if config["ENGINE"] == "mssql":
        options = dict(config.get("OPTIONS", {}))
        # The Docker image ships mssql-python's bundled Microsoft ODBC Driver 18 and sets this
        # (pyodbc would need a system driver); a python_driver in the URL wins.
        driver = env.str("MSSQL_PYTHON_DRIVER", default="")
        if driver:
            options.setdefault("python_driver", driver)
        config["OPTIONS"] = _mssql_options(options)
    config.setdefault("CONN_MAX_AGE", env.int("TARGET_CONN_MAX_AGE", default=60))
    config.setdefault("CONN_HEALTH_CHECKS", True)
    return config


def _config_from_mssql_vars(env: environ.Env) -> dict[str, Any]:
    host = env.str("MSSQL_HOST")
    port = env.str("MSSQL_PORT", default="")
    options: dict[str, Any] = {}
    if env.str("MSSQL_DRIVER", default=""):
        options["driver"] = env.str("MSSQL_DRIVER")
    for key in ("TrustServerCertificate", "Encrypt"):
        value = env.str(key, default="")
        if value:
            options[key] = value
    return {
        # mssql-django reads this one from the top level, not from OPTIONS.
        "Trusted_Connection": env.str("Trusted_Connection", default="no"),
        "ENGINE": "mssql",
        "NAME": env.str("MSSQL_DATABASE", default="master"),
        "USER": env.str("MSSQL_USER", default=""),
        "PASSWORD": env.str("MSSQL_PASSWORD", default=""),
        "HOST": host,
        "PORT": port,
        "OPTIONS": options,
    }
