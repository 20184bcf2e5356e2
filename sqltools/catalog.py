"""List, resolve and describe tables through the vendor's catalog queries."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

import sqlglot
from django.db.backends.base.base import BaseDatabaseWrapper
from sqlglot import exp

from sqltools.errors import InvalidArgument, TableNotFound
from sqltools.governance import MASK, Access, current_access
from sqltools.policy import catalog_cursor
from sqltools.query import QueryResult, query_read, row_cap, target
from sqltools.vendors import vendor_for


@dataclass(frozen=True)
class TableRef:
    schema: str
    name: str
    kind: str  # "table" or "view"
    row_estimate: int | None = None

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.qualified_name, "schema": self.schema, "table": self.name, "kind": self.kind,
                "row_estimate": self.row_estimate}


def tables_list(*, alias: str | None = None, name_filter: str | None = None) -> list[TableRef]:
    """Every table and view, schema-qualified; optionally those whose name contains name_filter."""
    connection, vendor = target(alias)
    with catalog_cursor(connection) as cursor:
        cursor.execute(vendor.tables_sql, [])
        rows = cursor.fetchall()
    access = current_access()
    # A table the caller sees filtered gets no estimate: the whole table's count is not theirs to know.
    tables = [TableRef(s, n, k, None if e is None or access.row_filters(s, n) else int(e)) for s, n, k, e in rows
              if access.table_visible(s, n) and not access.denied]
    if name_filter:
        needle = name_filter.strip().lower()
        tables = [t for t in tables if needle in t.qualified_name.lower()]
    return tables


def table_resolve(*, table: str, alias: str | None = None) -> TableRef:
    """Find a table from `name`, `schema.name`, `[dbo].[Order Details]` or `"public"."x"`, any case."""
    schema, name = _split_name(table)
    tables = tables_list(alias=alias)
    for exact in (True, False):
        found = [t for t in tables if _same(t.name, name, exact) and (schema is None or _same(t.schema, schema, exact))]
        if len(found) > 1 and schema is None:
            default_schema = _default_schema(alias)
            found = [t for t in found if t.schema == default_schema] or found
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            options = ", ".join(t.qualified_name for t in found)
            raise InvalidArgument(f"'{table}' matches several tables ({options}); name the schema too.")
    close = names_close(name if schema is None else f"{schema}.{name}", tables)
    hint = f" Did you mean: {', '.join(close)}?" if close else " Use list_tables to see what exists."
    raise TableNotFound(f"No table or view named '{table}'.{hint}")


def names_close(name: str, tables: list[TableRef], *, n: int = 5) -> list[str]:
    """Up to n tables whose name (or schema.name) is close to `name`, each once, as schema.name."""
    by_key: dict[str, TableRef] = {}
    for t in tables:
        by_key.setdefault(t.qualified_name.lower(), t)
        by_key.setdefault(t.name.lower(), t)
    wanted = name.lower()
    bare = wanted.rsplit(".", 1)[-1]
    keys = difflib.get_close_matches(wanted, list(by_key), n=n * 2, cutoff=0.5)
    keys += [k for k in by_key if bare and bare in k]
    found = dict.fromkeys(by_key[k].qualified_name for k in keys)
    return list(found)[:n]


# How each database names what a statement referred to and does not exist: (kind, pattern of the name).
_UNKNOWN_NAMES = [
    ("table", re.compile(r"no such table: (?P<name>[\w.$\[\]\"`]+)", re.I)),  # SQLite
    ("column", re.compile(r"no such column: (?P<name>[\w.$\[\]\"`]+)", re.I)),
    ("table", re.compile(r'relation "(?P<name>[^"]+)" does not exist', re.I)),  # PostgreSQL
    ("column", re.compile(r'column "?(?P<name>[^" ]+)"? does not exist', re.I)),
    ("table", re.compile(r"Table '(?P<name>[^']+)' doesn't exist", re.I)),  # MySQL, MariaDB
    ("column", re.compile(r"Unknown column '(?P<name>[^']+)'", re.I)),
    ("table", re.compile(r"Invalid object name '(?P<name>[^']+)'", re.I)),  # SQL Server
    ("column", re.compile(r"Invalid column name '(?P<name>[^']+)'", re.I)),
]


def unknown_name_hint(*, message: str, sql: str, alias: str | None = None) -> str:
    """For a database's "no such table/column" message, the close matches as a sentence ('' when none)."""
    for kind, pattern in _UNKNOWN_NAMES:
        match = pattern.search(message)
        if match is None:
            continue
        wanted = _unquote(match["name"].split(".")[-1]) if kind == "column" else match["name"]
        if kind == "table":
            schema, name = _split_name(wanted.split(".", 1)[-1] if wanted.count(".") == 2 else wanted)
            close = names_close(name if schema is None else f"{schema}.{name}", tables_list(alias=alias))
            return f" Did you mean: {', '.join(close)}?" if close else " Use list_tables to see what exists."
        close = _columns_close(wanted, sql, alias)
        return f" Did you mean: {', '.join(close)}?" if close else " Use describe_table to see the columns."
    return ""


def _columns_close(wanted: str, sql: str, alias: str | None) -> list[str]:
    """Columns close to `wanted` among the tables the statement names that exist."""
    connection, vendor = target(alias)
    try:
        tree = sqlglot.parse_one(sql, read=vendor.dialect)
    except sqlglot.errors.SqlglotError:
        return []
    found: dict[str, str] = {}
    for node in tree.find_all(exp.Table):
        try:
            ref = table_resolve(table=f"{node.db}.{node.name}" if node.db else node.name, alias=alias)
        except (TableNotFound, InvalidArgument):
            continue
        with catalog_cursor(connection) as cursor:
            for row in vendor.columns(cursor, ref.schema, ref.name):
                found.setdefault(row[0].lower(), f"{ref.name}.{row[0]}")
    keys = difflib.get_close_matches(wanted.lower(), list(found), n=5, cutoff=0.5)
    return list(dict.fromkeys(found[k] for k in keys))


def table_describe(*, table: str | TableRef, alias: str | None = None) -> dict[str, Any]:
    """Columns, primary key, foreign keys in both directions, indexes and comments of one table
    (a name to resolve, or a TableRef already resolved)."""
    ref = table if isinstance(table, TableRef) else table_resolve(table=table, alias=alias)
    connection, vendor = target(alias)
    with catalog_cursor(connection) as cursor:
        columns = vendor.columns(cursor, ref.schema, ref.name)
        foreign_keys = vendor.foreign_keys(cursor, ref.schema, ref.name)
        indexes = vendor.indexes(cursor, ref.schema, ref.name)
        comments = vendor.comments(cursor, ref.schema, ref.name)
        primary_key = vendor.primary_key(cursor, ref.schema, ref.name)
    access = current_access()
    if access.restricted:  # what the caller may not see is not there; what is masked says so
        visible = {row[0]: access.column_rule(ref.schema, ref.name, row[0]) for row in columns}
        visible = {name: rule for name, rule in visible.items() if rule is not None}
        columns = [row for row in columns if row[0] in visible]
        foreign_keys = [row for row in foreign_keys if _foreign_key_visible(row, ref, visible, access)]
        indexes = [row for row in indexes if row[1] in visible]
        comments = {name: text for name, text in comments.items() if not name or name in visible}
        primary_key = [name for name in primary_key if name in visible]
    index_list = _group_indexes(indexes)
    if not primary_key:
        primary_key = next((i["columns"] for i in index_list if i["primary"]), [])
    described = [_column(row, comments) for row in columns]
    if access.restricted:
        for column in described:
            rule = visible[column["name"]]
            column["masked"] = rule.mask if rule.effect == MASK else None
    for column in described:
        column["nullable"] = column["nullable"] and column["name"] not in primary_key
    return {
        "table": ref.as_dict(),
        "description": comments.get(""),
        "columns": described,
        "primary_key": primary_key,
        "foreign_keys": _group_foreign_keys(foreign_keys, ref),
        "referenced_by": _group_foreign_keys(foreign_keys, ref, incoming=True),
        "indexes": index_list,
    }


def _foreign_key_visible(row: tuple, ref: TableRef, visible: dict, access: Access) -> bool:
    """A key is shown when the caller sees its columns on both ends."""
    _, f_schema, f_table, f_col, t_schema, t_table, t_col = row
    here, there = ((f_col, (t_schema, t_table, t_col)) if (f_schema, f_table) == (ref.schema, ref.name)
                   else (t_col, (f_schema, f_table, f_col)))
    return here in visible and access.column_rule(*there) is not None


def table_sample(*, table: str | TableRef, limit: int = 10, alias: str | None = None) -> QueryResult:
    """The first `limit` rows. A limit over MAX_SAMPLE_ROWS is lowered to it, and the result says so
    (`limit_requested`, `limit_applied`, `notice`); a limit under 1 is refused."""
    cap = row_cap(limit, setting="MAX_SAMPLE_ROWS")
    requested = int(limit)
    ref = table if isinstance(table, TableRef) else table_resolve(table=table, alias=alias)
    connection, vendor = target(alias)
    # One row more than the cap when the cap lowered the limit: it tells whether the table holds more.
    sql, params = vendor.sample_sql(quoted_identifier(connection, ref.schema, ref.name), cap + (requested > cap))
    result = query_read(connection=connection, vendor=vendor, sql=sql, params=params, max_rows=cap)
    if result.truncated_reason == "max_rows":
        result.truncated_reason = "max_sample_rows"
    result.limit_requested = requested
    return result


def quoted_identifier(connection: BaseDatabaseWrapper, *parts: str) -> str:
    """`schema.name` (or one part) quoted for the target's dialect, for a statement run with parameters.

    Not the backend's quote_name: it leaves a quote inside a name as it is, and some backends return a
    name that already starts and ends with a quote unchanged, so a table named `t" UNION SELECT ...`
    would become SQL. Here the quote character is doubled, whatever the name holds, and a '%' is
    doubled to stay literal beside the %s placeholders.
    """
    if not parts or any(not part or "\0" in part for part in parts):
        raise InvalidArgument("A table or column name is empty or holds a NUL character; no database allows that.")
    quote = _IDENTIFIER_QUOTES.get(vendor_for(connection).dialect, '"')
    return ".".join(quote + part.replace(quote, quote * 2) + quote for part in parts).replace("%", "%%")


# The standard double quote everywhere but MySQL (where it is a string unless ANSI_QUOTES is on).
# T-SQL too, not sqlglot's [brackets]: Babelfish has no `]]` escape inside brackets, and SQL Server
# reads "..." as a name under QUOTED_IDENTIFIER ON, the ODBC default.
_IDENTIFIER_QUOTES = {"mysql": "`"}


def _default_schema(alias: str | None) -> str:
    connection, vendor = target(alias)
    with catalog_cursor(connection) as cursor:
        return vendor.default_schema(cursor)


_NAME_PART = re.compile(r'\s*(\[(?:[^\]]|\]\])+\]|"(?:[^"]|"")+"|`(?:[^`]|``)+`|[^.\[\]"`]+?)\s*(?:\.|$)')


def _split_name(table: str) -> tuple[str | None, str]:
    """Split `a.b`, `[a].[b c]`, `"a"."b"` or `` `a`.`b` `` in any dialect: users paste names from everywhere."""
    text = (table or "").strip()
    parts, position = [], 0
    while position < len(text):
        match = _NAME_PART.match(text, position)  # each match takes at least one character
        if match is None:
            break
        parts.append(_unquote(match.group(1)))
        position = match.end()
    if not text or position < len(text) or len(parts) > 3 or not all(parts):
        raise InvalidArgument(f"'{table}' is not a table name; use table, schema.table or [schema].[table].")
    return (parts[-2] if len(parts) >= 2 else None), parts[-1]


def _unquote(part: str) -> str:
    for left, right in (("[", "]"), ('"', '"'), ("`", "`")):
        if part.startswith(left) and part.endswith(right):
            return part[1:-1].replace(right * 2, right)
    return part.strip()


def _same(a: str, b: str, exact: bool) -> bool:
    return a == b if exact else a.lower() == b.lower()


def _column(row: tuple, comments: dict[str, str]) -> dict[str, Any]:
    name, type_, nullable, default, length, precision, scale = row
    return {
        "name": name,
        "type": type_,
        "nullable": bool(nullable),
        "default": default,
        "max_length": length,
        "precision": precision,
        "scale": scale,
        "description": comments.get(name),
    }


def _group_indexes(rows: list[tuple]) -> list[dict[str, Any]]:
    grouped: dict[str, dict[str, Any]] = {}
    for index, column, unique, primary in rows:
        entry = grouped.setdefault(
            index, {"name": index, "columns": [], "unique": bool(unique), "primary": bool(primary)}
        )
        entry["columns"].append(column)
    return list(grouped.values())


def _group_foreign_keys(rows: list[tuple], ref: TableRef, *, incoming: bool = False) -> list[dict[str, Any]]:
    grouped: dict[tuple, dict[str, Any]] = {}
    for name, f_schema, f_table, f_col, t_schema, t_table, t_col in rows:
        # A self-reference (employees.manager_id -> employees.id) is listed on both sides.
        if ((t_schema, t_table) if incoming else (f_schema, f_table)) != (ref.schema, ref.name):
            continue
        key = (name, f_schema, f_table)
        entry = grouped.setdefault(key, {
            "name": name,
            "table": f"{f_schema}.{f_table}",
            "columns": [],
            "referenced_table": f"{t_schema}.{t_table}",
            "referenced_columns": [],
        })
        entry["columns"].append(f_col)
        entry["referenced_columns"].append(t_col)
    return list(grouped.values())
