"""Estimated query plans as a model reads them: an operator tree with estimated rows and cost, scans versus
seeks, and SQL Server's missing-index suggestions; one parser per vendor's plan format.

The plans come from EXPLAIN without ANALYZE (sqltools.explain): nothing here ran the statement.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from typing import Any, Iterator

MAX_NODES = 200  # operators listed; a larger plan says how many were left out


@dataclass
class PlanNode:
    operator: str
    relation: str | None = None
    index: str | None = None
    access: str | None = None  # "scan" (reads the whole table or index), "seek" (an index lookup), or None
    rows: float | None = None
    cost: float | None = None
    detail: str | None = None
    children: list[PlanNode] = field(default_factory=list)

    def as_dict(self, *, children: bool = True) -> dict[str, Any]:
        """The node as plain data; children=False: this node's own fields only (its subtree is not built)."""
        node = {"operator": self.operator, "relation": self.relation, "index": self.index, "access": self.access,
                "rows": self.rows, "cost": self.cost, "detail": self.detail}
        return {**node, "children": [child.as_dict() for child in self.children]} if children else node


@dataclass
class Plan:
    dialect: str
    nodes: list[PlanNode]
    rows: float | None  # the statement's estimated rows (for a write: rows it would change), None: not estimated
    cost: float | None  # in the database's own cost units
    missing_indexes: list[dict[str, Any]] = field(default_factory=list)
    raw: str = ""
    raw_format: str = "json"

    def walk(self) -> list[tuple[int, PlanNode]]:
        found: list[tuple[int, PlanNode]] = []
        stack = [(0, node) for node in reversed(self.nodes)]
        while stack:
            depth, node = stack.pop()
            found.append((depth, node))
            stack.extend((depth + 1, child) for child in reversed(node.children))
        return found

    @property
    def peak_rows(self) -> float | None:
        """The most rows any step of the plan handles (a join's output, a scan's input...), or None if none is
        estimated: `SELECT count(*)` of a cross join returns one row after making billions."""
        estimates = [n for n in (self.rows, *(node.rows for _, node in self.walk())) if n is not None]
        return max(estimates) if estimates else None

    @property
    def scans(self) -> list[str]:
        return [node.relation for _, node in self.walk() if node.access == "scan" and node.relation]


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# PostgreSQL: EXPLAIN (FORMAT JSON) gives [{"Plan": {...}}].
_PG_SEEKS = {"Index Scan", "Index Only Scan", "Bitmap Index Scan"}
_PG_SCANS = {"Seq Scan", "Parallel Seq Scan"}


def postgresql_plan(raw: Any) -> Plan:
    document = json.loads(raw) if isinstance(raw, str) else raw
    top = document[0]["Plan"]

    def node(item: dict[str, Any]) -> PlanNode:
        kind = item.get("Node Type", "?")
        relation = ".".join(p for p in (item.get("Schema"), item.get("Relation Name")) if p) or None
        access = "seek" if kind in _PG_SEEKS else "scan" if kind in _PG_SCANS else None
        detail = item.get("Index Cond") or item.get("Filter") or item.get("Hash Cond") or item.get("Join Type")
        return PlanNode(kind, relation, item.get("Index Name"), access, _number(item.get("Plan Rows")),
                        _number(item.get("Total Cost")), detail, [node(child) for child in item.get("Plans", [])])

    # A write's top node (ModifyTable) returns no rows: the rows it would change are its input's.
    counted = top["Plans"][0] if top.get("Node Type") == "ModifyTable" and top.get("Plans") else top
    return Plan("postgres", [node(top)], _number(counted.get("Plan Rows")), _number(top.get("Total Cost")),
                raw=json.dumps(document))


# MySQL and MariaDB: EXPLAIN FORMAT=JSON gives {"query_block": {...}} with tables inside nested_loop and friends.
_MYSQL_SCANS = {"ALL", "index"}


def mysql_plan(raw: Any) -> Plan:
    document = json.loads(raw) if isinstance(raw, str) else raw
    block = document.get("query_block", document)
    rows = 1.0
    tables = 0

    def walk(item: Any, into: list[PlanNode]) -> None:
        nonlocal rows, tables
        if isinstance(item, list):
            for part in item:
                walk(part, into)
            return
        if not isinstance(item, dict):
            return
        if "table_name" in item:
            examined = _number(item.get("rows_examined_per_scan", item.get("rows")))
            filtered = _number(item.get("filtered")) or 100.0
            if examined is not None:
                rows *= max(examined * filtered / 100.0, 1.0) if tables else examined * filtered / 100.0
                tables += 1
            access_type = item.get("access_type")
            access = "scan" if access_type in _MYSQL_SCANS else ("seek" if access_type else None)
            cost = _number((item.get("cost_info") or {}).get("prefix_cost", item.get("cost")))
            node = PlanNode(f"table access ({access_type})", item["table_name"], item.get("key"), access,
                            examined, cost, item.get("attached_condition"))
            into.append(node)
            for key, value in item.items():
                if isinstance(value, (dict, list)) and key not in ("cost_info",):
                    walk(value, node.children)
            return
        for key, value in item.items():
            if isinstance(value, (dict, list)) and key not in ("cost_info",):
                walk(value, into)

    nodes: list[PlanNode] = []
    walk(block, nodes)
    cost = _number((block.get("cost_info") or {}).get("query_cost", block.get("cost")))
    return Plan("mysql", nodes, rows if tables else None, cost, raw=json.dumps(document))


# SQLite: EXPLAIN QUERY PLAN gives rows (id, parent, notused, detail): SCAN t, SEARCH t USING INDEX i (a=?).
def sqlite_plan(rows: list[tuple]) -> Plan:
    by_id: dict[int, PlanNode] = {}
    roots: list[PlanNode] = []
    for node_id, parent, _, detail in rows:
        words = str(detail).split()
        verb = words[0] if words else "?"
        relation = words[1] if verb in ("SCAN", "SEARCH") and len(words) > 1 else None
        index = None
        if "INDEX" in words:
            index = words[words.index("INDEX") + 1] if words.index("INDEX") + 1 < len(words) else None
        access = "seek" if verb == "SEARCH" else "scan" if verb == "SCAN" and relation else None
        node = PlanNode(verb, relation, index, access, None, None, str(detail))
        by_id[node_id] = node
        (by_id[parent].children if parent in by_id else roots).append(node)
    raw = json.dumps([list(row) for row in rows])
    return Plan("sqlite", roots, None, None, raw=raw)


# SQL Server: SET SHOWPLAN_XML ON gives one XML document per statement.
_SHOWPLAN = "{http://schemas.microsoft.com/sqlserver/2004/07/showplan}"
_MSSQL_SEEKS = {"Index Seek", "Clustered Index Seek", "RID Lookup", "Key Lookup"}
_MSSQL_SCANS = {"Table Scan", "Index Scan", "Clustered Index Scan", "Columnstore Index Scan"}


def mssql_plan(xml: str) -> Plan:
    root = ElementTree.fromstring(xml)
    statement = root.find(f".//{_SHOWPLAN}StmtSimple")

    def node(relop: ElementTree.Element) -> PlanNode:
        physical = relop.get("PhysicalOp", "?")
        target = next((child.find(f"{_SHOWPLAN}Object") for child in relop
                       if child.find(f"{_SHOWPLAN}Object") is not None), None)
        relation = index = None
        if target is not None:
            relation = ".".join(_unbracket(target.get(k)) for k in ("Schema", "Table") if target.get(k)) or None
            index = _unbracket(target.get("Index")) if target.get("Index") else None
        access = "seek" if physical in _MSSQL_SEEKS else "scan" if physical in _MSSQL_SCANS else None
        children = [node(child) for child in _child_relops(relop)]
        return PlanNode(physical, relation, index, access, _number(relop.get("EstimateRows")),
                        _number(relop.get("EstimatedTotalSubtreeCost")), relop.get("LogicalOp"), children)

    top = root.find(f".//{_SHOWPLAN}QueryPlan/{_SHOWPLAN}RelOp")
    nodes = [node(top)] if top is not None else []
    rows = _number(statement.get("StatementEstRows")) if statement is not None else None
    cost = _number(statement.get("StatementSubTreeCost")) if statement is not None else None
    return Plan("tsql", nodes, rows, cost, _missing_indexes(root), raw=xml, raw_format="xml")


def _child_relops(element: ElementTree.Element) -> Iterator[ElementTree.Element]:
    """The RelOps directly under `element` (with no RelOp between them), in document order: one pass over the
    elements down to them, so a plan is read in linear time whatever its depth."""
    for child in element:
        if child.tag == f"{_SHOWPLAN}RelOp":
            yield child
        else:
            yield from _child_relops(child)


def _missing_indexes(root: ElementTree.Element) -> list[dict[str, Any]]:
    found = []
    for group in root.iter(f"{_SHOWPLAN}MissingIndexGroup"):
        for missing in group.iter(f"{_SHOWPLAN}MissingIndex"):
            columns: dict[str, list[str]] = {"EQUALITY": [], "INEQUALITY": [], "INCLUDE": []}
            for column_group in missing.iter(f"{_SHOWPLAN}ColumnGroup"):
                columns.setdefault(column_group.get("Usage", ""), []).extend(
                    _unbracket(column.get("Name")) for column in column_group.iter(f"{_SHOWPLAN}Column"))
            table = ".".join(_unbracket(missing.get(k)) for k in ("Schema", "Table") if missing.get(k))
            keys = columns["EQUALITY"] + columns["INEQUALITY"]
            include = f" INCLUDE ({', '.join(columns['INCLUDE'])})" if columns["INCLUDE"] else ""
            found.append({"table": table, "impact": _number(group.get("Impact")), "equality": columns["EQUALITY"],
                          "inequality": columns["INEQUALITY"], "include": columns["INCLUDE"],
                          "suggestion": f"CREATE INDEX ON {table} ({', '.join(keys)}){include}"})
    return found


def _unbracket(name: str | None) -> str:
    return (name or "").strip("[]")
