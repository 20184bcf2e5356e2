"""Hundreds of legacy SSE streams open on one worker, then a tool call through some of them."""

from __future__ import annotations

import contextlib
import resource
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx2

from bench.servers import Target, proc_sample

_INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}},
}
_INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
_CALL = {
    "jsonrpc": "2.0",
    "id": 2,
    "method": "tools/call",
    "params": {"name": "execute_sql", "arguments": {"query": "SELECT 1"}},
}


def raise_open_files(needed: int) -> None:
    """Each stream is a socket here and one in the server (which inherits this limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(
            resource.RLIMIT_NOFILE, (min(needed, hard) if hard != resource.RLIM_INFINITY else needed, hard)
        )


async def sse_streams(target: Target, *, streams: int, probes: int = 3) -> dict[str, Any]:
    """Open `streams` GET /sse streams, read the server's RSS, then call execute_sql through `probes` of them."""
    base = proc_sample(target.pid)
    limits = httpx2.Limits(max_connections=streams + 10, max_keepalive_connections=20)
    async with (
        httpx2.AsyncClient(headers=target.headers, timeout=60, limits=limits) as http,
        contextlib.AsyncExitStack() as stack,
    ):
        opened: list[tuple[AsyncIterator[httpx2.ServerSentEvent], str]] = []
        started = time.perf_counter()
        for _ in range(streams):
            response = await stack.enter_async_context(http.stream("GET", f"{target.base_url}/sse"))
            response.raise_for_status()
            events = aiter(httpx2.EventSource(response))
            first = await anext(events)
            assert first.event == "endpoint", first.event
            opened.append((events, first.data))
        open_s = time.perf_counter() - started
        held = proc_sample(target.pid)
        picks = sorted({round(i * (streams - 1) / max(1, probes - 1)) for i in range(probes)})
        answers = [await _tool_call(http, target.base_url, *opened[i]) for i in picks]
    return {"server": target.name, "streams": streams, "open_s": round(open_s, 2),
            "rss_before_mb": round(base.rss_kb / 1024, 1), "rss_mb": round(held.rss_kb / 1024, 1),
            "peak_rss_mb": round(proc_sample(target.pid).hwm_kb / 1024, 1),
            "kb_per_stream": round((held.rss_kb - base.rss_kb) / streams, 1),
            "probed_streams": picks, "calls_ok": sum(ok for ok, _ in answers),
            "call_ms": [ms for _, ms in answers]}


async def _tool_call(http: httpx2.AsyncClient, base_url: str, events: AsyncIterator[httpx2.ServerSentEvent],
                     endpoint: str) -> tuple[bool, float]:
    """initialize, initialized, tools/call on one stream's session; the answers arrive on that stream."""
    started = time.perf_counter()
    for message in (_INIT, _INITIALIZED, _CALL):
        posted = await http.post(f"{base_url}{endpoint}", json=message)
        posted.raise_for_status()
        if "id" in message:
            async for event in events:
                reply = event.json() if event.event == "message" else {}
                if reply.get("id") == message["id"]:
                    break
            else:
                raise ConnectionError("the SSE stream ended")
    ok = (
        "result" in reply
        and not reply["result"].get("isError")
        and reply["result"]["structuredContent"]["rows"] == [[1]]
    )
    return ok, round((time.perf_counter() - started) * 1000, 1)
