"""The statement policy: the one place that decides whether a statement may reach the target.

Every statement with content passes `statement_policy`: the user's SQL (execute_sql, search and
fetch), the SQL the server generates around names and keys (samples, rows, records), and the
catalog queries of the vendor table (through `catalog_cursor`, approved once per text since they
are constants), and the EXPLAIN the server builds around an admitted statement (purpose "explain"). It
returns a `Checked` statement, and the functions that run statements take
only that (sqltools.query), so no text reaches a cursor without it. The guard's own session
statements (SET TRANSACTION READ ONLY, timeouts, row caps) are fixed text in the vendor table.

Every statement sent starts with the call's tag (sqltools.tags), which `statement_tag` proves on the
target's dialect to lex as one closed comment and nothing else: what follows it is lexed from a clean
start, exactly as the guard lexed the statement alone. `Checked.text` is the tagged statement.
"""

from __future__ import annotations

import functools
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from sqlglot import exp

from sqltools.conf import sqltools_settings
from sqltools.datapolicy import Catalog, Enforced, policy_enforce, policy_enforce_write
from sqltools.errors import QueryRefused
from sqltools.governance import Access, Rule
from sqltools.lexing import CODE, COMMENT, server_parts
from sqltools.readonly import Kind, Reach, Statement, statement_keyword, statement_parse
from sqltools.tags import TAG_SHAPE, current_tag, statement_timed
from sqltools.vendors import VENDORS, Vendor, vendor_for
from sqltools.vendors.base import tagged


@dataclass(frozen=True)
class Checked:
    """A statement the policy admitted: its text and values as they will be sent, what it does, and which
    output columns the caller's data policy masks."""

    sql: str
    kind: Kind
    verb: str
    params: Sequence[Any] | None = None
    masks: tuple[tuple[int, Rule], ...] = ()
    tag: str = ""  # the call's statement tag, proven on this dialect (statement_tag): every statement starts with it

    @property
    def text(self) -> str:
        """The statement as the target receives it: the tag, then the checked statement (a vendor may wrap the
        statement, never the tag: the tag stays first)."""
        return self.tag + self.sql


# The vendor table's catalog queries use a few functions no analyst needs (SQLite's pragma functions,
# SQL Server's object helpers); they are admitted for those constant texts only.
_CATALOG_REACH = Reach(
    functions=frozenset("""
        pragma_table_info pragma_foreign_key_list pragma_index_list pragma_index_info
        object_definition quotename object_id schema_name unnest current_schema database
        current_setting pg_is_in_recovery pg_has_role has_table_privilege has_schema_privilege
        is_srvrolemember is_rolemember has_perms_by_name fn_my_permissions current_user
        """.split()),
    relations=frozenset("pg_roles pg_auth_members".split()),
)


def statement_policy(
    *, sql: str, dialect: str, params: Sequence[Any] | None = None, allow_write: bool = False,
    purpose: str = "execute_sql", access: Access | None = None, catalog: Catalog | None = None,
    explained: Checked | None = None,
) -> Checked:
    """Admit `sql` (run with `params`, if any) for the caller (`access`), or raise QueryRefused with the reason.

    Reads are always admitted once proven; a write needs READ_ONLY_MODE off, the caller's write
    permission (allow_write) and, for DDL, ALLOW_DDL. Under a data policy, the read that runs is the
    policy's rewrite of it (sqltools.datapolicy), proven again. Purpose "explain": `sql` must be the vendor's
    fixed EXPLAIN prefix (never ANALYZE) before `explained`, a statement this function admitted.
    """
    conf = sqltools_settings()
    reach = _operator_reach(conf.READ_ONLY_EXTRA_FUNCTIONS, conf.READ_ONLY_EXTRA_RELATIONS)
    if purpose == "explain":
        return _explain_checked(sql, dialect, explained, conf.MAX_QUERY_CHARS, reach)
    restricted = access is not None and access.restricted
    if restricted and params is not None:  # the rewrite needs the values in the text: literals sqlglot writes
        sql, params = _with_literals(sql, params, dialect), None
    statement = _parsed(_as_sent(sql, params), dialect, conf.MAX_QUERY_CHARS, reach)
    verb = statement_keyword(statement.tree)
    if statement.kind is not Kind.READ:
        if conf.READ_ONLY:
            raise QueryRefused(
                f"The server is in read-only mode (READ_ONLY_MODE=true): only SELECT queries run, and this is {verb}."
            )
        if purpose not in ("execute_sql", "explain_sql"):
            raise QueryRefused(
                f"{purpose} run read queries only (SELECT, WITH, VALUES); use execute_sql to change data."
            )
        if not allow_write:
            raise QueryRefused(f"{verb} needs the sql:write permission, which this connection was not granted.")
        if statement.kind is Kind.DDL and not conf.ALLOW_DDL:
            raise QueryRefused(f"{verb} changes the schema; DDL is off (set ALLOW_DDL=true to allow it).")
        if (
            isinstance(statement.tree, (exp.Update, exp.Delete))
            and not statement.tree.args.get("where")
            and not conf.ALLOW_UNFILTERED_WRITES
        ):
            raise QueryRefused(
                f"{verb} without WHERE would change every row; add a WHERE clause "
                "(an operator can allow it with ALLOW_UNFILTERED_WRITES=true)."
            )
    if not restricted:
        return Checked(sql, statement.kind, verb, params, tag=statement_tag(dialect))
    if statement.kind is Kind.DDL:
        raise QueryRefused(
            f"Your data policy does not let you change the schema, and this is {verb}.", rule="data policy: no DDL"
        )
    enforced = _enforced(statement, sql, dialect, access, catalog, reach)
    return Checked(enforced.sql, statement.kind, verb, None, enforced.masks, statement_tag(dialect))


def statement_tag(dialect: str) -> str:
    """The current call's tag (sqltools.tags), once proven on `dialect`: one closed comment then a space, holding
    only the characters a tag may hold. QueryRefused if not, which would be a bug of the server's."""
    tag = current_tag()
    if tag:
        _tag_check(tag, dialect)
    return tag


def _tag_check(tag: str, dialect: str) -> None:
    # Not remembered: every call's tag is new (its audit id), and the check takes ~2 µs.
    end = len(tag) - 1
    one_comment = [(COMMENT, 0, end), (CODE, end, end + 1)]
    if not TAG_SHAPE.fullmatch(tag) or server_parts(sql=tag, dialect=dialect) != one_comment:
        raise QueryRefused("The server's statement tag is not one plain comment, so nothing was run; this is a bug, "
                           "please report it.")


# The text each dialect's EXPLAIN puts before a statement: estimated plans only (no ANALYZE, nothing runs).
# SQL Server has none: SET SHOWPLAN_XML ON goes in a batch of its own (sqltools.vendors.mssql).
_EXPLAIN_PREFIXES = {vendor.dialect: vendor.explain_prefix for vendor in VENDORS.values()}


def _explain_checked(sql: str, dialect: str, explained: Checked | None, max_chars: int, reach: Reach) -> Checked:
    """The EXPLAIN of an admitted statement: the fixed prefix, then exactly that statement, proven again."""
    prefix = _EXPLAIN_PREFIXES.get(dialect)
    if explained is None or prefix is None or sql != prefix + explained.sql:
        raise QueryRefused("The server built an EXPLAIN that is not its fixed prefix before an admitted statement; "
                           "this is a bug, please report it.")
    inner = _parsed(explained.sql, dialect, max(max_chars, len(explained.sql)), reach)
    if inner.kind is not explained.kind or (inner.kind is not Kind.READ and sqltools_settings().READ_ONLY):
        raise QueryRefused("The statement inside the EXPLAIN is not the one the policy admitted.")
    # With a prefix the text is a read (the database plans what follows, never runs it); SQL Server's has none,
    # so the text is the statement itself and says what it is (its batch under SHOWPLAN_XML is what plans it).
    return Checked(sql, Kind.READ if prefix else explained.kind, "EXPLAIN", None, (), statement_tag(dialect))


def _enforced(statement: Statement, sql: str, dialect: str, access: Access, catalog: Catalog, reach: Reach) -> Enforced:
    """policy_enforce and the guard's proof of its rewrite, remembered per statement, caller's policy and minute
    (the catalog view it reads is remembered for a minute too)."""
    key = (sql, dialect, access.fingerprint, getattr(catalog, "alias", ""), int(time.monotonic() // _COLUMNS_SECONDS))
    enforced = _ENFORCED.get(key)
    if enforced is None:
        enforce = policy_enforce if statement.kind is Kind.READ else policy_enforce_write
        enforced = enforce(tree=statement.tree, sql=sql, dialect=dialect, access=access, catalog=catalog)
        statement_parse(sql=enforced.sql, dialect=dialect, max_chars=len(enforced.sql), reach=reach)
        if len(_ENFORCED) >= 512:
            _ENFORCED.clear()
        _ENFORCED[key] = enforced
    return enforced


_ENFORCED: dict[tuple, Enforced] = {}


def _with_literals(sql: str, params: Sequence[Any], dialect: str) -> str:
    """`sql` with each %s replaced by its value as a SQL literal (the text is then proven like any other)."""
    values = iter(params)
    try:
        text = _PLACEHOLDER.sub(
            lambda m: exp.convert(next(values)).sql(dialect=dialect) if m.group() == "%s" else "%", sql
        )
    except StopIteration:
        raise QueryRefused("The statement's placeholders do not match its values, so it was not run.") from None
    if next(values, _END) is not _END:
        raise QueryRefused("The statement's placeholders do not match its values, so it was not run.")
    return text


_END = object()


class _CatalogView:
    """The target's tables as sqltools.datapolicy asks for them: column names, remembered for a minute."""

    def __init__(self, connection: BaseDatabaseWrapper, vendor: Vendor) -> None:
        self.connection, self.vendor, self.alias = connection, vendor, connection.alias

    @functools.cached_property
    def default_schema(self) -> str:
        with catalog_cursor(self.connection) as cursor:
            return self.vendor.default_schema(cursor)

    def columns(self, schema: str, table: str) -> list[str]:
        key = (self.connection.alias, schema, table)
        remembered = _COLUMNS.get(key)
        if remembered is not None and time.monotonic() - remembered[0] < _COLUMNS_SECONDS:
            return remembered[1]
        with catalog_cursor(self.connection) as cursor:
            names = [row[0] for row in self.vendor.columns(cursor, schema, table)]
        _COLUMNS[key] = (time.monotonic(), names)
        return names


_COLUMNS: dict[tuple[str, str, str], tuple[float, list[str]]] = {}
_COLUMNS_SECONDS = 60.0


def catalog_view(connection: BaseDatabaseWrapper, vendor: Vendor) -> Catalog:
    return _CatalogView(connection, vendor)


def write_needed(*, sql: str, alias: str | None = None) -> bool:
    """Whether running `sql` would need the write permission (the gate asks before the call, for its 403)."""
    conf = sqltools_settings()
    if conf.READ_ONLY:
        return False
    dialect = vendor_for(connections[alias or conf.ALIAS]).dialect
    reach = _operator_reach(conf.READ_ONLY_EXTRA_FUNCTIONS, conf.READ_ONLY_EXTRA_RELATIONS)
    return _parsed(sql, dialect, conf.MAX_QUERY_CHARS, reach).kind is not Kind.READ


@contextmanager
def catalog_cursor(connection: BaseDatabaseWrapper) -> Iterator[CursorWrapper]:
    """A cursor whose every statement passes the policy first (the vendor table's catalog queries)."""
    vendor = vendor_for(connection)
    dialect = vendor.dialect
    with connection.cursor() as cursor:
        execute = cursor.execute

        def checked_execute(sql: str, params: Sequence[Any] | None = None) -> Any:
            params = vendor.driver_params(params)  # checked and tagged as the driver will send it
            _catalog_statement(_as_sent(sql, params), dialect)
            with statement_timed(system=vendor.name, operation="catalog"):
                return execute(tagged(statement_tag(dialect), sql, params), params)

        cursor.execute = checked_execute
        yield cursor


# Constant statements of the server that are not queries but only read: MySQL's own grants.
_CATALOG_COMMANDS = frozenset({("mysql", "SHOW GRANTS")})


@functools.lru_cache(maxsize=64)
def _catalog_statement(sql: str, dialect: str) -> Statement | None:
    if (dialect, sql) in _CATALOG_COMMANDS:
        return None
    statement = statement_parse(sql=sql, dialect=dialect, max_chars=len(sql), reach=_CATALOG_REACH)
    if statement.kind is not Kind.READ:
        raise QueryRefused("A catalog query of the server was not a read; this is a bug, please report it.")
    return statement


def _as_sent(sql: str, params: Sequence[Any] | None) -> str:
    """The text the database receives: the driver puts a quoted value where each %s placeholder is (here a
    literal of no content) and '%%' becomes '%'."""
    if params is None:
        return sql
    placeholders = 0

    def literal(match: re.Match[str]) -> str:
        nonlocal placeholders
        placeholders += match.group() == "%s"
        return "NULL" if match.group() == "%s" else "%"

    sent = _PLACEHOLDER.sub(literal, sql)
    if placeholders != len(params):
        raise QueryRefused("The statement's placeholders do not match its values, so it was not run.")
    return sent


_PLACEHOLDER = re.compile(r"%[s%]")


@functools.lru_cache(maxsize=8)
def _operator_reach(functions: tuple[str, ...], relations: tuple[str, ...]) -> Reach:
    """READ_ONLY_EXTRA_FUNCTIONS and _RELATIONS as the guard takes them (built once, not on every call)."""
    return Reach(_lower(functions), _lower(relations))


def _lower(names: Sequence[str]) -> frozenset[str]:
    return frozenset(name.strip().lower() for name in names if name.strip())


_REMEMBERED_SQL_CHARS = 2000


def _parsed(sql: str, dialect: str, max_chars: int, reach: Reach) -> Statement:
    """statement_parse, remembered for short texts: it depends on nothing else, and clients repeat queries."""
    if len(sql) > _REMEMBERED_SQL_CHARS:
        return statement_parse(sql=sql, dialect=dialect, max_chars=max_chars, reach=reach)
    return _remembered_statement(sql, dialect, max_chars, reach)


@functools.lru_cache(maxsize=256)
def _remembered_statement(sql: str, dialect: str, max_chars: int, reach: Reach) -> Statement:
    return statement_parse(sql=sql, dialect=dialect, max_chars=max_chars, reach=reach)  # refusals raise: not kept
