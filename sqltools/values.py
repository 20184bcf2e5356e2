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
    """Decimals as strings (no float rounding), date/time as ISO 8601, binary marked and base64."""
    if isinstance(value, _PASSTHROUGH):
        return value
    convert = _CONVERTERS.get(type(value))
    if convert is not None:
        return convert(value)
    for kind, convert in _CONVERTERS.items():
        if isinstance(value, kind):
            return convert(value)
    return str(value)


_NATIVE = frozenset(_PASSTHROUGH)


def row_to_json(row: tuple | list) -> list[Any]:
    # Inline fast paths for what most rows hold: this runs once per value of every result.
    return [v if type(v) in _NATIVE or (type(v) is float and math.isfinite(v)) else value_to_json(v) for v in row]


def rows_to_json(rows: list[Sequence[Any]]) -> tuple[list[list[Any]], int]:
    """JSON-safe rows as lists, and the length of their JSON encoding.

    Most results hold only values JSON takes as they are (ints, finite floats, text, NULL): the C
    encoder proves that for the whole result in the pass that measures it, and a row is then just
    listed. A value it refuses (a Decimal, a date, bytes, NaN) sends the result through row_to_json.
    """
    try:
        size = len(json.dumps(rows, allow_nan=False, default=_not_native))
        return [list(row) for row in rows], size
    except (TypeError, ValueError):
        converted = [row_to_json(row) for row in rows]
        return converted, len(json.dumps(converted))


def _not_native(value: Any) -> Any:
    raise TypeError(type(value).__name__)
