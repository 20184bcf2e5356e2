"""The server's Prometheus metrics: defined once, here, and recorded where the work already happens.

Label values are bounded: tool names, outcomes, reasons and events are the server's own constants,
never SQL text, user or client names. Recording costs a dictionary lookup and one increment per
value: `labelled` keeps each label combination's child, so no call builds one again.

Several uvicorn workers: prometheus-client's multiprocess mode, on when PROMETHEUS_MULTIPROC_DIR is
set before the first import (the launchers, docker/entrypoint.sh and scripts/run.sh, give each run an
empty directory); every worker writes its own files there and /metrics sums them (docs/deploy.md).
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # a command run beside the server (manage.py) may come first
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_ROWS = (0, 1, 10, 100, 1000, 10_000, 100_000)

TOOL_CALLS = Counter("mcp_tool_calls_total", "Tool calls by tool and outcome.", ["tool", "outcome"])
TOOL_SECONDS = Histogram("mcp_tool_call_duration_seconds", "Time from a tool call's start to its result.",
                         ["tool"], buckets=_LATENCY)
DB_SECONDS = Histogram("mcp_tool_db_duration_seconds", "Time a tool call spent running statements on the target.",
                       ["tool"], buckets=_LATENCY)
ROWS = Histogram("mcp_tool_rows_returned", "Rows a tool call returned.", ["tool"], buckets=_ROWS)
TRUNCATED = Counter("mcp_tool_results_truncated_total", "Results cut by a cap, by tool and cap.", ["tool", "reason"])
OAUTH_EVENTS = Counter("mcp_oauth_events_total", "OAuth activity: registrations, consents, tokens.", ["event"])
AUTH_REFUSALS = Counter("mcp_http_auth_refusals_total", "Requests the bearer gate refused, by status and reason.",
                        ["status", "reason"])
TOKEN_CHECKS = Counter("mcp_token_checks_total", "Bearer token checks: answered from memory, or looked up.",
                       ["result"])
SSE_STREAMS = Gauge("mcp_sse_streams_open", "Legacy SSE streams open.", multiprocess_mode="livesum")
THREADS_BUSY = Gauge("mcp_worker_threads_busy", "Worker threads running a tool call or a token lookup.",
                     multiprocess_mode="livesum")
THREADS = Gauge("mcp_worker_threads", "Worker threads (MCP_WORKER_THREADS per process).", multiprocess_mode="livesum")
AUDIT_QUEUE = Gauge("mcp_audit_queue_depth", "Audit entries waiting for the writer thread.",
                    multiprocess_mode="livesum")
AUDIT_FAILURES = Counter("mcp_audit_write_failures_total", "Audit entries that could not be written (logged in full).")
TARGET_UP = Gauge("mcp_target_up", "Whether the SQL target answered its last probe or call (1) or not (0).",
                  multiprocess_mode="livemostrecent")

# The outcomes a tool call can have (sqltools.errors' codes, grouped for an operator).
OUTCOMES = {"ok": "ok", "refused": "refused_guard", "refused_policy": "refused_policy",
            "invalid_argument": "invalid", "not_found": "invalid",
            "timeout": "timeout", "query_error": "db_error", "unavailable": "unavailable", "error": "error"}
OAUTH_EVENT_NAMES = ("registered", "registration_refused", "authorization_granted", "authorization_denied",
                     "token_issued", "token_refreshed", "token_revoked")
_children: dict[tuple[Any, ...], Any] = {}


def labelled(metric: Any, *values: str) -> Any:
    """The child of `metric` for these label values, built once per process."""
    key = (metric, *values)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*values)
    return child


for _event in OAUTH_EVENT_NAMES:  # every series exists from the start, so a rate over it is never empty
    labelled(OAUTH_EVENTS, _event)
for _result in ("remembered", "looked_up"):
    labelled(TOKEN_CHECKS, _result)
for _status, _reason in (("401", "missing_token"), ("401", "invalid_token"),
                         ("403", "insufficient_scope"), ("413", "body_too_large")):
    labelled(AUTH_REFUSALS, _status, _reason)


def tool_call_record(*, tool: str, outcome: str, seconds: float, db_seconds: float, rows: int | None,
                     truncated: str | None) -> None:
    """One tool call, as the tool runner saw it (mcp_bridge.tools)."""
    labelled(TOOL_CALLS, tool, OUTCOMES.get(outcome, outcome)).inc()
    labelled(TOOL_SECONDS, tool).observe(seconds)
    if db_seconds:
        labelled(DB_SECONDS, tool).observe(db_seconds)
    if rows is not None:
        labelled(ROWS, tool).observe(rows)
    if truncated:
        labelled(TRUNCATED, tool, truncated).inc()
    if outcome in ("ok", "unavailable"):
        TARGET_UP.set(outcome == "ok")


def oauth_event(event: str, count: int = 1) -> None:
    """One of OAUTH_EVENT_NAMES happened (`count` times)."""
    if count:
        labelled(OAUTH_EVENTS, event).inc(count)


def auth_refusal(status: int, reason: str) -> None:
    labelled(AUTH_REFUSALS, str(status), reason).inc()


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def metrics_exposition() -> tuple[bytes, str]:
    """The Prometheus text of every worker (multiprocess mode) or of this process, and its content type."""
    registry = REGISTRY
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def worker_exit() -> None:
    """A worker stops: its live gauges (streams, busy threads, queue) no longer count."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(os.getpid())
