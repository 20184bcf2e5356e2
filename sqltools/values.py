"""Turn driver values into JSON-safe, faithful values, and rows into their two written forms: JSON and the
tab-separated text copy a language model reads (mcp_bridge.render), batch by batch for a large result."""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import math
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

_PASSTHROUGH = (str, int, bool, type(None))


def _binary(value: bytes | bytearray | memoryview) -> dict[str, Any]:
    data = bytes(value)
    return {"$binary": base64.b64encode(data).decode("ascii"), "length": len(data)}


def _float(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)


def _timedelta(value: datetime.timedelta) -> str:
    # ISO 8601 duration in seconds keeps sub-second precision and sign.
    return f"PT{value.total_seconds():g}S"


_CONVERTERS: dict[type, Callable[[Any], Any]] = {
    float: _float,
    decimal.Decimal: str,
    datetime.datetime: datetime.datetime.isoformat,
    datetime.date: datetime.date.isoformat,
    datetime.time: datetime.time.isoformat,
    datetime.timedelta: _timedelta,
    uuid.UUID: str,
    bytes: _binary,
    bytearray: _binary,
    memoryview: _binary,
}


def value_to_json(value: Any) -> Any:
    """Decimals as strings (no float rounding), date/time as ISO 8601, binary marked and base64;
    arrays and JSON documents (PostgreSQL) item by item."""
    if isinstance(value, _PASSTHROUGH):
        return value
    convert = _CONVERTERS.get(type(value))
    if convert is not None:
        return convert(value)
    if isinstance(value, (list, tuple)):
        return [value_to_json(item) for item in value]
    if isinstance(value, dict):
        return {str(key): value_to_json(item) for key, item in value.items()}
    for kind, convert in _CONVERTERS.items():
        if isinstance(value, kind):
            return convert(value)
    return str(value)


def rows_to_json_text(rows: list[Sequence[Any]], *, in_place: bool = False) -> tuple[list[list[Any]], str]:
    """JSON-safe rows as lists, and their JSON encoding (kept: a large result's response reuses it).
    in_place: `rows` is the caller's to give up: each row becomes a list in it, one at a time (a result is not
    held twice).

    Most results hold only values JSON takes as they are (ints, finite floats, text, NULL, and
    arrays of those): the C encoder proves that for the whole result in the pass that measures it,
    and a row is then just listed. A value it refuses (a Decimal, a date, bytes, NaN) sends the
    result through value_to_json, which agrees with it on everything it accepts.
    """
    try:
        text = json_text(rows, allow_nan=False, default=_not_native)
        if not in_place:
            return [list(row) for row in rows], text
        for i, row in enumerate(rows):
            if type(row) is not list:
                rows[i] = list(row)
        return rows, text
    except (TypeError, ValueError):
        converted = [[value_to_json(value) for value in row] for row in rows]
        return converted, json_text(converted)


def json_text(value: Any, **options: Any) -> str:
    """JSON as the client reads it: characters, not ASCII escapes (MAX_RESULT_CHARS counts characters)."""
    return json.dumps(value, ensure_ascii=False, **options)


def _not_native(value: Any) -> Any:
    raise TypeError(type(value).__name__)


def cell_text(value: Any) -> str:
    """One value of the text copy: NULL, text as it is, anything else as JSON; tabs and line breaks become spaces."""
    if value is None:
        return "NULL"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text.replace("\t", " ").replace("\n", " ")


def row_text(row: list[Any]) -> str:
    """A row of the text copy. Numbers inline, as json.dumps would write them: this runs once per value."""
    return "\t".join([repr(v) if type(v) is int or (type(v) is float and math.isfinite(v)) else cell_text(v)
                      for v in row])


def rows_text(rows: list[list[Any]], rows_json: str | None = None) -> str:
    """row_text of every row, joined by line breaks; rows_json, when given, is the JSON text of `rows`.

    A result of numbers only is read off its JSON: json.dumps writes an int or a (finite) float exactly as
    row_text does (repr), so only the separators change. A few scans of the JSON prove "numbers only": no
    string (no quote), no null, true, false or object, and no nested array.
    """
    if rows_json is not None and rows and '"' not in rows_json and "null" not in rows_json \
            and "true" not in rows_json and "false" not in rows_json and "{" not in rows_json \
            and rows_json.count("[") == len(rows) + 1 and rows_json.startswith("[["):
        return rows_json[2:-2].replace("], [", "\n").replace(", ", "\t")
    return "\n".join([row_text(row) for row in rows])


@dataclass
class RowsEncoded:
    """Rows kept only as their JSON and their text copy, written batch by batch (sqltools.query), so that a large
    result is never held as Python objects at once. `json_parts` joined by ", " inside brackets is the rows'
    JSON, exactly as json_text writes the whole list; `text_parts`, concatenated, is the text copy's rows
    after the column line (each row begins with a line break), already escaped as the inside of a JSON string.
    The sizes are in characters, what MAX_RESULT_CHARS counts."""

    json_parts: list[str] = field(default_factory=list)
    text_parts: list[str] = field(default_factory=list)
    count: int = 0
    json_chars: int = 2  # the brackets
    text_chars: int = 0

    def add(self, rows: list[list[Any]], rows_json: str, budget: int) -> bool:
        """A batch: JSON-safe rows as lists and their JSON text (rows_to_json_text), within `budget` characters
        for both forms of all rows; False when the batch's trailing rows were left out to stay within it."""
        if not rows:
            return True
        inner, text = rows_json[1:-1], json_text("\n" + rows_text(rows, rows_json))[1:-1]
        grown = len(inner) + (2 if self.json_parts else 0) + len(text)
        if self.json_chars + self.text_chars + grown > budget:
            room, keep = budget - self.json_chars - self.text_chars, 0
            for row in rows:  # each row's weight counts its separator: the leading rows that stay surely fit
                room -= len(json_text(row)) + 2 + len(json_text("\n" + row_text(row))) - 2
                if room < 0:
                    break
                keep += 1
            if keep:
                self.add(rows[:keep], json_text(rows[:keep]), budget)
            return False
        self.json_chars += grown - len(text)
        self.text_chars += len(text)
        self.json_parts.append(inner)
        self.text_parts.append(text)
        self.count += len(rows)
        return True

    def json(self) -> str:
        return "[" + ", ".join(self.json_parts) + "]"

    def rows(self) -> list[list[Any]]:
        """The rows again (what json.loads reads back is what was written: JSON-safe values only)."""
        return json.loads(self.json())
