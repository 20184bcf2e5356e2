"""Run one read in a fresh process and print its outcome and peak memory (test_resources runs it).

A fresh process, so its peak resident size (ru_maxrss) measures this read alone.
Usage: python -m tests.sqltools.memory_probe ALIAS DATABASE_NAME SQL
"""

from __future__ import annotations

import json
import os
import resource
import sys


def main(alias: str, name: str, sql: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    import django

    django.setup()
    from django.db import connections

    from sqltools.query import query_read
    from sqltools.vendors import vendor_for

    connection = connections[alias]
    connection.settings_dict["NAME"] = name
    try:
        result = query_read(connection=connection, vendor=vendor_for(connection), sql=sql, params=None, max_rows=1000)
        outcome = f"rows={result.row_count} truncated={result.truncated_reason}"
    except Exception as error:  # the outcome is what the test asserts on
        outcome = f"{type(error).__name__}: {error}"
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"outcome": outcome, "peak_mb": round(peak_mb)}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
