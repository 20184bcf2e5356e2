"""What a statement may reach: functions on the dialect's allow list and relations that are not the server's secrets.

Both checks prove a statement safe rather than look for danger. A function is admitted only if
its name, as written, is on the allow list of sqltools/allowlists.py (or READ_ONLY_EXTRA_FUNCTIONS);
the few function forms that sqlglot builds from syntax rather than a name (CAST, EXTRACT, CASE,
TRIM … FROM) are admitted by their parse-tree class. A relation in a system schema (pg_catalog,
mysql, performance_schema, sys) is admitted only if it is on the metadata list below or in
READ_ONLY_EXTRA_RELATIONS; everything else is the user's own data, which the login's grants govern.
Operators and conversions can call functions too: only the operators sqlglot reads as its own expression
classes and only conversions to the dialect's built-in types are admitted (docs/read_only.md).
"""

from __future__ import annotations

import re

from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import SqlglotError
from sqlglot.tokens import Token

from sqltools.allowlists import FUNCTIONS
from sqltools.errors import QueryRefused

# Function nodes that sqlglot makes from syntax (keywords, FROM/IN forms) or adds itself (implicit
# casts), so they carry no name token: each is a pure computation whatever the dialect.
_SYNTAX_FUNCTIONS = (
    exp.Cast, exp.TryCast, exp.Convert, exp.Extract, exp.Case, exp.If, exp.Exists, exp.Array, exp.Trim,
    exp.Substring, exp.StrPosition, exp.Overlay, exp.GroupConcat, exp.CurrentDate, exp.CurrentTime,
    exp.CurrentTimestamp, exp.TimeStrToTime, exp.TsOrDsToDate, exp.TsOrDsToTimestamp,
    exp.MatchAgainst, exp.Chr, exp.Coalesce, exp.Interval, exp.ArrayAgg, exp.StringToArray, exp.Struct,
    exp.Count, exp.Max, exp.Min, exp.Sum, exp.Avg, exp.Lower, exp.Upper, exp.Length, exp.Concat, exp.Unnest,
)
# Metadata relations of each server's system schemas that reveal structure, not secrets, settings,
# sampled data (pg_stats) or other sessions and databases.
_SYSTEM_RELATIONS = {
    "postgres": frozenset("""
        pg_class pg_namespace pg_attribute pg_attrdef pg_index pg_constraint pg_description pg_type pg_enum
        pg_views pg_tables pg_matviews pg_indexes pg_sequences pg_inherits pg_am pg_collation pg_trigger
        pg_stat_user_tables pg_stat_user_indexes pg_statio_user_tables pg_proc
        pg_depend pg_extension pg_partitioned_table pg_sequence pg_range pg_cast pg_operator
        """.split()),
    "mysql": frozenset("""
        tables columns views statistics key_column_usage table_constraints referential_constraints schemata
        routines parameters triggers partitions check_constraints character_sets collations
        collation_character_set_applicability keywords
        """.split()),
    "tsql": frozenset("""
        tables columns objects schemas indexes index_columns foreign_keys foreign_key_columns types views
        extended_properties partitions key_constraints check_constraints default_constraints computed_columns
        identity_columns sql_modules stats stats_columns triggers procedures parameters all_columns all_objects
        synonyms sequences table_types
        """.split()),
    "sqlite": frozenset("""
        sqlite_master sqlite_schema sqlite_temp_master sqlite_temp_schema sqlite_sequence
        pragma_table_info pragma_table_xinfo pragma_index_list pragma_index_info pragma_index_xinfo
        pragma_foreign_key_list
        """.split()),
}
# The standard's metadata views (PostgreSQL and SQL Server have more, about roles, user mappings and
# foreign servers, that can hold secrets).
_INFORMATION_SCHEMA = frozenset("""
    tables columns views schemata table_constraints key_column_usage referential_constraints
    constraint_column_usage constraint_table_usage check_constraints domains domain_constraints routines
    parameters sequences triggers view_table_usage view_column_usage element_types column_domain_usage
    """.split())
# Schemas whose relations are the server's own.
_SYSTEM_SCHEMAS = {
    "postgres": ("pg_catalog", "information_schema"),
    "mysql": ("mysql", "performance_schema", "sys", "information_schema"),
    "tsql": ("sys", "information_schema"),
    "sqlite": (),
}
# Unqualified names that the server looks up in its system schema (or as a built-in table) first.
_SYSTEM_PREFIXES = {
    "postgres": ("pg_",), "mysql": (), "tsql": ("sys", "dm_"), "sqlite": ("sqlite_", "pragma_", "dbstat"),
}


def functions_check(*, tree: exp.Expression, sql: str, dialect: str, extra: frozenset[str] = frozenset()) -> None:
    """Refuse the first function that is not on the dialect's allow list, naming it."""
    allowed = FUNCTIONS[dialect]
    for node in tree.find_all(exp.Func):
        name, qualifier, quoted = written_name(node, sql)
        if name is None:
            if isinstance(node, _OPERATORS) or node.sql_name().lower() in extra:
                continue  # AND, OR, ||, -x: written as symbols or keywords, they call nothing by name
            # Built from syntax (CAST, EXTRACT…), or a call sqlglot parsed without keeping the name written.
            generated = node.name.lower() if isinstance(node, exp.Anonymous) else _generated_name(node, dialect)
            if generated in allowed or isinstance(node, _SYNTAX_FUNCTIONS):
                continue
            raise QueryRefused(f"The query uses {generated or node.sql_name()}, which is not on the read-only allow "
                               f"list for {dialect}, so it was not run.")
        key = name if quoted and dialect == "postgres" else name.lower()
        qualified = f"{qualifier.lower()}.{key}" if qualifier else key
        if qualified in extra or (key in allowed and qualifier.lower() in _BUILTIN_SCHEMAS[dialect]):
            continue
        raise QueryRefused(
            f"The function {qualified} is not on the read-only allow list for {dialect} (functions that write, lock, "
            "sleep, run SQL text, read files or reach the network are never on it). If it is a harmless function of "
            "your own, an operator can add it with READ_ONLY_EXTRA_FUNCTIONS."
        )


_OPERATORS = (exp.Binary, exp.Unary, exp.Connector)
_CALL = re.compile(r'\s*[`"\[]?([A-Za-z_][A-Za-z0-9_]*)[`"\]]?\s*\(')


def _generated_name(node: exp.Func, dialect: str) -> str:
    """The name sqlglot writes for a call it parsed without keeping the written one (json_agg(x) is JSONArrayAgg)."""
    match = _CALL.match(node.sql(dialect=dialect))
    return match.group(1).lower() if match else ""
_BUILTIN_SCHEMAS = {"postgres": ("", "pg_catalog"), "mysql": ("",), "tsql": ("",), "sqlite": ("",)}


def written_name(node: exp.Func, sql: str) -> tuple[str | None, str, bool]:
    """The function's name as written, its schema qualifier ('' for none), and whether the name was quoted."""
    meta = node.meta
    if "start" not in meta:
        return None, "", False
    written = sql[meta["start"]:meta["end"] + 1]
    quoted = written[:1] in "\"`["
    name = written[1:-1] if quoted else written
    parent = node.parent
    qualifier = ""
    if isinstance(parent, exp.Dot) and parent.expression is node:
        qualifier = parent.this.sql()  # a schema (or database.schema) in front of the call
    elif isinstance(parent, exp.Table) and parent.args.get("db"):
        qualifier = parent.db
    return name, qualifier, quoted


def relations_check(*, tree: exp.Expression, dialect: str, extra: frozenset[str] = frozenset()) -> None:
    """Refuse system relations that are not plain metadata, and names that reach other servers."""
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            if isinstance(table.this, exp.Dot):
                raise QueryRefused("Four-part names reach linked servers, which the read-only guard does not allow.")
            continue  # a table function: the function check covers it
        schema, name = table.db.lower(), table.name.lower()
        if not is_system_relation(dialect, schema, name):
            continue
        if f"{schema}.{name}" in extra or name in extra or _is_metadata(dialect, schema, name):
            continue
        raise QueryRefused(
            f"{(schema + '.') if schema else ''}{name} is a system relation that can expose server settings, "
            "credentials or other sessions, so read-only mode does not allow it. Use list_tables and describe_table "
            "for structure; an operator can allow it with READ_ONLY_EXTRA_RELATIONS."
            + ("" if dialect == "sqlite" else " If it is a table of your own, name its schema.")
        )


def _is_metadata(dialect: str, schema: str, name: str) -> bool:
    if schema == "information_schema":
        return name in _INFORMATION_SCHEMA or dialect == "mysql" and name in _SYSTEM_RELATIONS["mysql"]
    return name in _SYSTEM_RELATIONS[dialect]


def is_system_relation(dialect: str, schema: str, name: str) -> bool:
    """Whether `schema.name` (schema '' when unqualified) is the server's own, not the user's data."""
    if dialect == "sqlite" and name.startswith(_SYSTEM_PREFIXES[dialect]):
        return True  # main.pragma_database_list is the same function table: a schema does not make it data
    if schema:
        return schema in _SYSTEM_SCHEMAS[dialect] or dialect == "postgres" and schema.startswith("pg_")
    return name.startswith(_SYSTEM_PREFIXES[dialect])


# PostgreSQL reads these words, unquoted and unqualified, as the login's name (SQL's niladic functions), never
# as columns; sqlglot reads them as columns. regrole turns any role's oid into its name.
_PG_LOGIN_WORDS = frozenset({"user", "current_role", "current_user", "session_user"})


def identity_check(*, tree: exp.Expression, dialect: str) -> None:
    """Refuse what names the database's logins on PostgreSQL: `user`, `current_role`, casts to regrole."""
    if dialect != "postgres":
        return
    for column in tree.find_all(exp.Column):
        word = column.this
        if not column.table and isinstance(word, exp.Identifier) and not word.quoted \
                and word.name.lower() in _PG_LOGIN_WORDS:
            raise QueryRefused(f"PostgreSQL reads {word.name} as the login's name, which the guard keeps out of "
                               "reach. If it is a column, write its name in double quotes.")
    for node in tree.find_all(exp.ObjectIdentifier):
        if node.name.upper() == "REGROLE":
            raise QueryRefused("A cast to regrole names the database's roles, which the guard keeps out of reach.")


def operators_check(*, tree: exp.Expression) -> None:
    """Refuse OPERATOR(schema.op) and any symbol sqlglot reads as a generic operator: it may call anyone's function."""
    for node in tree.find_all(exp.Operator):
        raise QueryRefused(
            f"The operator OPERATOR({node.args['operator']}) is not one the guard can prove built-in: an operator "
            "named this way can call a user-written function. Use a built-in operator (=, +, ||, LIKE, ~, ->>…) "
            "or a function on the allow list."
        )


# Built-in types that sqlglot does not know by name (it reads them as user-defined ones).
_BUILTIN_TYPE_NAMES = {
    "postgres": frozenset({"tsvector", "tsquery"}),
    "tsql": frozenset({"sysname", "hierarchyid"}),
    "mysql": frozenset(),
    "sqlite": frozenset(),
}
# Type words that PostgreSQL itself has. sqlglot's postgres reader also maps other dialects' words
# (long, string, datetime, tinyint…) to its types, but PostgreSQL resolves those to whatever type
# or domain of that name the database owner created.
_PG_TYPE_WORDS = frozenset("""
    array bigint int8 bit bool boolean bpchar char character date daterange datemultirange dec decimal numeric
    float float8 float4 real inet int integer int4 int2 smallint int4range int4multirange int8range
    int8multirange interval json jsonb money name numrange nummultirange point text time timestamp timestamptz
    timetz tsrange tsmultirange tstzrange tstzmultirange uuid bytea varchar xml cstring null unknown oid regclass
    regcollation regconfig regdictionary regnamespace regoper regoperator regproc regprocedure regrole regtype
    """.split()) | {"double precision", "character varying", "char varying"}
_PG_TYPE_TOKENS = Postgres.Parser.TYPE_TOKENS


def conversions_check(*, tree: exp.Expression, tokens: list[Token], dialect: str) -> None:
    """Refuse a conversion (::, CAST, CONVERT, typed literal, column list of a table function) to a type the
    guard cannot prove built-in: a domain's CHECK or a type's input function is user-written code."""
    for node in tree.find_all(exp.DataType):
        if node.this == exp.DataType.Type.USERDEFINED:
            kind = node.args.get("kind")
            name = kind.sql(dialect=dialect) if isinstance(kind, exp.Expression) else str(kind)
            if name.lower() not in _BUILTIN_TYPE_NAMES[dialect]:
                raise QueryRefused(_type_sentence(name))
    if dialect == "tsql":
        _check_tsql_parse(tree)
    if dialect != "postgres":
        return
    converted = {node.this.name for node in tree.find_all(exp.DataType) if isinstance(node.this, exp.DataType.Type)}
    for token in tokens if converted else ():
        word = " ".join(token.text.lower().split())
        if token.token_type in _PG_TYPE_TOKENS and token.token_type.name in converted and word not in _PG_TYPE_WORDS:
            raise QueryRefused(_type_sentence(token.text) + " If it is a column's name, write it in double quotes.")


def _check_tsql_parse(tree: exp.Expression) -> None:
    """sqlglot reads T-SQL's PARSE(x AS type) as a call of an aliased value: the alias is the type."""
    for node in tree.find_all(exp.Anonymous):
        if node.name.lower() in ("parse", "try_parse"):
            for argument in node.expressions:
                name = argument.alias if isinstance(argument, exp.Alias) else ""
                try:
                    known = name and exp.DataType.build(name, dialect="tsql").this != exp.DataType.Type.USERDEFINED
                except SqlglotError:
                    known = False
                if name and not known and name.lower() not in _BUILTIN_TYPE_NAMES["tsql"]:
                    raise QueryRefused(_type_sentence(name))


def _type_sentence(name: str) -> str:
    return (
        f"The query converts a value to {name}, but read-only mode allows casts only to the database's built-in "
        f"types; '{name}' is not one (a domain, a table's row type or another user-defined type can run its "
        "owner's code). Cast to the built-in base type instead (for example ::integer or ::text)."
    )
