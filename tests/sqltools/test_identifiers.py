"""Names that look like SQL stay names: every path that builds SQL from a table or column name quotes it
for its dialect, so a table named after an attack reads as that table and nothing else runs."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlglot
from django.core.cache import cache
from django.db import connections
from sqlglot import exp

from sqltools.catalog import TableRef, quoted_identifier, table_describe, table_sample, tables_list
from sqltools.errors import InvalidArgument
from sqltools.search import fetch_run, record_url, row_id, sample_id, search_run, table_id

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

# Each dialect's quote characters, statement and comment starts, the id separators, '%' beside
# placeholders, and the two attacks the review found (MariaDB's and PostgreSQL's).
NAMES = [
    "t`;SET SESSION tx_read_only=0;CREATE TABLE p SELECT*FROM`t",
    "t\" UNION SELECT pg_read_file('/etc/passwd') FROM \"t",
    "t\" UNION SELECT 1, 'injected' FROM \"t",
    "t]; CREATE TABLE p (i INT); --",
    '"already quoted"',
    "`already quoted`",
    "[already quoted]",
    "semi;colon",
    "dash -- dash",
    "/* comment */",
    "100% %s %%",
    "dot.ted",
    "co:lon",
]
KEY = "id\"`]; -- % /*"  # a column name for the WHERE of a row fetch
LABEL = "label UNION SELECT 1"


@pytest.fixture(autouse=True)
def cold_cache():
    cache.clear()
    yield
    cache.clear()


def _quoted(alias: str, name: str) -> str:
    """The test's own quoting, to create the tables without trusting the code under test."""
    quote = "`" if connections[alias].vendor == "mysql" else '"'
    return quote + name.replace(quote, quote * 2) + quote


def _catalog(alias: str) -> set[tuple[str, str]]:
    return {(t.schema, t.name) for t in tables_list(alias=alias)}


@pytest.fixture
def hostile_table(request, target_alias):
    """A table named `request.param` holding one row, dropped afterwards; beside a table `t`, which the
    attacks name to be valid SQL if read as SQL (the old quoting ran them)."""
    name, connection = request.param, connections[target_alias]
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE t (x VARCHAR(100))")
        cursor.execute(f"CREATE TABLE {_quoted(target_alias, name)} ({_quoted(target_alias, KEY)} INTEGER PRIMARY KEY, "
                       f"{_quoted(target_alias, LABEL)} VARCHAR(100))")
        cursor.execute(f"INSERT INTO {_quoted(target_alias, name)} VALUES (1, 'row of the table')")
    try:
        yield next(ref for ref in tables_list(alias=target_alias) if ref.name == name)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {_quoted(target_alias, name)}")
            cursor.execute("DROP TABLE t")


def _typed(ref: TableRef) -> str:
    """The name as a user would type it in search: quoted, so table_resolve reads it back exactly."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in (ref.schema, ref.name))


@pytest.mark.parametrize("hostile_table", NAMES, indirect=True)
def test_catalog_and_search_paths_read_the_named_table_only(target_alias, hostile_table):
    ref, before = hostile_table, _catalog(target_alias)
    described = table_describe(table=ref, alias=target_alias)
    assert [c["name"] for c in described["columns"]] == [KEY, LABEL] and described["primary_key"] == [KEY]
    for table in (ref, _typed(ref)):
        sample = table_sample(table=table, alias=target_alias)
        assert (sample.columns, sample.rows) == ([KEY, LABEL], [[1, "row of the table"]])
    assert [h.id for h in search_run(query=f"describe {_typed(ref)}", alias=target_alias)] == [table_id(ref)]
    hits = search_run(query=f"sample {_typed(ref)}", alias=target_alias)
    assert [h.id for h in hits] == [sample_id(ref, 10), row_id(ref, [1])]
    cache.clear()  # fetch recomputes each record from its id
    assert fetch_run(id=table_id(ref), alias=target_alias).metadata["table"]["table"] == ref.name
    assert fetch_run(id=sample_id(ref, 10), alias=target_alias).metadata["row_count"] == 1
    assert fetch_run(id=row_id(ref, [1]), alias=target_alias).metadata["values"] == {KEY: 1, LABEL: "row of the table"}
    assert _catalog(target_alias) == before


@pytest.mark.parametrize("hostile_table", NAMES, indirect=True)
def test_records_pages_show_the_named_table_only(target_alias, hostile_table, admin_client, sqltools_config):
    sqltools_config(ALIAS=target_alias)
    ref, before = hostile_table, _catalog(target_alias)
    for id_ in (table_id(ref), sample_id(ref, 5), row_id(ref, [1])):
        response = admin_client.get(record_url(id_=id_))
        assert response.status_code == 200, response.content.decode()
    assert "row of the table" in response.content.decode()
    assert _catalog(target_alias) == before


def test_quoted_names_are_one_identifier_to_the_database(target_alias):
    """The database reads each quoted name as one identifier, '%' included beside a placeholder: the outer
    select finds the inner column by it. (Not cursor.description: Django's SQLite connection cuts a
    `[...]` off a column name, PARSE_COLNAMES.)"""
    with connections[target_alias].cursor() as cursor:
        for name in [*NAMES, KEY, LABEL]:
            quoted = quoted_identifier(connections[target_alias], name)
            cursor.execute(f"SELECT {quoted} FROM (SELECT %s AS {quoted}) AS named", [name])
            assert [tuple(row) for row in cursor.fetchall()] == [(name,)]


@pytest.mark.parametrize("name", [*NAMES, KEY])
def test_tsql_names_use_double_quotes_that_parse_back(name):
    """SQL Server (and Babelfish, which has no `]]` escape) get "..." with '""': checked by sqlglot's reader."""
    quoted = quoted_identifier(SimpleNamespace(vendor="microsoft"), "dbo", name)
    assert quoted.startswith('"dbo"."') and "[" not in quoted.replace(name.replace("%", "%%"), "")
    table = sqlglot.parse_one(f"SELECT * FROM {quoted.replace('%%', '%')}", read="tsql").find(exp.Table)
    assert (table.db, table.name) == ("dbo", name)


@pytest.mark.parametrize("parts", [("a\0b",), ("main", "x\0"), ("",), ()])
def test_nul_and_empty_names_are_refused(target_alias, parts):
    with pytest.raises(InvalidArgument, match="empty or holds a NUL"):
        quoted_identifier(connections[target_alias], *parts)
