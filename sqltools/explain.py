"""explain_sql: a statement's estimated plan, without running it, for the caller as execute_sql would run it.

The statement passes the same policy as execute_sql (guard, allow lists, the caller's data policy, write
rights); its EXPLAIN is then built from the vendor's fixed prefix and passed through the policy too
(sqltools.query.plan_of). PostgreSQL EXPLAIN (FORMAT JSON) without ANALYZE, MySQL/MariaDB EXPLAIN
FORMAT=JSON, SQLite EXPLAIN QUERY PLAN, SQL Server SET SHOWPLAN_XML ON in a batch of its own.
"""

from __future__ import annotations

from typing import Any

from sqltools.conf import sqltools_settings
from sqltools.governance import Access, access_scope, current_access
from sqltools.plans import MAX_NODES, Plan
from sqltools.policy import catalog_view, statement_policy
from sqltools.query import plan_of, target

_LABELS = {"postgres": "PostgreSQL", "mysql": "MySQL/MariaDB", "sqlite": "SQLite", "tsql": "SQL Server"}


def plan_explain(
    *, sql: str, alias: str | None = None, allow_write: bool = False, access: Access | None = None
) -> Plan:
    """The estimated plan of `sql` for the caller; QueryRefused when execute_sql would refuse it."""
    with access_scope(access or current_access()) as access:
        connection, vendor = target(alias)
        checked = statement_policy(
            sql=sql,
            dialect=vendor.dialect,
            allow_write=allow_write,
            purpose="explain_sql",
            access=access,
            catalog=catalog_view(connection, vendor),
        )
        return plan_of(connection=connection, vendor=vendor, checked=checked)


def plan_summary(plan: Plan) -> dict[str, Any]:
    """The plan as explain_sql's structuredContent: the compact tree, the estimate, the next step, the raw plan."""
    conf = sqltools_settings()
    walked = plan.walk()
    limits = [f"{conf.MAX_ESTIMATED_ROWS:,} rows (MAX_ESTIMATED_ROWS)" if conf.MAX_ESTIMATED_ROWS else "",
              f"cost {conf.MAX_ESTIMATED_COST:,g} (MAX_ESTIMATED_COST)" if conf.MAX_ESTIMATED_COST else ""]
    return {
        "dialect": _LABELS.get(plan.dialect, plan.dialect),
        "executed": False,
        "estimated_rows": plan.rows,
        "estimated_cost": plan.cost,
        "scans": plan.scans,
        "operators": [{"depth": depth, **node.as_dict(children=False)} for depth, node in walked[:MAX_NODES]],
        "operators_left_out": max(0, len(walked) - MAX_NODES),
        "missing_indexes": plan.missing_indexes,
        "server_limits": " and ".join(part for part in limits if part) or None,
        "raw_format": plan.raw_format,
        "raw_plan": plan.raw,
        "raw_plan_truncated": False,
        "notice": _advice(plan),
    }


def _advice(plan: Plan) -> str:
    words = []
    if plan.rows is None and plan.cost is None:
        words.append(f"{_LABELS.get(plan.dialect, plan.dialect)} gives no row or cost estimates in its plan; "
                     "the operators show scans and index searches.")
    if plan.scans:
        words.append(f"Full scans of {', '.join(plan.scans)}: a WHERE on an indexed column (describe_table lists the "
                     "indexes) or an aggregate reads less.")
    if plan.missing_indexes:
        words.append("SQL Server suggests indexes (missing_indexes); ask the DBA, this server does not create them.")
    return " ".join(words) or "The plan uses index searches only."


def plan_text(summary: dict[str, Any]) -> str:
    """The compact operator tree for the text copy of the result."""
    rows, cost = summary["estimated_rows"], summary["estimated_cost"]
    estimate = (
        ", ".join(
            part
            for part in (
                f"about {rows:,.0f} rows" if rows is not None else "",
                f"cost {cost:,.2f}" if cost is not None else "",
            )
            if part
        )
        or "no estimate"
    )
    lines = [f"{summary['dialect']} estimated plan (the statement was not run): {estimate}."]
    for op in summary["operators"]:
        facts = [
            f"[{op['access']}]" if op["access"] else "",
            f"on {op['relation']}" if op["relation"] else "",
            f"index {op['index']}" if op["index"] else "",
            f"rows≈{op['rows']:,.0f}" if op["rows"] is not None else "",
            f"cost≈{op['cost']:,.2f}" if op["cost"] is not None else "",
        ]
        lines.append("  " * op["depth"] + f"- {op['operator']} " + " ".join(f for f in facts if f))
    if summary["operators_left_out"]:
        lines.append(f"… {summary['operators_left_out']:,} more operators are in raw_plan.")
    for missing in summary["missing_indexes"]:
        lines.append(f"Missing index (impact {missing['impact']}%): {missing['suggestion']}")
    if summary["server_limits"]:
        lines.append(f"This server's cost guard: {summary['server_limits']}.")
    lines.append(summary["notice"])
    return "\n".join(lines)
