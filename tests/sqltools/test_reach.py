"""Operators and conversions: only built-in ones are admitted, because a user-defined operator, a domain's
CHECK or a type's input function runs code the database owner wrote, and the checker cannot see it."""

from __future__ import annotations

import pytest
from django.db import connections
from sqlglot.dialects.postgres import Postgres

from sqltools.errors import QueryRefused
from sqltools.explain import plan_explain
from sqltools.query import query_run
from sqltools.reach import _BUILTIN_TYPE_NAMES, _PG_TYPE_TOKENS, _PG_TYPE_WORDS
from sqltools.readonly import Kind, statement_parse
from tests.targets import target_params

DIALECTS = ("postgres", "mysql", "sqlite", "tsql")
_OPERATOR = "operator OPERATOR"
_CAST = "casts only to the database's built-in types"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_operator_named_by_schema_is_refused_even_when_built_in(dialect):
    with pytest.raises(QueryRefused, match=f"{_OPERATOR}.*Use a built-in operator"):
        statement_parse(sql="SELECT 1 OPERATOR(pg_catalog.+) 2", dialect=dialect)


@pytest.mark.parametrize("dialect", ["postgres", "sqlite", "tsql"])  # MySQL cannot parse the symbol at all
def test_user_defined_operator_is_refused(dialect):
    with pytest.raises(QueryRefused, match=f"{_OPERATOR}|reads '###' as one operator.*Use a built-in operator"):
        statement_parse(sql="SELECT 1 OPERATOR(public.###) 2", dialect=dialect)


@pytest.mark.parametrize("dialect", ["postgres", "sqlite", "tsql"])  # `#` starts a comment in MySQL
@pytest.mark.parametrize("sql", ["SELECT 1 ### 2", "SELECT a #@# b FROM t"])
def test_unknown_operator_symbol_is_refused(dialect, sql):
    with pytest.raises(QueryRefused):
        statement_parse(sql=sql, dialect=dialect)


@pytest.mark.parametrize(
    "dialect, sql",
    [
        ("postgres", "SELECT a = b, a + b, a || b, a ~ b, a !~* b, a ~~ b, a ->> 'k', a #> '{k}', a @> b, a ^@ b "
                     "FROM t"),
        ("mysql", "SELECT a = b, a <=> b, a || b, a ->> '$.k', a -> '$.k', a & b, a << b FROM t"),
        ("sqlite", "SELECT a = b, a || b, a ->> '$.k', a -> '$.k', a << b, a % b FROM t"),
        ("tsql", "SELECT a + b, a % b, a & b, a ^ b, ~a FROM t WHERE a <> b AND a LIKE 'x%'"),
    ],
)
def test_built_in_operators_stay_allowed(dialect, sql):
    assert statement_parse(sql=sql, dialect=dialect).kind is Kind.READ


_CASTS = {
    "postgres": ["SELECT 5::atk_dom", "SELECT CAST(5 AS atk_dom)", "SELECT '{5}'::public.atk_dom[]",
                 "SELECT x FROM jsonb_to_record('{}') AS r(x atk_dom)", "SELECT 5::\"atk_dom\""],
    "sqlite": ["SELECT CAST(5 AS atk_dom)", "SELECT TRY_CAST(5 AS atk_dom)"],
    "tsql": ["SELECT CAST(5 AS atk_dom)", "SELECT TRY_CAST(5 AS dbo.atk_dom)", "SELECT CONVERT(atk_dom, 5)",
             "SELECT TRY_CONVERT(atk_dom, 5)", "SELECT PARSE('5' AS atk_dom)", "SELECT TRY_PARSE('5' AS atk_dom)"],
}


@pytest.mark.parametrize("dialect, sql", [(d, sql) for d, sqls in _CASTS.items() for sql in sqls])
def test_cast_to_a_user_defined_type_is_refused(dialect, sql):
    with pytest.raises(QueryRefused, match=f"{_CAST}; '[^']*atk_dom\"?' is not one"):
        statement_parse(sql=sql, dialect=dialect)


@pytest.mark.parametrize(
    "dialect, sql", [("postgres", "SELECT atk_dom '5'"), ("mysql", "SELECT CAST(5 AS atk_dom)"),
                     ("mysql", "SELECT 5::atk_dom"), ("tsql", "SELECT TRY_PARSE('5' AS dbo.atk_dom)")],
)
def test_typed_literal_or_cast_the_parser_cannot_read_is_refused(dialect, sql):
    with pytest.raises(QueryRefused):
        statement_parse(sql=sql, dialect=dialect)


def _foreign_pg_type_words() -> list[str]:
    """Every type word sqlglot's postgres reader knows that PostgreSQL itself does not ship."""
    words = {" ".join(w.lower().split()) for w, t in Postgres.Tokenizer.KEYWORDS.items() if t in _PG_TYPE_TOKENS}
    return sorted(words - _PG_TYPE_WORDS)


@pytest.mark.parametrize("word", _foreign_pg_type_words())
def test_postgres_refuses_type_words_it_would_resolve_to_a_users_domain(word):
    assert {"long", "datetime", "string", "tinyint"} <= set(_foreign_pg_type_words())
    with pytest.raises(QueryRefused):
        statement_parse(sql=f"SELECT x::{word} FROM t", dialect="postgres")


@pytest.mark.parametrize(
    "dialect, sql",
    [
        ("postgres", "SELECT x::bigint, x::int4, CAST(x AS double precision), x::character varying(3), "
                     "x::numeric(9, 2), x::timestamptz, x::jsonb, x::tsvector, x::text[], DATE '2024-01-01', "
                     "INTERVAL '1 day', 't'::regclass, NULL::int FROM t"),
        ("mysql", "SELECT CAST(x AS CHAR(10)), CAST(x AS SIGNED), CAST(x AS DECIMAL(9, 2)), CONVERT(x, DATE) FROM t"),
        ("sqlite", "SELECT CAST(x AS INTEGER), CAST(x AS REAL), CAST(x AS TEXT), CAST(x AS BLOB), CAST(x AS NUMERIC)"),
        ("tsql", "SELECT CAST(x AS int), TRY_CAST(x AS nvarchar(10)), CONVERT(varchar(10), x, 120), "
                 "CAST(x AS sysname), CAST(x AS hierarchyid), CAST(x AS datetime2), PARSE(x AS datetime2), "
                 "TRY_PARSE(x AS int) FROM t"),
    ],
)
def test_casts_to_built_in_types_stay_allowed(dialect, sql):
    assert statement_parse(sql=sql, dialect=dialect).kind is Kind.READ


@pytest.mark.parametrize("dialect", DIALECTS)
def test_column_definitions_in_ddl_are_not_conversions(dialect):
    sql = "CREATE TABLE readonly_probe (a atk_dom)" if dialect != "mysql" else "CREATE TABLE readonly_probe (a INT)"
    assert statement_parse(sql=sql, dialect=dialect).kind is Kind.DDL


@pytest.mark.django_db(transaction=True, databases="__all__")
@pytest.mark.parametrize("sql", ["SELECT 1 OPERATOR(public.###) 2", "SELECT CAST(5 AS readonly_probe_dom)"])
def test_explain_refuses_them_too(sql):
    with pytest.raises(QueryRefused, match=f"{_OPERATOR}|{_CAST}"):
        plan_explain(sql=sql, alias="target")


# A user function that leaves a trace when called, behind an operator and a domain's CHECK.
_SETUP = [
    "CREATE TABLE readonly_probe_calls (n int)",
    "CREATE FUNCTION readonly_probe_op(a int, b int) RETURNS int VOLATILE LANGUAGE plpgsql AS "
    "$$BEGIN INSERT INTO readonly_probe_calls VALUES (a); RETURN a + b; END$$",
    "CREATE FUNCTION readonly_probe_fold(a int, b int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT a + b'",
    "CREATE OPERATOR public.### (LEFTARG = int, RIGHTARG = int, FUNCTION = readonly_probe_op)",
    "CREATE OPERATOR public.#@# (LEFTARG = int, RIGHTARG = int, FUNCTION = readonly_probe_fold)",
    "CREATE OPERATOR public.~- (LEFTARG = int, RIGHTARG = int, FUNCTION = readonly_probe_op)",
    "CREATE DOMAIN readonly_probe_dom AS int CHECK (readonly_probe_op(VALUE, 0) > -1)",
]
_TEARDOWN = [
    "DROP DOMAIN IF EXISTS readonly_probe_dom", "DROP OPERATOR IF EXISTS public.### (int, int)",
    "DROP OPERATOR IF EXISTS public.#@# (int, int)", "DROP OPERATOR IF EXISTS public.~- (int, int)",
    "DROP FUNCTION IF EXISTS readonly_probe_op(int, int)",
    "DROP FUNCTION IF EXISTS readonly_probe_fold(int, int)", "DROP TABLE IF EXISTS readonly_probe_calls",
]


@pytest.fixture
def user_code_on_pg(target_alias):
    with connections[target_alias].cursor() as cursor:
        for sql in _SETUP:
            cursor.execute(sql)
    try:
        yield target_alias
    finally:
        with connections[target_alias].cursor() as cursor:
            for sql in _TEARDOWN:
                cursor.execute(sql)


def _calls(alias: str) -> int:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM readonly_probe_calls")
        return cursor.fetchone()[0]


_ON_PG = [
    "SELECT 1 OPERATOR(public.###) 2", "SELECT 5::readonly_probe_dom", "SELECT CAST(5 AS readonly_probe_dom)",
    "SELECT '{5}'::readonly_probe_dom[]", "SELECT 1 OPERATOR(public.#@#) 2",
    "SELECT x FROM jsonb_to_record('{\"x\": 5}') AS r(x readonly_probe_dom)", "SELECT 1 ~- 2",
]


@pytest.mark.django_db(transaction=True, databases="__all__")
@pytest.mark.parametrize("target_alias", target_params("target_pg"), indirect=True)
def test_postgres_never_calls_the_user_function(user_code_on_pg):
    alias = user_code_on_pg
    with connections[alias].cursor() as cursor:  # the setup works: the same text, run directly, calls it
        cursor.execute("SELECT 1 OPERATOR(public.###) 2, 5::readonly_probe_dom, 1 ~- 2")
    assert _calls(alias) == 3
    with connections[alias].cursor() as cursor:
        cursor.execute("DELETE FROM readonly_probe_calls")
    for sql in _ON_PG:
        for run in (query_run, plan_explain):
            with pytest.raises(QueryRefused, match=f"{_OPERATOR}|{_CAST}|one operator") as refused:
                run(sql=sql, alias=alias)
            assert "read-only transaction" not in str(refused.value)
    assert _calls(alias) == 0


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("target_alias", target_params("target_pg"), indirect=True)
def test_postgres_type_words_are_postgresqls_own(target_alias):
    """Every word the guard admits as a PostgreSQL type names a type in pg_catalog (array and null are syntax)."""
    words = sorted((_PG_TYPE_WORDS | _BUILTIN_TYPE_NAMES["postgres"]) - {"array", "null"})
    with connections[target_alias].cursor() as cursor:
        cursor.execute(
            "SELECT w FROM unnest(%s::text[]) AS w WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type t "
            "WHERE t.oid = to_regtype(w) AND t.typnamespace = 'pg_catalog'::regnamespace)",
            [words],
        )
        assert cursor.fetchall() == []


@pytest.mark.parametrize("sql", ["SELECT 1 <=> 2", "SELECT 1 == 2", "SELECT id == 2 FROM t", "SELECT a <=> b FROM t"])
def test_operators_of_other_dialects_are_not_postgresql_ones(sql):
    """PostgreSQL has no <=> or ==: only the database owner could have defined them (attack round 2)."""
    with pytest.raises(QueryRefused, match="as one operator"):
        statement_parse(sql=sql, dialect="postgres")


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("target_alias", target_params("target_pg"), indirect=True)
def test_every_multi_character_operator_admitted_is_postgresql_s_own(target_alias):
    from sqltools.lexing import _PG_MULTI_CHARACTER

    with connections[target_alias].cursor() as cursor:
        cursor.execute("SELECT DISTINCT oprname FROM pg_operator WHERE oid < 16384 AND length(oprname) > 1")
        built_in = {row[0] for row in cursor.fetchall()}
    assert _PG_MULTI_CHARACTER - {"!=", "=>"} <= built_in  # != is read as <>; => names an argument


@pytest.mark.parametrize("sql", ["SELECT * FROM main.pragma_database_list", "SELECT * FROM temp.pragma_compile_options",
                                 "SELECT * FROM main . pragma_function_list", "SELECT * FROM main.dbstat"])
def test_sqlite_system_tables_stay_refused_under_a_schema_name(sql):
    with pytest.raises(QueryRefused, match="system relation"):
        statement_parse(sql=sql, dialect="sqlite")


@pytest.mark.parametrize("sql", ["SELECT user", "SELECT current_role", "SELECT session_user FROM t",
                                 "SELECT g::oid::regrole::text FROM generate_series(1, 20000) g"])
def test_postgresql_login_and_role_names_stay_out_of_reach(sql):
    with pytest.raises(QueryRefused, match="login's name|names the database's roles|not on the read-only allow"):
        statement_parse(sql=sql, dialect="postgres")


def test_a_column_named_user_in_double_quotes_or_qualified_is_a_column():
    assert statement_parse(sql='SELECT "user", t.user FROM t', dialect="postgres").kind is Kind.READ
