"""/health: what the server serves, and whether the SQL target answers. Never a credential.

An unreachable or misconfigured target is not an outage of the server: it keeps serving, /health
answers 503 "degraded" with the category (unreachable, login_failed, timeout, tls, misconfigured),
and the log gets one line when the state changes, not one per probe.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connections
from django.http import HttpRequest, JsonResponse

from sqltools.conf import sqltools_settings
from sqltools.diagnostics import TIMEOUT, connection_error_category, target_unavailable
from sqltools.login import login_report_cached, login_report_remembered
from sqltools.policy import catalog_cursor
from sqltools.target import database_label
from telemetry.metrics import TARGET_UP

logger = logging.getLogger(__name__)

_TARGET_CHECK_SECONDS = 5.0
_CACHE_SECONDS = 2.0
_last: tuple[float, dict[str, Any]] | None = None


def target_probe(alias: str) -> dict[str, Any]:
    connection = connections[alias]
    started = time.perf_counter()
    try:
        with catalog_cursor(connection) as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as error:
        connection.close()
        return {"reachable": False, "error": connection_error_category(error), "cause": error}
    return {"reachable": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


async def _probe_cached(alias: str) -> dict[str, Any]:
    global _last
    now = time.monotonic()
    if _last is not None and now - _last[0] < _CACHE_SECONDS:
        return _last[1]
    try:
        result = await asyncio.wait_for(
            sync_to_async(target_probe, thread_sensitive=False)(alias), _TARGET_CHECK_SECONDS
        )
    except asyncio.TimeoutError:
        result = {"reachable": False, "error": TIMEOUT}
    _state_log(alias, result)
    TARGET_UP.set(result["reachable"])
    result.pop("cause", None)
    _last = (time.monotonic(), result)  # fresh from when the answer came: a slow probe is not stale at once
    return result


_state: str | None = None  # "healthy" or the category of the last probe, in this process


def _state_log(alias: str, result: dict[str, Any]) -> None:
    """One line when the target's state changes (the details under a log reference), none while it stays."""
    global _state
    state = "healthy" if result["reachable"] else result["error"]
    if state == _state:
        return
    previous, _state = _state, state
    if result["reachable"]:
        if previous is not None:
            logger.warning("SQL target %r answers again; /health is healthy.", alias)
    elif result.get("cause") is not None:
        error = target_unavailable(connection=connections[alias], error=result["cause"])  # logs the details
        logger.warning("SQL target %r is %s; /health says degraded (503): %s", alias, state, error)
    else:
        logger.warning("SQL target %r is %s: no answer within %gs; /health says degraded (503).", alias, state,
                       _TARGET_CHECK_SECONDS)


async def _login_read_only(alias: str, reachable: bool) -> bool | None:
    """Whether the login can only read: asked once per process and remembered (sqltools.login), None if unknown."""
    report = login_report_cached(alias)
    if report is None and reachable:
        try:
            report = await asyncio.wait_for(sync_to_async(login_report_remembered, thread_sensitive=False)(alias),
                                            _TARGET_CHECK_SECONDS)
        except Exception:  # unknown is an answer here (null); the probe above already tells what is wrong
            return None
    return report.read_only if report is not None else None


async def health(request: HttpRequest) -> JsonResponse:
    conf = sqltools_settings()
    from mcp_types.version import LATEST_HANDSHAKE_VERSION, SUPPORTED_PROTOCOL_VERSIONS  # the SDK's models: not
    # loaded by every management command that imports the URLs

    target = await _probe_cached(conf.ALIAS)
    login_read_only = await _login_read_only(conf.ALIAS, target["reachable"])
    body = {
        "status": "healthy" if target["reachable"] else "degraded",
        "transport": "streamable-http+sse",
        "transports": ["streamable-http", "sse"],
        "oauth": "enabled",
        "database": database_label(conf.ALIAS),
        "database_vendor": connections[conf.ALIAS].vendor,
        "target": target,
        "mcp_version": LATEST_HANDSHAKE_VERSION,
        "mcp_versions": list(SUPPORTED_PROTOCOL_VERSIONS),
        "read_only": conf.READ_ONLY,
        "login_read_only": login_read_only,
    }
    response = JsonResponse(body, status=200 if target["reachable"] else 503)
    response._has_been_logged = True  # not Django's ERROR line per 5xx probe: _state_log says it once
    return response
