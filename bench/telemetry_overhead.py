"""python -m bench.telemetry_overhead [MULTIPROC_DIR]: the CPU cost per tool call of what observability adds.

Runs, per call, what a `SELECT 1` execute_sql now does beyond the work itself: the audit id, the statement
tag (rendered, proven on the dialect, put before the session statements of a PostgreSQL read), the statement
and tool-call timing, the trace hooks with tracing off, the busy-thread gauge, the token-check counter and
the tool-call metrics. Given a directory, prometheus-client runs in multiprocess mode there (as several
uvicorn workers do). Prints the best of five rounds in CPU microseconds (process time: a shared machine's
load does not count).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time


def main() -> None:
    if len(sys.argv) > 1:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(dir=sys.argv[1])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mcpsite.settings")
    import django

    django.setup()
    from mcp_bridge.tools import _Seen
    from sqltools.audit import AuditRecord
    from sqltools.policy import Checked, statement_tag
    from sqltools.readonly import Kind
    from sqltools.tags import call_tag_scope, statement_timed
    from sqltools.vendors import VENDORS
    from telemetry import metrics, tracing

    vendor, checked = VENDORS["postgresql"], Checked("SELECT 1", Kind.READ, "SELECT")
    remembered = metrics.labelled(metrics.TOKEN_CHECKS, "remembered")

    def one() -> None:
        seen, started, parent = _Seen(), time.perf_counter(), tracing.context_current()
        remembered.inc()
        metrics.THREADS_BUSY.inc()
        with tracing.context_attached(parent):
            seen.record = AuditRecord(audit_id=os.urandom(8).hex())
            with tracing.span("tool execute_sql"), call_tag_scope(
                    client="Claude", user_id=7, username="alice", tool="execute_sql", audit_id=seen.record.audit_id,
                    traceparent=tracing.traceparent()) as seen.call:
                tag = statement_tag("postgres")
                with statement_timed(system=vendor.name, operation=checked.verb):
                    [tag + text for text in ("BEGIN READ ONLY", "SELECT set_config", "DECLARE", "FETCH", "ROLLBACK")]
        metrics.THREADS_BUSY.dec()
        seen.record.rows = 1
        seen.count("execute_sql", time.perf_counter() - started)

    calls, rounds = 20_000, []
    for _ in range(2_000):
        one()
    for _ in range(5):
        began = time.process_time()
        for _ in range(calls):
            one()
        rounds.append((time.process_time() - began) / calls * 1e6)
    mode = "multiprocess" if len(sys.argv) > 1 else "single-process"
    print(f"observability per tool call ({mode} metrics): {min(rounds):.1f} µs CPU (best of 5 × {calls:,})")


if __name__ == "__main__":
    main()
