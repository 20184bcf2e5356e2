"""Enforce a caller's data policy on one parsed read: resolve every column, refuse, rewrite, mask.

sqlglot qualifies the statement against the catalog as the caller may see it (hidden tables and
columns are left out, so `SELECT *` expands to what they may read and a hidden name does not exist
for them), then each scope's columns are traced to their tables. A masked column may pass only as a
plain output column, through derived tables and CTEs, to the result, where sqltools masks its values;
anywhere else (WHERE, JOIN, ORDER BY, GROUP BY, a function, a set operation, a subquery) it is
refused. Each reference to a table with row filters becomes a filtered subquery. What cannot be
resolved is refused. The statement that runs is the rewritten one, and it passes the read-only guard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope

from sqltools.allowlists import CATALOG_PROBES
from sqltools.errors import QueryRefused
from sqltools.governance import MASK, Access, Rule
from sqltools.reach import is_system_relation, written_name


class Catalog(Protocol):
    default_schema: str

    def columns(self, schema: str, table: str) -> list[str]:
        """The table's column names in order; [] when there is no such table."""


@dataclass(frozen=True)
class Enforced:
    sql: str  # the statement to run
    masks: tuple[tuple[int, Rule], ...]  # (output column index, its mask)


def policy_enforce(*, tree: exp.Expression, sql: str, dialect: str, access: Access, catalog: Catalog) -> Enforced:
    """The statement this caller may run for `tree` (a read, parsed from `sql`), or QueryRefused saying what was
    not allowed."""
    _refuse_denied(access)
    _refuse_catalog_probes(tree, sql, dialect)
    tree = normalize_identifiers(tree.copy(), dialect=dialect)  # Orders is orders where the server folds case
    visible = _visible_schema(tree, dialect, access, catalog)
    try:
        tree = qualify(tree, schema=visible, db=catalog.default_schema, dialect=dialect,
                       validate_qualify_columns=True, quote_identifiers=True)
        root = build_scope(tree)
    except SqlglotError as error:
        raise QueryRefused(f"The query refers to something that does not exist or is not available to you ({error}).") \
            from None
    if root is None:
        raise QueryRefused("The query's tables and columns could not be resolved, so it was not run.")
    _refuse_whole_rows(tree)
    masked = _trace_masks(root, access)
    _narrow_tables(tree, dialect, access, visible)
    projections = root.expression.expressions if isinstance(root.expression, exp.Select) else []
    masks = tuple((i, masked[(id(root), p.alias_or_name)]) for i, p in enumerate(projections)
                  if (id(root), p.alias_or_name) in masked)
    return Enforced(tree.sql(dialect=dialect), masks)


def _refuse_denied(access: Access) -> None:
    if access.denied:
        raise QueryRefused("Your account has no access to any data through this server; ask an administrator.",
                           rule="DATA_POLICY_DEFAULT=deny_all")


def _visible_schema(tree: exp.Expression, dialect: str, access: Access, catalog: Catalog) -> dict:
    """{schema: {table: {column: type}}} of the tables the statement names, as far as the caller may see them."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    visible: dict[str, dict[str, dict[str, str]]] = {}
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue  # a table function: it reads no table
        if not table.db and table.name.lower() in ctes:
            continue
        schema = table.db or catalog.default_schema
        if is_system_relation(dialect, table.db.lower(), table.name.lower()):
            raise QueryRefused(
                "Catalog views are not available under a data policy; use list_tables and describe_table.",
                rule="catalog views under a data policy",
            )
        columns = catalog.columns(schema, table.name) if access.table_visible(schema, table.name) else []
        shown = {c: "UNKNOWN" for c in columns if access.column_rule(schema, table.name, c) is not None}
        if not shown:
            raise QueryRefused(
                f"No table or view named {table.name} is available to you. Use list_tables to see what is.",
                rule=f"hidden table {schema}.{table.name}",
            )
        visible.setdefault(schema, {})[table.name] = shown
    return visible


def _trace_masks(root: Scope, access: Access) -> dict[tuple[int, str], Rule]:
    """(scope id, output name) -> mask, for masked columns that reach a scope's output plainly; refuse the rest."""
    masked: dict[tuple[int, str], Rule] = {}
    for scope in root.traverse():  # inner scopes first
        for column in scope.columns:
            rule = _column_mask(scope, column, access, masked)
            if rule is None:
                continue
            output = _plain_output(scope, column)
            if output is None or not (scope is root or scope.is_derived_table or scope.is_cte):
                raise QueryRefused(
                    f"The column {column.name} is masked for you: it can be selected as it is, but not filtered, "
                    "joined, sorted, grouped, combined or computed with.",
                    rule=f"mask {'.'.join(rule.parts)}",
                )
            masked[(id(scope), output)] = rule  # a branch of UNION/INTERSECT/EXCEPT is none of the scopes above
        _refuse_output_references(scope, masked)
        if scope.expression.args.get("distinct") and any(key[0] == id(scope) for key in masked):
            raise QueryRefused(
                "DISTINCT over a masked column would sort or compare its real values, so it is not "
                "available; select it without DISTINCT.",
                rule="DISTINCT over a masked column",
            )
    return masked


def _refuse_whole_rows(tree: exp.Expression) -> None:
    """`SELECT c FROM t c`, `row_to_json(c)`, `to_jsonb(c.*)`: a row as one value would carry every column."""
    for node in tree.walk():
        whole_row = isinstance(node, exp.TableColumn) or (
            isinstance(node, exp.Column) and isinstance(node.this, exp.Star)
        )
        if whole_row or isinstance(node, exp.Star) and not isinstance(node.parent, (exp.Count, exp.Column)):
            raise QueryRefused(
                "Whole-row references (a table's name or t.* used as a value) are not available under "
                "a data policy; name the columns.",
                rule="whole-row reference under a data policy",
            )


def _refuse_output_references(scope: Scope, masked: dict) -> None:
    """ORDER BY 1, ORDER BY (1), ORDER BY alias, HAVING alias on a masked output would sort or filter by its real
    values."""
    select = scope.expression
    if isinstance(select, exp.Select):
        outputs = [p.alias_or_name for p in select.expressions]
        for ordered in select.args.get("order").expressions if select.args.get("order") else ():
            key = ordered.this.unnest() if isinstance(ordered.this, exp.Paren) else ordered.this
            if (
                isinstance(key, exp.Literal)
                and key.is_int
                and 0 < int(key.this) <= len(outputs)
                and (id(scope), outputs[int(key.this) - 1]) in masked
            ):
                raise QueryRefused(
                    "A masked column cannot be sorted by, by position either.",
                    rule=f"mask {'.'.join(masked[(id(scope), outputs[int(key.this) - 1])].parts)}",
                )
    for column in scope.expression.find_all(exp.Column):
        if not column.table and (id(scope), column.name) in masked:
            raise QueryRefused(
                f"The column {column.name} is masked for you: it can be selected as it is, but not sorted or "
                "filtered by position or alias either.",
                rule=f"mask {'.'.join(masked[(id(scope), column.name)].parts)}",
            )


def _column_mask(scope: Scope, column: exp.Column, access: Access, masked: dict) -> Rule | None:
    source, owner = _source(scope, column.table)
    if isinstance(source, exp.Table):
        rule = access.column_rule(source.db, source.name, column.name)
        if rule is None:
            raise QueryRefused(f"The column {column.name} is not available to you.",
                               rule=f"hidden column {source.db}.{source.name}.{column.name}")
        masked_rule = rule if rule.effect == MASK else None
    elif isinstance(source, Scope):
        masked_rule = masked.get((id(source), column.name))
    else:
        raise QueryRefused(f"The column {column.sql()} could not be traced to a table, so the query was not run.")
    if masked_rule is not None and owner is not scope:
        raise QueryRefused(f"The column {column.name} is masked for you and cannot be used in a subquery.",
                           rule=f"mask {'.'.join(masked_rule.parts)}")
    return masked_rule


def _source(scope: Scope, name: str) -> tuple[object, Scope | None]:
    current: Scope | None = scope
    while current is not None:
        if name in current.sources:
            return current.sources[name], current
        current = current.parent
    return None, None


def _plain_output(scope: Scope, column: exp.Column) -> str | None:
    """The output name when `column` is itself one of the scope's SELECT outputs (aliased or not)."""
    select = scope.expression
    if not isinstance(select, exp.Select):
        return None
    node = column.parent if isinstance(column.parent, exp.Alias) else column
    if node.parent is not select or node not in select.expressions:
        return None
    return node.alias_or_name


_USER_ATTRIBUTE = re.compile(r":user\.([A-Za-z_][A-Za-z0-9_]*)")


def _narrow_tables(tree: exp.Expression, dialect: str, access: Access, visible: dict) -> None:
    """Replace each table with a subquery of what the caller may see: its visible columns, the rows its filters admit.

    The checks above already refuse anything hidden; this way a form they might miss still finds only
    visible columns (and filtered rows) to read.
    """
    for table in list(tree.find_all(exp.Table)):
        if not isinstance(table.this, exp.Identifier) or not table.db:
            continue  # table functions, and CTE references (qualify named every real table's schema)
        columns = visible.get(table.db, {}).get(table.name)
        if columns is None:
            raise QueryRefused(f"The table {table.name} could not be resolved, so the query was not run.")
        source = exp.table_(table.name, db=table.db, catalog=table.catalog or None, quoted=True)
        narrowed = exp.select(*(exp.column(name, quoted=True) for name in columns)).from_(source)
        predicates = access.row_filters(table.db, table.name)
        if predicates:
            narrowed = narrowed.where(exp.or_(*(_predicate(p, dialect, access) for p in predicates), dialect=dialect))
        table.replace(narrowed.subquery(exp.to_identifier(table.alias_or_name, quoted=True), copy=False))


_REG_TYPES = ("reg",)  # regclass, regtype, regproc…: a cast to them looks a name up in the catalog


def _refuse_catalog_probes(tree: exp.Expression, sql: str, dialect: str) -> None:
    """Catalog functions and casts to catalog or table types would say whether a hidden table or column exists."""
    probes = CATALOG_PROBES[dialect]
    for node in tree.find_all(exp.Func):
        name, _, _ = written_name(node, sql)
        if name is not None and name.lower() in probes:
            raise QueryRefused(f"{name} describes the catalog, which is not available under a data policy; use "
                               "list_tables and describe_table.", rule="catalog function under a data policy")
    for data_type in tree.find_all(exp.DataType):
        text = data_type.sql(dialect=dialect).lower()
        if data_type.is_type(exp.DataType.Type.USERDEFINED) or text.startswith(_REG_TYPES):
            raise QueryRefused(f"A cast to {text} looks a name up in the catalog, which is not available under a "
                               "data policy.", rule="catalog cast under a data policy")


def _predicate(text: str, dialect: str, access: Access) -> exp.Expression:
    def literal(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in access.attributes:
            raise QueryRefused(f"The data policy needs your '{name}' attribute, which your account does not have; "
                               "ask an administrator.", rule=f"row filter needs :user.{name}")
        return exp.Literal.string(access.attributes[name]).sql(dialect=dialect)

    try:
        return exp.condition(_USER_ATTRIBUTE.sub(literal, text), dialect=dialect)
    except SqlglotError:
        raise QueryRefused("A row filter of your data policy is not valid SQL; ask an administrator.") from None


def policy_enforce_write(*, tree: exp.Expression, sql: str, dialect: str, access: Access, catalog: Catalog) -> Enforced:
    """An INSERT, UPDATE or DELETE under a data policy: one table with a write rule, no masked or hidden column,
    and an UPDATE or DELETE limited to the rows the caller's filters admit (an INSERT into a filtered table is
    refused: its rows could not be checked against the filter)."""
    _refuse_denied(access)
    _refuse_catalog_probes(tree, sql, dialect)
    tree = normalize_identifiers(tree.copy(), dialect=dialect)
    table = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
    if not isinstance(table, exp.Table) or len(list(tree.find_all(exp.Table))) != 1 or any(
            isinstance(node, (exp.Select, exp.Subquery)) for node in tree.walk() if node is not tree):
        raise QueryRefused("Under a data policy, a write changes one table and reads no other (no joins, FROM or "
                           "subqueries).", rule="write under a data policy: one table")
    if tree.find(exp.Returning, exp.Star):
        raise QueryRefused("Under a data policy, a write returns no rows (RETURNING, OUTPUT) and names its columns.",
                           rule="write under a data policy: RETURNING")
    if isinstance(tree, exp.Insert) and not isinstance(tree.this, exp.Schema):
        raise QueryRefused("Under a data policy, an INSERT names the columns it fills.",
                           rule="write under a data policy: INSERT without columns")
    schema = table.db or catalog.default_schema
    if not access.table_visible(schema, table.name) or not access.table_writable(schema, table.name):
        raise QueryRefused(f"Your data policy does not let you change {table.name}.",
                           rule=f"no write rule for {schema}.{table.name}")
    existing = {c.lower(): c for c in catalog.columns(schema, table.name)}
    named = [c.name for c in tree.find_all(exp.Column)]
    if isinstance(tree.this, exp.Schema):
        named += [i.name for i in tree.this.expressions]
    for name in named:
        rule = access.column_rule(schema, table.name, existing.get(name.lower(), name))
        if name.lower() not in existing or rule is None:
            raise QueryRefused(f"The column {name} is not available to you.",
                               rule=f"hidden column {schema}.{table.name}.{name}")
        if rule.effect == MASK:
            raise QueryRefused(f"The column {name} is masked for you, so a write may not use it.",
                               rule=f"mask {'.'.join(rule.parts)}")
    predicates = access.row_filters(schema, table.name)
    if predicates and isinstance(tree, exp.Insert):
        raise QueryRefused(f"Your rows of {table.name} are filtered, and inserted rows could not be checked against "
                           "the filter, so inserting is not available to you.",
                           rule=f"row filter on {schema}.{table.name}")
    if predicates:
        condition = exp.or_(*(_predicate(p, dialect, access) for p in predicates), dialect=dialect)
        assigned = {eq.this.name.lower() for eq in tree.args.get("expressions") or () if isinstance(eq, exp.EQ)}
        if assigned & {c.name.lower() for c in condition.find_all(exp.Column)}:
            raise QueryRefused(f"Your rows of {table.name} are filtered by a column this write changes; it would move "
                               "rows out of what you may see, so it was not run.",
                               rule=f"row filter on {schema}.{table.name}")
        where = tree.args.get("where")
        tree.set("where", exp.Where(this=exp.and_(exp.paren(where.this), exp.paren(condition)) if where else condition))
    return Enforced(tree.sql(dialect=dialect), ())
