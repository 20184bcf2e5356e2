"""Connection failures, told to the assistant as a category and to the operator in full.

A driver's message names the host, the port, the login and the driver's own codes. None of that
helps an assistant, and all of it helps someone mapping the network, so the assistant gets a
category and a log reference; the server log gets one WARNING line with the same reference, the
connection settings (never the password) and the driver's whole message.
"""

from __future__ import annotations

import logging
import re
import secrets

from django.db.backends.base.base import BaseDatabaseWrapper

from sqltools.errors import TargetUnavailable

logger = logging.getLogger(__name__)

UNREACHABLE, LOGIN_FAILED, TIMEOUT = "unreachable", "login_failed", "timeout"
TLS, MISCONFIGURED = "tls", "misconfigured"

# Message fragments, most specific first: a SQL Server "Cannot open database ... The login failed"
# is a wrong database name, and a "Login timeout expired" is a timeout.
_FRAGMENTS: list[tuple[str, re.Pattern[str]]] = [
    (TIMEOUT, re.compile(r"timeout expired|timed out|timeout error|system error: 110\b", re.I)),
    (TLS, re.compile(r"\bssl\b|\btls\b|certificate", re.I)),
    (MISCONFIGURED, re.compile(
        r'cannot open database|database ".*" does not exist|unknown database|unable to open database file'
        r"|data source name not found|can't open lib|invalid connection string|parsing failed", re.I)),
    (LOGIN_FAILED, re.compile(
        r'login failed|password authentication failed|role ".*" does not exist|no pg_hba\.conf entry'
        r"|access denied for user|authentication failed|peer authentication", re.I)),
]

# Codes where a driver gives one: MySQL/MariaDB error numbers, ODBC and PostgreSQL SQLSTATEs.
_CODES: dict[int | str, str] = {
    2002: UNREACHABLE, 2003: UNREACHABLE, 2005: UNREACHABLE, 2006: UNREACHABLE, 2013: UNREACHABLE, 1040: UNREACHABLE,
    1044: LOGIN_FAILED, 1045: LOGIN_FAILED, 1698: LOGIN_FAILED, 1049: MISCONFIGURED, 2026: TLS, 2059: MISCONFIGURED,
    "08001": UNREACHABLE, "08S01": UNREACHABLE, "08006": UNREACHABLE, "08004": LOGIN_FAILED, "57P03": UNREACHABLE,
    "53300": UNREACHABLE, "HYT00": TIMEOUT, "HYT01": TIMEOUT, "28000": LOGIN_FAILED, "28P01": LOGIN_FAILED,
    "3D000": MISCONFIGURED, "IM002": MISCONFIGURED, "IM003": MISCONFIGURED,
}

_SENTENCES = {
    UNREACHABLE: "The SQL database could not be reached",
    LOGIN_FAILED: "The SQL database refused this server's login",
    TIMEOUT: "The SQL database did not answer in time",
    TLS: "A secure connection to the SQL database could not be set up",
    MISCONFIGURED: "This server's settings for the SQL database are wrong",
}


def connection_error_category(error: BaseException) -> str:
    """One of unreachable, login_failed, timeout, tls, misconfigured, from a driver's connection error."""
    driver = error.__cause__ or error  # Django wraps the driver's exception
    text = " ".join(str(e) for e in dict.fromkeys((error, driver)))
    for category, pattern in _FRAGMENTS:
        if pattern.search(text):
            return category
    for code in (getattr(driver, "sqlstate", None), *getattr(driver, "args", ())[:1]):
        if isinstance(code, (int, str)) and code in _CODES:
            return _CODES[code]
    return UNREACHABLE


def target_unavailable(*, connection: BaseDatabaseWrapper, error: BaseException) -> TargetUnavailable:
    """The error for the assistant; the details go to the log under a reference both share."""
    category = connection_error_category(error)
    ref = secrets.token_hex(3)
    where = {key: connection.settings_dict.get(key.upper()) for key in ("host", "port", "user", "name")}
    logger.warning(
        "SQL target %r unavailable (%s; log ref %s): %s: %s", connection.alias, category, ref,
        " ".join(f"{key}={value!s}" for key, value in where.items()), " ".join(str(error).split()),
    )
    return TargetUnavailable(
        f"{_SENTENCES[category]} ({category}; log ref {ref}). "
        "An operator can find the details in the server log under that reference.",
        category=category,
    )


# SQLSTATE classes and driver codes that mean the connection itself is gone, not the statement.
_LOST_STATES = ("08", "57P01", "57P02", "57P03")
_LOST_CODES = frozenset({2006, 2013, 2055})


def connection_lost(error: BaseException) -> bool:
    """Whether a statement failed because the connection broke (it must be replaced, not reused)."""
    driver = error.__cause__ or error
    state = getattr(driver, "sqlstate", None) or _odbc_state(driver)
    code = (getattr(driver, "args", None) or (None,))[0]
    return bool(state and state.startswith(_LOST_STATES)) or code in _LOST_CODES


def _odbc_state(driver: BaseException) -> str | None:
    code = (getattr(driver, "args", None) or (None,))[0]
    return code if isinstance(code, str) and re.fullmatch(r"[0-9A-Z]{5}", code) else None


# What a driver adds around the database's own sentence: ODBC's [vendor][driver][server] prefixes and
# (code) (SQLExecDirectW) suffixes, MySQL's 'login'@'client address', psycopg's server address.
_DRIVER_NOISE = [
    (re.compile(r"^(?:\[[^\]]*\]\s*)+|\s*\(\d+\)\s*\(SQL\w+\)\s*$|\s*\(SQL\w+\)\s*$"), ""),
    (re.compile(r"'[^']*'@'[^']*'"), "this server's login"),
    (re.compile(r'(?:connection to )?server at "[^"]*"(?:\s*\([^)]*\))?,? port \d+'), "the database server"),
]


def database_error_sentence(error: BaseException) -> str:
    """The database's own first line, without the login, addresses and driver wrapping; logged in full."""
    driver = error.__cause__ or error
    text = (str(driver).strip() or type(driver).__name__).splitlines()[0]
    if isinstance(getattr(driver, "args", None), tuple) and len(driver.args) >= 2 and isinstance(driver.args[1], str):
        text = driver.args[1].splitlines()[0]  # pyodbc and mysqlclient: (code, message)
    for pattern, replacement in _DRIVER_NOISE:
        text = pattern.sub(replacement, text)
    ref = secrets.token_hex(3)
    logger.info("SQL target rejected a statement (log ref %s): %s", ref, " ".join(str(error).split()))
    return f"{text[:500]} (log ref {ref})"
