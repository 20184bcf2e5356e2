"""Drive a server with real mcp SDK clients and measure one scenario: latency, throughput, CPU, RSS."""

from __future__ import annotations

import contextlib
import itertools
import json
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from bench.servers import Target, proc_sample, reset_peak

# /mcp in the handshake era, /mcp in the stateless 2026-07-28 era, and the legacy HTTP+SSE transport.
TRANSPORTS = ("mcp-legacy", "mcp-2026", "sse")
CALL_TIMEOUT_S = 60


@dataclass(frozen=True)
class Call:
    """One scenario's tool call; with `numbered`, "{n}" in its arguments counts the calls (no two alike)."""

    name: str
    tool: str
    arguments: dict[str, Any]
    numbered: bool = False

    def arguments_for(self, n: int) -> dict[str, Any]:
        if not self.numbered:
            return self.arguments
        return {k: v.format(n=n) if isinstance(v, str) else v for k, v in self.arguments.items()}


@dataclass
class Measurement:
    server: str
    scenario: str
    transport: str
    clients: int
    calls: int
    errors: int
    p50_ms: float
    p95_ms: float
    calls_per_s: float
    cpu_ms_per_call: float
    rss_start_mb: float
    peak_rss_mb: float
    growth_mb: float  # peak during the scenario minus RSS at its start
    result_bytes: int  # JSON of one CallToolResult, as the client received it

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def median_of(cls, rounds: list[Measurement]) -> Measurement:
        """One scenario measured in several rounds: the median of each rate, the worst peak, every call and error."""
        if len(rounds) == 1:
            return rounds[0]
        median = lambda key: round(statistics.median(getattr(m, key) for m in rounds), 3)  # noqa: E731
        first = rounds[0]
        return cls(server=first.server, scenario=first.scenario, transport=first.transport, clients=first.clients,
                   calls=sum(m.calls for m in rounds), errors=sum(m.errors for m in rounds),
                   p50_ms=median("p50_ms"), p95_ms=median("p95_ms"), calls_per_s=median("calls_per_s"),
                   cpu_ms_per_call=median("cpu_ms_per_call"), rss_start_mb=first.rss_start_mb,
                   peak_rss_mb=max(m.peak_rss_mb for m in rounds), growth_mb=max(m.growth_mb for m in rounds),
                   result_bytes=first.result_bytes)


@contextlib.asynccontextmanager
async def mcp_client(target: Target, transport: str):
    """An initialised SDK client for one transport, closed on exit."""
    if transport == "sse":
        async with Client(sse_client(f"{target.base_url}/sse", headers=target.headers, timeout=30,
                                     sse_read_timeout=600), mode="legacy") as client:
            yield client
        return
    mode = "legacy" if transport == "mcp-legacy" else "2026-07-28"
    async with (httpx2.AsyncClient(headers=target.headers, timeout=600) as http,
                Client(streamable_http_client(f"{target.base_url}/mcp", http_client=http), mode=mode) as client):
        yield client


async def measure(target: Target, transport: str, call: Call, *, clients: int, calls: int, warmup: int = 3,
                  warmup_call: Call | None = None) -> Measurement:
    """`calls` tool calls spread over `clients` concurrent clients, each sending one call at a time.

    Each client first makes `warmup_call` (default: the scenario's call) once, the first one `warmup` times,
    so imports, connections and caches are in place; a small warm-up call leaves the peak RSS to the scenario.
    """
    per_client = max(1, calls // clients)
    latencies: list[float] = []
    numbers = itertools.count(1)
    errors = 0
    result_bytes = 0

    async def one(client: Client, made: Call = call) -> None:
        nonlocal errors, result_bytes
        arguments = made.arguments_for(next(numbers))
        started = time.perf_counter()
        result = await client.call_tool(made.tool, arguments)
        latencies.append(time.perf_counter() - started)
        if result.is_error:
            errors += 1
        if made is call and not result_bytes:
            result_bytes = len(json.dumps(result.model_dump(mode="json", by_alias=True, exclude_none=True)))

    async def loop(client: Client) -> None:
        nonlocal errors
        for _ in range(per_client):
            try:
                with anyio.fail_after(CALL_TIMEOUT_S):
                    await one(client)
            except Exception:  # a lost answer: count it, and stop this client (its session may be broken)
                errors += 1
                return

    async with contextlib.AsyncExitStack() as stack:
        opened = [await stack.enter_async_context(mcp_client(target, transport)) for _ in range(clients)]
        for client in opened + opened[:1] * (warmup - 1):
            await one(client, warmup_call or call)
        latencies.clear()
        errors = 0
        reset_peak(target.pid)
        before, started = proc_sample(target.pid), time.perf_counter()
        async with anyio.create_task_group() as group:
            for client in opened:
                group.start_soon(loop, client)
        wall = time.perf_counter() - started
        await anyio.sleep(0.1)  # work the calls left behind (the product's audit writer) counts for them
        after = proc_sample(target.pid)
    done, latencies = len(latencies) or 1, latencies or [float("nan")]
    return Measurement(
        server=target.name, scenario=call.name, transport=transport, clients=clients, calls=done, errors=errors,
        p50_ms=_ms(statistics.median(latencies)), p95_ms=_ms(_percentile(latencies, 95)),
        calls_per_s=round(done / wall, 1), cpu_ms_per_call=_ms((after.cpu_s - before.cpu_s) / done),
        rss_start_mb=_mb(before.rss_kb), peak_rss_mb=_mb(after.hwm_kb), growth_mb=_mb(after.hwm_kb - before.rss_kb),
        result_bytes=result_bytes,
    )


def _percentile(values: list[float], pct: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _mb(kb: int) -> float:
    return round(kb / 1024, 1)
