"""The physical floor: the raw query in this process, sqlite3 fetch plus json.dumps, no MCP and no HTTP."""

from __future__ import annotations

import json
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any


def raw_query(*, db: Path, sql: str, calls: int) -> dict[str, Any]:
    """Median wall time and mean CPU time of `calls` runs, and the size of the JSON produced."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        walls, size = [], 0
        cpu_started = time.thread_time()
        for _ in range(calls):
            started = time.perf_counter()
            cursor = connection.execute(sql)
            columns = [d[0] for d in cursor.description]
            size = len(json.dumps({"columns": columns, "rows": cursor.fetchall()}))
            walls.append(time.perf_counter() - started)
        cpu = (time.thread_time() - cpu_started) / calls
    finally:
        connection.close()
    return {"server": "raw", "sql": sql, "calls": calls, "p50_ms": round(statistics.median(walls) * 1000, 3),
            "cpu_ms_per_call": round(cpu * 1000, 3), "json_bytes": size}
