"""The guard reads text as the server does: its split of code, literals and comments, the characters it
admits, the agreement it demands from sqlglot, and the session modes it pins on real connections."""

from __future__ import annotations

import re

import pytest
from django.db import connections
from sqlglot.dialects.dialect import Dialect

from sqltools.errors import QueryRefused
from sqltools.lexing import CODE, COMMENT, LITERAL, lexing_check, server_parts
from sqltools.query import query_run
from sqltools.readonly import statement_parse
from tests.targets import target_params


def _kinds(sql: str, dialect: str) -> list[tuple[int, str]]:
    merged: list[tuple[int, str]] = []
    for kind, start, end in server_parts(sql=sql, dialect=dialect):
        if merged and kind == CODE == merged[-1][0]:
            merged[-1] = (CODE, merged[-1][1] + sql[start:end])
        else:
            merged.append((kind, sql[start:end]))
    return merged


def _check(sql: str, dialect: str) -> None:
    lexing_check(sql=sql, dialect=dialect, tokens=Dialect.get_or_raise(dialect).tokenize(sql))


@pytest.mark.parametrize("dialect, sql, parts", [
    ("postgres", "SELECT 'a\\' -- x\n", [(CODE, "SELECT "), (LITERAL, "'a\\'"), (CODE, " "), (COMMENT, "-- x"),
                                         (CODE, "\n")]),
    ("postgres", "SELECT E'a\\'b'", [(CODE, "SELECT E"), (LITERAL, "'a\\'b'")]),
    ("postgres", "SELECT $t$ ' $t$, a$b$", [(CODE, "SELECT "), (LITERAL, "$t$ ' $t$"), (CODE, ", a$b$")]),
    ("postgres", "SELECT $1", [(CODE, "SELECT $1")]),
    ("mysql", "SELECT 'a\\'b', \"c\"\"d\" # x", [(CODE, "SELECT "), (LITERAL, "'a\\'b'"), (CODE, ", "),
                                                 (LITERAL, '"c""d"'), (CODE, " "), (COMMENT, "# x")]),
    ("mysql", "SELECT 1 --1", [(CODE, "SELECT 1 --1")]),
    ("mysql", "SELECT `a``b` -- c", [(CODE, "SELECT "), (LITERAL, "`a``b`"), (CODE, " "), (COMMENT, "-- c")]),
    ("tsql", "SELECT [a]]b], \"c\" /* d */", [(CODE, "SELECT "), (LITERAL, "[a]]b]"), (CODE, ", "),
                                              (LITERAL, '"c"'), (CODE, " "), (COMMENT, "/* d */")]),
    ("sqlite", "SELECT [a], `b`", [(CODE, "SELECT "), (LITERAL, "[a]"), (CODE, ", "), (LITERAL, "`b`")]),
])
def test_the_text_is_split_by_the_servers_rules(dialect, sql, parts):
    assert [(k, t) for k, t in _kinds(sql, dialect) if t] == parts


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "tsql", "sqlite"])
@pytest.mark.parametrize("sql", [
    "SELECT 'é ü — 日本' AS \"名前\" FROM t -- Straße café\n",
    "SELECT a /* naïve, über */ FROM t",
    "SELECT\r\n  1\r\n",
    "SELECT straße FROM t",
])
def test_ordinary_text_in_any_script_is_accepted(dialect, sql):
    _check(sql, dialect)


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "tsql", "sqlite"])
@pytest.mark.parametrize("char", ["\u00a0", "\u3000", "\u2028", "\u2029", "\u0085", "\x0b", "\x0c", "\x1c", "\r"])
def test_space_and_line_end_look_alikes_outside_literals_are_refused(dialect, char):
    with pytest.raises(QueryRefused, match=f"U\\+{ord(char):04X}"):
        _check(f"SELECT 1{char}FROM t", dialect)
    with pytest.raises(QueryRefused, match=f"U\\+{ord(char):04X}"):
        _check(f"SELECT 1 -- note{char}, 2", dialect)


@pytest.mark.parametrize("char", ["\u00a0", "\u2028", "\x0b", "\r"])
def test_look_alikes_inside_string_literals_are_data(char):
    _check(f"SELECT 'a{char}b'", "postgres")


@pytest.mark.parametrize("dialect, sql, reason", [
    ("postgres", 'SELECT U&"\\0070g_read_file"(\'/etc/passwd\')', "U& escapes"),
    ("postgres", "SELECT u&'\\0041'", "U& escapes"),
    ("mysql", "SELECT 1 /*! , SLEEP(1) */", "Executable comments"),
    ("mysql", "SELECT /*+ MAX_EXECUTION_TIME(1) */ 1", "optimizer hints"),
    ("mysql", "SELECT 1 /*M!100100 , 2 */", "Executable comments"),
    ("postgres", "SELECT 1 /* a /* b */ c */", "comment inside a comment"),
    ("tsql", "SELECT 1 /* a /* b */ c */", "comment inside a comment"),
    ("postgres", "SELECT 1 /* open", "not closed|could not be parsed"),
    ("postgres", "SELECT 'open", "not closed|could not be parsed"),
    ("postgres", "SELECT $x$ open", "not closed|could not be parsed"),
])
def test_forms_the_guard_will_not_read_are_refused(dialect, sql, reason):
    with pytest.raises(QueryRefused, match=reason):
        statement_parse(sql=sql, dialect=dialect)


def test_a_double_dash_that_mysql_reads_as_minus_minus_is_code_for_the_guard_too():
    # MySQL runs "--1, LOAD_FILE(...)" as minus minus one and a call: the guard must see the call too.
    with pytest.raises(QueryRefused, match="load_file"):
        statement_parse(sql="SELECT 1 --1, LOAD_FILE('/etc/passwd')", dialect="mysql")


@pytest.mark.parametrize("sql", ["SELECT 1 --\u00a0\n, 2", "SELECT 1 --\u3000x"])
def test_a_double_dash_before_a_non_ascii_space_is_no_mysql_comment(sql):
    with pytest.raises(QueryRefused, match="U\\+"):
        statement_parse(sql=sql, dialect="mysql")


@pytest.mark.django_db(transaction=True, databases="__all__")
@pytest.mark.parametrize("target_alias", target_params("target_mysql"), indirect=True)
def test_mysql_lexing_modes_are_pinned_on_every_new_connection(target_alias, settings):
    alias_settings = connections[target_alias].settings_dict
    options = {**alias_settings.get("OPTIONS", {}), "init_command": "SET sql_mode = 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES'"}
    connection = connections[target_alias]
    connection.close()
    original = connection.settings_dict["OPTIONS"]
    connection.settings_dict["OPTIONS"] = options
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT @@SESSION.sql_mode")
            modes = cursor.fetchone()[0]
        assert "ANSI_QUOTES" not in modes and "NO_BACKSLASH_ESCAPES" not in modes
        # The guard reads "a" as a string and \' as an escaped quote; so does the server now.
        assert query_run(sql="SELECT \"a\" AS s, 'it\\'s' AS t", alias=target_alias).rows == [["a", "it's"]]
    finally:
        connection.close()
        connection.settings_dict["OPTIONS"] = original


@pytest.mark.django_db(transaction=True, databases="__all__")
@pytest.mark.parametrize("target_alias", target_params("target_pg"), indirect=True)
def test_postgresql_standard_strings_are_pinned_on_every_new_connection(target_alias):
    connection = connections[target_alias]
    connection.close()
    original = connection.settings_dict.get("OPTIONS", {})
    connection.settings_dict["OPTIONS"] = {**original, "options": "-c standard_conforming_strings=off"}
    try:
        connection.ensure_connection()
        assert query_run(sql="SELECT 'a\\' AS s", alias=target_alias).rows == [["a\\"]]
    finally:
        connection.close()
        connection.settings_dict["OPTIONS"] = original


@pytest.mark.parametrize("sql, operator", [
    ("SELECT !! 5", "!!"),
    ("SELECT a ~- b FROM t", "~-"),
    ("SELECT a!=-1 FROM t", "!=-"),
    ("SELECT ?- a FROM t", "?-"),
    ("SELECT a ?# b FROM t", "?#"),  # sqlglot's parser would crash on this one
])
def test_postgres_operator_runs_that_sqlglot_splits_are_refused(sql, operator):
    """PostgreSQL reads a run of operator characters as one operator, possibly the owner's function."""
    with pytest.raises(QueryRefused, match=f"PostgreSQL reads '{re.escape(operator)}' as one operator"):
        statement_parse(sql=sql, dialect="postgres")


def test_postgres_operators_sqlglot_reads_whole_or_rejoins_are_accepted():
    sql = (
        "SELECT a<-1, a*-1, a=-1, 1e-5, 2E+3, - -5, a !~* b, a !~ b, a !~~ b, a<<b, a>>b, a->>'k', a#>>'{k}', "
        "a @> b, a <@ b, a ?| b, a ?& b, a || b, a <> b, a >= b, a <= b, a != b FROM t"
    )
    assert statement_parse(sql=sql, dialect="postgres")
