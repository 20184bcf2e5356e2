"""Sentences an assistant can act on when its SQL does not fit the target's dialect.

A parse error becomes "unexpected 'X' at line L, column C" instead of the parser's internals, and
the common cross-dialect slips (TOP vs LIMIT, [brackets] vs quotes, GETDATE() vs now()) get the
fix in the target's own words. These are hints for a message only: they decide nothing (the
statement policy does).
"""

from __future__ import annotations

import re

from sqlglot.errors import ParseError, SqlglotError

DIALECT_NAMES = {"tsql": "SQL Server (T-SQL)", "postgres": "PostgreSQL", "mysql": "MySQL/MariaDB", "sqlite": "SQLite"}

# How to write the things that differ most, per dialect (server instructions and tool descriptions).
DIALECT_TIPS = {
    "tsql": "SELECT TOP (10) ... for the first rows, [Order Details] for names, GETDATE() for now",
    "postgres": '... LIMIT 10 for the first rows, "Order Details" for names, now() for now',
    "mysql": "... LIMIT 10 for the first rows, `Order Details` for names, NOW() for now",
    "sqlite": "... LIMIT 10 for the first rows, \"Order Details\" for names, datetime('now') for now",
}

# Literals and comments are removed before looking: a TOP inside a string is not a mistake.
_LITERALS = re.compile(r"'(?:[^']|'')*'|--[^\n]*|/\*.*?\*/", re.S)
_TOP = re.compile(r"\bselect\s+(?:distinct\s+)?top\s*\(?\s*(\d+)", re.I)
_LIMIT = re.compile(r"\blimit\s+(\d+)", re.I)
_BRACKETS = re.compile(r"\[[A-Za-z_][^\]]*\]")
_BACKTICKS = re.compile(r"`[^`]+`")
_GETDATE = re.compile(r"\b(getdate|sysdatetime|getutcdate)\s*\(", re.I)
_NOW = re.compile(r"\bnow\s*\(", re.I)

_NOW_IN = {"postgres": "now() or CURRENT_TIMESTAMP", "mysql": "NOW() or CURRENT_TIMESTAMP",
           "sqlite": "datetime('now') or CURRENT_TIMESTAMP", "tsql": "GETDATE() or SYSDATETIME()"}
_QUOTE_IN = {"postgres": 'double quotes ("Order Details")', "mysql": "backticks (`Order Details`)",
             "tsql": '[brackets] or double quotes ("Order Details")'}


def dialect_hint(*, sql: str, dialect: str) -> str:
    """The fixes for cross-dialect slips found in `sql`, as sentences ('' when none applies)."""
    text, name = _LITERALS.sub("''", sql), DIALECT_NAMES.get(dialect, dialect)
    fixes = []
    if dialect != "tsql" and (top := _TOP.search(text)):
        fixes.append(f"{name} has no TOP: put LIMIT {top[1]} at the end (SELECT ... FROM t LIMIT {top[1]}).")
    if dialect == "tsql" and (limit := _LIMIT.search(text)):
        fixes.append(f"{name} has no LIMIT: write SELECT TOP ({limit[1]}) ... (or ORDER BY ... OFFSET 0 ROWS "
                     f"FETCH NEXT {limit[1]} ROWS ONLY).")
    if dialect in ("postgres", "mysql") and _BRACKETS.search(text):
        fixes.append(f"{name} does not quote names with [brackets]: use {_QUOTE_IN[dialect]}, or no quotes.")
    if dialect in ("postgres", "tsql") and _BACKTICKS.search(text):
        fixes.append(f"{name} does not quote names with backticks: use {_QUOTE_IN[dialect]}, or no quotes.")
    if dialect != "tsql" and (call := _GETDATE.search(text)):
        fixes.append(f"{name} has no {call[1].upper()}(): use {_NOW_IN[dialect]}.")
    if dialect in ("tsql", "sqlite") and _NOW.search(text):
        fixes.append(f"{name} has no now(): use {_NOW_IN[dialect]}.")
    return " ".join(fixes)


def parse_error_sentence(*, error: SqlglotError, sql: str, dialect: str) -> str:
    """"The query is not valid PostgreSQL: unexpected 'FROM' at line 1, column 10 …", plus the fix if known."""
    name = DIALECT_NAMES.get(dialect, dialect)
    detail = (error.errors or [{}])[0] if isinstance(error, ParseError) else {}
    if detail.get("line"):
        near = (detail.get("highlight") or "").strip()
        where = f"at line {detail['line']}, column {detail['col']}"
        description = str(detail.get("description") or "")
        if description.startswith("Expecting ") and "<" not in description:
            what = f"{description[len('Expecting '):]} expected before '{near}'" if near else f"{description.lower()}"
        elif "missing" in description:
            what = f"something is missing before '{near}'"
        else:
            what = f"unexpected '{near}'" if near else "unexpected end of the query"
        sentence = f"The query is not valid {name} SQL: {what} {where}, so it was not run."
    elif "tokeniz" in str(error).lower():
        sentence = (f"The query is not valid {name} SQL: a string or quoted name is not closed (a ' or \" without "
                    "its partner), so it was not run.")
    else:
        sentence = f"The query could not be read as {name} SQL, so it was not run."
    hint = dialect_hint(sql=sql, dialect=dialect)
    return f"{sentence} {hint}" if hint else sentence
