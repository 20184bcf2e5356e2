"""ChatGPT deep research's `search` and `fetch`, over the same catalog and guarded queries.

Ids say what they point at, so any worker can answer `fetch` after the cache expired:
  table:<schema>.<name>                  a table or view (described)
  row:<schema>.<name>:<key>              one row; key is url-safe base64 of the JSON primary-key values
  sample:<schema>.<name>:<n>             the first n rows of a table
  query:<sql>:<signature>                a read-only query; sql is url-safe base64 of its text
Schema and table names escape '%', '.' and ':' as %25, %2E and %3A, so the id always splits cleanly.

A query id carries SQL, and a link (/records/<id>) runs it as whoever follows it; so its signature,
an HMAC of <sql> under the server's SECRET_KEY (django.core.signing, salt "sqltools.query-id"), lets
fetch accept only queries this server's search ran. It is bound to nothing else: anyone may re-run
the query, with their own rights. The other ids carry only names, resolved against the catalog, and
key values and a row count, bound as parameters: no SQL.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Callable
from urllib.parse import quote, unquote

from django.core import signing
from django.core.cache import cache

from sqltools.catalog import TableRef, quoted_identifier, table_describe, table_resolve, table_sample, tables_list
from sqltools.conf import sqltools_settings
from sqltools.errors import InvalidArgument, QueryRefused, TableNotFound
from sqltools.governance import UNRESTRICTED, access_scope, current_access
from sqltools.policy import catalog_cursor
from sqltools.query import QueryResult, query_read, query_run, row_cap, target
from sqltools.render import describe_text, markdown_cell, markdown_table, rows_words


@dataclass(frozen=True)
class SearchHit:
    id: str
    title: str
    url: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class FetchedRecord:
    id: str
    title: str
    text: str
    url: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_LIST = re.compile(r"^(?:(?:list|show)\s+(?:all\s+)?)?tables(?:\s+(?:like\s+)?(?P<filter>\S+))?$", re.I)
_DESCRIBE = re.compile(r"^(?:describe|desc|(?:schema|columns|structure)\s+of)\s+(?P<table>.+)$", re.I | re.S)
_SAMPLE = re.compile(r"^sample\s+(?P<table>.+?)(?:\s+limit\s+(?P<limit>\d+))?$", re.I | re.S)
# Natural language seldom starts with these; a statement that does is parsed (and refused if it writes).
_SQL = re.compile(
    r"^(?:\s|--[^\n]*(?:\n|$)|/\*.*?\*/|\()*(?:(?:select|values|insert|update|delete|merge|create|drop|alter|"
    r"truncate|exec|execute|grant|revoke|declare|waitfor|pragma|commit|rollback)\b"
    r"|with\s+(?:recursive\s+)?[\w\"`\[\]]+\s*(?:\([^)]*\)\s*)?as\s*\()", re.I | re.S)
_STOP_WORDS = frozenset("a an and any all by find for from in is me of on or show table tables the to what which with"
                        .split())


def search_run(*, query: str, alias: str | None = None, base_url: str = "") -> list[SearchHit]:
    """Answer "list tables", "describe X", "sample X limit N", a read query, or words in table and column names."""
    text = (query or "").strip()
    if not text:
        raise InvalidArgument("The search query is empty: try 'list tables', 'describe <table>' or a SELECT.")
    hits = _search_dispatch(text, alias)
    return [SearchHit(id_, title, record_url(id_=id_, base_url=base_url)) for id_, title in hits[: _max_hits()]]


def fetch_run(*, id: str, alias: str | None = None, base_url: str = "") -> FetchedRecord:
    """Turn an id from search_run back into a full record; from the cache when warm, else recomputed."""
    id_ = (id or "").strip()
    kind, _, rest = id_.partition(":")
    if kind not in _FETCHERS or not rest:
        raise InvalidArgument(f"'{id}' is not an id from search; ids start with table:, row:, sample: or query:.")
    record = None if current_access().restricted else cache.get(_cache_key(alias, id_))
    if record is None:
        record = _cache_put(alias, id_, _FETCHERS[kind](rest, alias))
    return FetchedRecord(id=id_, url=record_url(id_=id_, base_url=base_url), **record)


RECORDS_PATH = "records/"  # the page sqltools.urls serves for a record id


def record_url(*, id_: str, base_url: str = "") -> str:
    """Citations need a non-empty url: the public address when known, else a relative path."""
    return f"{base_url.rstrip('/')}/{RECORDS_PATH}{quote(id_, safe=':')}"


def table_id(ref: TableRef) -> str:
    return f"table:{_id_name(ref)}"


def row_id(ref: TableRef, key: list[Any]) -> str:
    return f"row:{_id_name(ref)}:{_b64_encode(json.dumps(key, separators=(',', ':')))}"


def sample_id(ref: TableRef, limit: int) -> str:
    return f"sample:{_id_name(ref)}:{limit}"


def query_id(sql: str) -> str:
    return f"query:{_query_signer().sign(_b64_encode(sql.strip()))}"


def _search_dispatch(text: str, alias: str | None) -> list[tuple[str, str]]:
    if match := _LIST.match(text):
        return [(table_id(ref), _table_title(ref)) for ref in tables_list(alias=alias, name_filter=match["filter"])]
    if match := _DESCRIBE.match(text):
        ref = table_resolve(table=match["table"].strip(), alias=alias)
        return [(table_id(ref), _table_title(ref))]
    if match := _SAMPLE.match(text):
        return _sample_hits(match["table"].strip(), int(match["limit"] or 10), alias)
    if _SQL.match(text):
        return [_query_hit(text, alias)]
    return _word_hits(text, alias)


def _table_title(ref: TableRef, why: str = "") -> str:
    if not why and ref.row_estimate is not None:
        why = f"about {rows_words(ref.row_estimate)}"
    return f"{ref.kind.capitalize()} {ref.qualified_name}{f' ({why})' if why else ''}"


def _sample_hits(table: str, limit: int, alias: str | None) -> list[tuple[str, str]]:
    """One hit for the whole sample, then one per row when the table has a primary key (citable on its own)."""
    ref = table_resolve(table=table, alias=alias)
    limit = row_cap(max(1, limit), setting="MAX_SAMPLE_ROWS")  # search text asks loosely: 0 means one row
    result = table_sample(table=ref, limit=limit, alias=alias)
    whole = _cache_put(alias, sample_id(ref, limit), _sample_record(ref, limit, result))
    hits = [(sample_id(ref, limit), whole["title"])]
    primary_key = table_describe(table=ref, alias=alias)["primary_key"]
    for row in result.rows if primary_key else []:
        values = dict(zip(result.columns, row))
        id_ = row_id(ref, [values[c] for c in primary_key])
        hits.append((id_, _cache_put(alias, id_, _row_record(ref, primary_key, values))["title"]))
    return hits


def _query_hit(sql: str, alias: str | None) -> tuple[str, str]:
    return query_id(sql), _cache_put(alias, query_id(sql), _query_record(sql.strip(), alias))["title"]


def _word_hits(text: str, alias: str | None) -> list[tuple[str, str]]:
    """Tables whose name holds a word rank above tables where only column names do."""
    words = [w for w in re.findall(r"\w+", text.lower()) if len(w) > 1 and w not in _STOP_WORDS]
    needles = {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words}  # "orders" also finds order_id
    scored = []
    for ref, columns in _column_index(alias):
        name_hit = any(n in ref.name.lower() for n in needles)
        matched = [c for c in columns if any(n in c.lower() for n in needles)]
        if name_hit or matched:
            score = (100 if ref.name.lower() in words else 0) + (10 if name_hit else 0) + len(matched)
            scored.append((-score, ref.qualified_name, ref, _match_reason(name_hit, matched)))
    return [(table_id(ref), _table_title(ref, why)) for _, _, ref, why in sorted(scored, key=lambda s: s[:2])]


def _match_reason(name_hit: bool, columns: list[str]) -> str:
    parts = ["name matches"] if name_hit else []
    if columns:
        shown = ", ".join(columns[:3]) + (", …" if len(columns) > 3 else "")
        parts.append(f"column {shown} matches" if len(columns) == 1 else f"columns {shown} match")
    return "; ".join(parts)


def _column_index(alias: str | None) -> list[tuple[TableRef, list[str]]]:
    """Every table with its column names; cached briefly, since it costs one catalog query per table."""
    key = _cache_key(alias, "column-index")
    index = cache.get(key)
    if index is None:
        connection, vendor = target(alias)
        with access_scope(UNRESTRICTED):  # the whole catalog is cached; each caller sees their part of it
            tables = tables_list(alias=alias)
        with catalog_cursor(connection) as cursor:
            index = [(ref, [row[0] for row in vendor.columns(cursor, ref.schema, ref.name)]) for ref in tables]
        cache.set(key, index, min(300, sqltools_settings().CACHE_TTL_SECONDS))
    access = current_access()
    if not access.restricted:
        return index
    return [(ref, [c for c in columns if access.column_rule(ref.schema, ref.name, c) is not None])
            for ref, columns in index if access.table_visible(ref.schema, ref.name)]


def _fetch_table(rest: str, alias: str | None) -> dict[str, Any]:
    described = table_describe(table=_id_table(rest, alias), alias=alias)
    title = f"{described['table']['kind'].capitalize()} {described['table']['name']}"
    return {"title": title, "text": describe_text(described), "metadata": described}


def _fetch_row(rest: str, alias: str | None) -> dict[str, Any]:
    name, _, encoded = rest.rpartition(":")
    ref = _id_table(name, alias)
    key = _json_decode(encoded, f"row:{rest}")
    primary_key = table_describe(table=ref, alias=alias)["primary_key"]
    scalars = isinstance(key, list) and all(isinstance(v, (str, int, float)) for v in key)
    if not scalars or len(key) != len(primary_key) or not primary_key:
        columns = ", ".join(primary_key) or "none"
        raise InvalidArgument(f"The row id does not match the primary key of {ref.qualified_name} ({columns}).")
    connection, vendor = target(alias)
    where = " AND ".join(f"{quoted_identifier(connection, column)} = %s" for column in primary_key)
    sql = f"SELECT * FROM {quoted_identifier(connection, ref.schema, ref.name)} WHERE {where}"
    result = query_read(connection=connection, vendor=vendor, sql=sql, params=key, max_rows=1)
    if not result.rows:
        shown = ", ".join(f"{c} = {v!r}" for c, v in zip(primary_key, key))
        raise TableNotFound(f"No row of {ref.qualified_name} has {shown}; it may have been deleted.")
    return _row_record(ref, primary_key, dict(zip(result.columns, result.rows[0])))


def _fetch_sample(rest: str, alias: str | None) -> dict[str, Any]:
    name, _, limit = rest.rpartition(":")
    if not limit.isdecimal() or int(limit) < 1:  # isdigit() would pass '²', which int() refuses
        raise InvalidArgument(f"The sample id 'sample:{rest}' must end in a row count, like sample:main.orders:10.")
    ref = _id_table(name, alias)
    return _sample_record(ref, int(limit), table_sample(table=ref, limit=int(limit), alias=alias))


def _fetch_query(signed: str, alias: str | None) -> dict[str, Any]:
    try:
        encoded = _query_signer().unsign(signed)
    except signing.BadSignature:
        raise QueryRefused("This query id was not issued by this server (or was altered); "
                           "run the query with execute_sql or search for it again.") from None
    return _query_record(_b64_decode(encoded, f"query:{signed}"), alias)


def _query_signer() -> signing.Signer:
    # Salted: a signature made for anything else with the same SECRET_KEY does not fit a query id.
    return signing.Signer(salt="sqltools.query-id")


def _query_record(sql: str, alias: str | None) -> dict[str, Any]:
    result = _read_only_run(sql, alias)
    one_line = " ".join(sql.split())
    count = f"{rows_words(result.row_count)}{', more exist' if result.truncated else ''}"
    title = f"Query ({count}): {one_line[:100]}{'…' if len(one_line) > 100 else ''}"
    metadata = {"sql": sql, "columns": result.columns, "row_count": result.row_count, "truncated": result.truncated,
                "truncated_reason": result.truncated_reason, "elapsed_ms": result.elapsed_ms}
    return {"title": title, "text": markdown_table(result), "metadata": metadata}


def _read_only_run(sql: str, alias: str | None) -> QueryResult:
    """search and fetch never write, whatever READ_ONLY_MODE says: their SQL is a search text,
    not an execute_sql call that asked for the write permission."""
    return query_run(sql=sql, alias=alias, allow_write=False, purpose="search and fetch")


_FETCHERS: dict[str, Callable[[str, str | None], dict[str, Any]]] = {
    "table": _fetch_table, "row": _fetch_row, "sample": _fetch_sample, "query": _fetch_query,
}


def _sample_record(ref: TableRef, limit: int, result: QueryResult) -> dict[str, Any]:
    metadata = {"table": ref.qualified_name, "limit": limit, "columns": result.columns, "row_count": result.row_count,
                "truncated": result.truncated, "truncated_reason": result.truncated_reason}
    title = f"Sample of {ref.qualified_name} (first {rows_words(result.row_count)})"
    return {"title": title, "text": markdown_table(result), "metadata": metadata}


def _row_record(ref: TableRef, primary_key: list[str], values: dict[str, Any]) -> dict[str, Any]:
    key = ", ".join(f"{c}={values[c]}" for c in primary_key)
    preview = ", ".join(markdown_cell(v) for c, v in values.items() if c not in primary_key and v is not None)[:80]
    title = f"Row {ref.qualified_name} {key}{f' — {preview}' if preview else ''}"
    metadata = {"table": ref.qualified_name, "primary_key": {c: values[c] for c in primary_key}, "values": values}
    return {
        "title": title,
        "text": "\n".join(f"{c}: {markdown_cell(v)}" for c, v in values.items()),
        "metadata": metadata,
    }


def _id_table(text: str, alias: str | None) -> TableRef:
    schema, dot, name = text.partition(".")
    if not dot or not schema or not name or "." in name:
        raise InvalidArgument(f"'{text}' in the id is not <schema>.<table>.")
    return table_resolve(table=_quoted(TableRef(unquote(schema), unquote(name), "table")), alias=alias)


def _quoted(ref: TableRef) -> str:
    """A name table_resolve reads back exactly, whatever characters it holds."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in (ref.schema, ref.name))


def _id_name(ref: TableRef) -> str:
    return ".".join(part.replace("%", "%25").replace(".", "%2E").replace(":", "%3A") for part in (ref.schema, ref.name))


def _b64_encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode("ascii").rstrip("=")


def _b64_decode(encoded: str, id_: str) -> str:
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidArgument(f"The id '{id_}' is damaged: its last part is not url-safe base64.") from None


def _json_decode(encoded: str, id_: str) -> Any:
    try:
        return json.loads(_b64_decode(encoded, id_))
    except (json.JSONDecodeError, RecursionError):
        raise InvalidArgument(f"The id '{id_}' is damaged: its key is not JSON.") from None


def _cache_key(alias: str | None, id_: str) -> str:
    # Hashed: ids can be long and hold characters memcached-style backends refuse.
    digest = hashlib.sha256(id_.encode()).hexdigest()
    return f"sqltools:search:{alias or sqltools_settings().ALIAS}:{digest}"


def _cache_put(alias: str | None, id_: str, record: dict[str, Any]) -> dict[str, Any]:
    """Remember a record for any worker's fetch; not one made under a data policy (it is that caller's alone)."""
    if not current_access().restricted:
        cache.set(_cache_key(alias, id_), record, sqltools_settings().CACHE_TTL_SECONDS)
    return record


def _max_hits() -> int:
    return max(1, sqltools_settings().MAX_SEARCH_RESULTS)
