"""Tool data as text for a language model: the one place a table's description, or rows, become words.

mcp_bridge/render.py fits tool results within MAX_RESULT_CHARS (its rows as tab-separated text);
the search and fetch records (sqltools/search.py) and the describe_table tool use these.
"""

from __future__ import annotations

import json
from typing import Any

from sqltools.query import QueryResult


def describe_text(described: dict[str, Any]) -> str:
    table, primary_key = described["table"], described["primary_key"]
    lines = [f"{table['kind'].capitalize()} {table['name']}"
             + (f" (about {table['row_estimate']} rows)" if table["row_estimate"] is not None else "")]
    if described["description"]:
        lines.append(f"Description: {described['description']}")
    lines.append("Columns:")
    for column in described["columns"]:
        notes = ["NULL" if column["nullable"] else "NOT NULL"]
        notes += [f"default {column['default']}"] if column["default"] is not None else []
        notes += ["primary key"] if column["name"] in primary_key else []
        notes += [f"masked ({column['masked']}) by your data policy"] if column.get("masked") else []
        notes += [column["description"]] if column["description"] else []
        lines.append(f"- {column['name']} {column['type']} ({', '.join(notes)})")
    lines.append(f"Primary key: {', '.join(primary_key) or 'none'}")
    for label, keys in (("Foreign keys", described["foreign_keys"]), ("Referenced by", described["referenced_by"])):
        lines += [f"{label}:"] * bool(keys) + [_key_line(key) for key in keys]
    lines += ["Indexes:"] * bool(described["indexes"]) + [
        f"- {i['name']} ({', '.join(i['columns'])}){' unique' * i['unique']}{' primary' * i['primary']}"
        for i in described["indexes"]]
    return "\n".join(lines)


def _key_line(key: dict[str, Any]) -> str:
    source = f"{key['table']}({', '.join(key['columns'])})"
    return f"- {source} -> {key['referenced_table']}({', '.join(key['referenced_columns'])})"


def markdown_table(result: QueryResult) -> str:
    """A markdown table: compact, and read well by language models."""
    lines = ["| " + " | ".join(markdown_cell(c) for c in result.columns) + " |", "|" + " --- |" * len(result.columns)]
    lines += ["| " + " | ".join(markdown_cell(v) for v in row) + " |" for row in result.rows]
    reasons = {"max_rows": "more rows exist than the row cap", "max_sample_rows": "more rows exist than the sample cap",
               "max_chars": "the result hit the character cap"}
    why = f"; truncated: {reasons.get(result.truncated_reason or '', 'capped')}" if result.truncated else ""
    return "\n".join(lines + ["", f"{rows_words(result.row_count)}{why}."])


def rows_words(count: int) -> str:
    return f"{count} row{'' if count == 1 else 's'}"


def markdown_cell(value: Any) -> str:
    if value is None:
        return "NULL"
    text = json.dumps(value, default=str) if isinstance(value, (dict, list)) else str(value)
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")
