"""Tool results as the client receives them: a compact text copy beside the structuredContent, both
within MAX_RESULT_CHARS.

The budget is the whole JSON-RPC response, serialized as the SDK sends it: the text item, the
structuredContent and the envelope. Both copies hold the same rows (an assistant may read either);
when they do not fit, rows are left out from the end of both until they do, and the result says so
(`truncated`, `truncated_reason: "max_chars"`, `notice`). The tab-separated text is shorter than the
JSON, so a full response holds the text of its rows in a little under half the budget.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Callable

from mcp_types import CallToolResult, TextContent

from mcp_bridge.bulk import BULK_CHARS, placeholder_result
from sqltools.conf import sqltools_settings
from sqltools.query import QueryResult
from sqltools.render import describe_text
from sqltools.values import RowsEncoded, json_text, row_text, rows_text

# {"jsonrpc":"2.0","id":…,"result":…} around the result, and what the SDK may add to it (_meta, resultType).
ENVELOPE_CHARS = 200


def response_chars(result: CallToolResult) -> int:
    """The characters this result adds to a JSON-RPC response, as the SDK serializes it."""
    return len(result.model_dump_json(by_alias=True, exclude_none=True)) + ENVELOPE_CHARS


def result_fit(tool: str, data: Any, bulk: bool = False) -> CallToolResult:
    """The tool's result (text + structuredContent) cut to fit MAX_RESULT_CHARS; see the module docstring.

    bulk: the response passes through mcp_bridge.bulk (its caller asked bulk_available() on the event loop),
    so a large result may be a placeholder for JSON written once."""
    budget = sqltools_settings().MAX_RESULT_CHARS
    if bulk and isinstance(data, QueryResult) and (
            data.encoded is not None or (data.rows_json is not None and len(data.rows_json) >= BULK_CHARS)):
        bulk = _bulk_result(tool, data, budget)
        if bulk is not None:
            return bulk
    result = _result(tool, data)
    for _ in range(8):  # each pass cuts at least the measured excess; two are the rule
        excess = response_chars(result) - budget
        if excess <= 0:
            return result
        if not _cut(data, excess):
            break
        result = _result(tool, data)
    return _too_large(tool, budget)


def json_result_fit(tool: str, data: dict[str, Any], bulk: bool = False) -> CallToolResult:
    """search/fetch: exactly one text item holding the JSON document, cut to fit MAX_RESULT_CHARS."""
    budget = sqltools_settings().MAX_RESULT_CHARS
    for _ in range(8):
        result = CallToolResult(content=[TextContent(type="text", text=json.dumps(data, default=str))])
        excess = response_chars(result) - budget
        if excess <= 0:
            return result
        if isinstance(data.get("results"), list) and data["results"]:
            data["results"] = data["results"][:max(0, len(data["results"]) - 1 - excess // 200)]
        elif isinstance(data.get("text"), str) and data["text"]:
            data["text"] = data["text"][:max(0, len(data["text"]) - excess - 200)] + "\n[cut to fit MAX_RESULT_CHARS]"
            data.setdefault("metadata", {})["text_truncated"] = True
        else:
            break
    return _too_large(tool, budget)


def _bulk_result(tool: str, data: QueryResult, budget: int) -> CallToolResult | None:
    """A large result's JSON written once, in parts (mcp_bridge.bulk): the rows as sqltools wrote them while it
    fetched them (QueryResult.encoded), or written here from the rows and their JSON; None when it does not fit
    the budget whole (the usual path cuts it). From here on only JSON text is held, never the rows as objects.
    """
    encoded = data.encoded
    if encoded is None:  # the rows stay as they are until the whole is known to fit (else the usual path cuts them)
        encoded = RowsEncoded()
        encoded.add(data.rows, data.rows_json, sys.maxsize)
    structured = data.as_dict(rows=False)
    head = json_text(structured)
    text_head = json_text("\t".join(data.columns))[:-1]
    text_tail = json_text("\n" + _table_summary(structured))[1:]
    size = len(head) + len(text_head) + len(text_tail) + encoded.json_chars + encoded.text_chars + 16
    if size + _TEXT_ITEM_CHARS + ENVELOPE_CHARS > budget:
        return None
    data.rows, data.rows_json, data.encoded = [], None, encoded  # from here on only JSON text is held
    separated = [piece for i, part in enumerate(encoded.json_parts) for piece in ((", ", part) if i else (part,))]
    return placeholder_result(text_json=[text_head, *encoded.text_parts, text_tail],
                              structured_json=[f'{head[:-1]}, "rows": [', *separated, "]}"])


_TEXT_ITEM_CHARS = 80  # {"content":[{"type":"text","text":…}],"structuredContent":…,"isError":false}


def explain_fit(tool: str, summary: dict[str, Any], bulk: bool = False) -> CallToolResult:
    """explain_sql: the compact tree as text and the summary as structuredContent; the raw plan is cut first, then
    the operator list, to fit MAX_RESULT_CHARS, and the result says so."""
    from sqltools.explain import plan_text

    budget = sqltools_settings().MAX_RESULT_CHARS
    for _ in range(8):
        result = CallToolResult(content=[TextContent(type="text", text=plan_text(summary))], structured_content=summary)
        excess = response_chars(result) - budget
        if excess <= 0:
            return result
        raw = summary["raw_plan"]
        if raw:
            escaped = len(json.dumps(raw))  # what it costs on the wire: quotes and newlines take two characters
            kept = max(0, len(raw) * (escaped - excess - 200) // escaped)
            if not summary["raw_plan_truncated"]:
                summary["notice"] += (
                    f" raw_plan was cut to fit MAX_RESULT_CHARS ({budget:,} characters): it holds the "
                    f"first part of a {len(raw):,}-character plan."
                )
            summary["raw_plan"], summary["raw_plan_truncated"] = raw[:kept], True
        elif summary["operators"]:
            cut = max(1, len(summary["operators"]) // 2)
            summary["operators_left_out"] += cut
            summary["operators"] = summary["operators"][:-cut]
        else:
            break
    return _too_large(tool, budget)


def _result(tool: str, data: Any) -> CallToolResult:
    structured = data.as_dict() if isinstance(data, QueryResult) else data  # rows read back if only written
    rows_json = data.rows_json if isinstance(data, QueryResult) else None
    return CallToolResult(content=[TextContent(type="text", text=render_text(tool, structured, rows_json))],
                          structured_content=structured)


def _cut(data: Any, excess: int) -> bool:
    """Leave out trailing rows (or tables) whose two copies weigh at least `excess` characters."""
    if isinstance(data, QueryResult) and data.rows_restore():
        keep = _keep(data.rows, excess + 400, lambda row: len(json_text(row)) + len(json_text(row_text(row))))
        data.cut(keep, "max_chars")
        return True
    if isinstance(data, dict) and data.get("tables"):
        data["tables"] = data["tables"][:_keep(data["tables"], excess + 400, lambda t: 2 * len(json_text(t)))]
        data["row_count"], data["truncated"] = len(data["tables"]), True
        data["notice"] = (f"Only the first {len(data['tables']):,} tables are listed, to stay within "
                          f"{sqltools_settings().MAX_RESULT_CHARS:,} characters (MAX_RESULT_CHARS); pass name_filter.")
        return True
    return False


def _keep(items: list[Any], excess: int, weight: Callable[[Any], int]) -> int:
    """How many leading items remain when trailing ones weighing at least `excess` are dropped."""
    dropped = 0
    for count in range(len(items), 0, -1):
        if dropped >= excess:
            return count
        dropped += weight(items[count - 1])
    return 0


def error_result(text: str) -> CallToolResult:
    """A tool error the assistant reads: one text item, isError set."""
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def _too_large(tool: str, budget: int) -> CallToolResult:
    return error_result(f"The {tool} result does not fit in {budget:,} characters (MAX_RESULT_CHARS) even when cut; "
                        "ask for less (fewer columns, shorter values, a filter).")


def render_text(tool: str, data: Any, rows_json: str | None = None) -> str:
    """The text item; rows_json, when given, is the JSON text of data["rows"] (it lets a table go the fast way)."""
    if isinstance(data, dict) and "columns" in data and "rows" in data:
        return _table_text(data, rows_json)
    if tool == "list_tables":
        lines = [f"{t['name']} ({t['kind']}{'' if t['row_estimate'] is None else ', ~%d rows' % t['row_estimate']})"
                 for t in data["tables"]]
        notice = f"\n{data['notice']}" if data.get("notice") else ""
        return f"{len(lines)} tables and views:\n" + "\n".join(lines) + notice
    if tool == "describe_table":
        return describe_text(data)
    return json.dumps(data, default=str)


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _table_text(data: dict[str, Any], rows_json: str | None = None) -> str:
    """Tab-separated rows, then one line: how many rows (or rows affected), the time, and every cap that applied."""
    lines = ["\t".join(data["columns"])] if data["columns"] else []
    if data["columns"] and data["rows"]:
        lines.append(rows_text(data["rows"], rows_json))
    return "\n".join(lines + [_table_summary(data)])


def _table_summary(data: dict[str, Any]) -> str:
    if data.get("rows_affected") is not None and data.get("statement_type") != "read":
        summary = f"{_plural(data['rows_affected'], 'row')} affected"
        if data["columns"]:
            summary += f"; {_plural(data['row_count'], 'row')} returned"
    else:
        summary = _plural(data["row_count"], "row")
    summary += f" ({data.get('elapsed_ms', 0):.1f} ms)."
    if data.get("notice"):
        summary += f" {data['notice']}"
    return summary
