"""Turn driver values into JSON-safe, faithful values."""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import math
import uuid
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


def rows_to_json(rows: list[Sequence[Any]]) -> tuple[list[list[Any]], int]:
    """JSON-safe rows as lists, and the length in characters of their JSON encoding (rows_to_json_text)."""
    rows, text = rows_to_json_text(rows)
    return rows, len(text)


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
