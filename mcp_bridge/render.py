"""Compact text renderings of tool results (the structuredContent carries the full data)."""

from __future__ import annotations

import json
import math
from typing import Any


def render_text(tool: str, data: Any) -> str:
    if isinstance(data, dict) and "columns" in data and "rows" in data:
        return _table_text(data)
    if tool == "list_tables":
        lines = [f"{t['name']} ({t['kind']}{'' if t['row_estimate'] is None else ', ~%d rows' % t['row_estimate']})"
                 for t in data["tables"]]
        return f"{len(lines)} tables and views:\n" + "\n".join(lines)
    if tool == "describe_table":
        return _describe_text(data)
    return json.dumps(data, default=str)


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text.replace("\t", " ").replace("\n", " ")


def _row_text(row: list[Any]) -> str:
    # Numbers inline, as json.dumps would write them: this runs once per value of every result.
    return "\t".join([repr(v) if type(v) is int or (type(v) is float and math.isfinite(v)) else _cell(v) for v in row])


def _table_text(data: dict[str, Any]) -> str:
    lines = ["\t".join(data["columns"])] + [_row_text(row) for row in data["rows"]]
    summary = f"{data['row_count']} row(s)"
    if data.get("rows_affected") is not None:
        summary += f", {data['rows_affected']} affected"
    if data.get("truncated"):
        reason = "the row limit" if data.get("truncated_reason") == "max_rows" else "the size limit"
        summary += f"; truncated at {reason}: more rows exist"
    return "\n".join(lines + [f"({summary}; {data.get('elapsed_ms', 0):.1f} ms)"])


def _describe_text(data: dict[str, Any]) -> str:
    lines = [f"{data['table']['name']} ({data['table']['kind']})"]
    if data.get("description"):
        lines.append(data["description"])
    for c in data["columns"]:
        extra = " NOT NULL" if not c["nullable"] else ""
        extra += f" DEFAULT {c['default']}" if c["default"] is not None else ""
        lines.append(f"  {c['name']} {c['type']}{extra}" + (f"  -- {c['description']}" if c.get("description") else ""))
    if data["primary_key"]:
        lines.append(f"Primary key: {', '.join(data['primary_key'])}")
    for fk in data["foreign_keys"]:
        lines.append(f"FK {', '.join(fk['columns'])} -> {fk['referenced_table']}({', '.join(fk['referenced_columns'])})")
    for fk in data["referenced_by"]:
        lines.append(f"Referenced by {fk['table']}({', '.join(fk['columns'])})")
    for ix in data["indexes"]:
        lines.append(f"Index {ix['name']}{' UNIQUE' if ix['unique'] else ''} ({', '.join(ix['columns'])})")
    return "\n".join(lines)
