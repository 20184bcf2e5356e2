"""Throughput: many clients sending one recorded tool call as fast as the server answers.

The SDK's client spends more CPU per call than the server, and on a two-core machine it would be the
bottleneck of any multi-worker measurement. So the SDK client makes the call once (a real
`tools/call` on /mcp, 2026-07-28 stateless era, with whatever headers it sends); its HTTP request is
recorded and then replayed byte for byte by lean asyncio clients, each one call at a time, on a new
connection every 20 calls (so the kernel shares the clients between the workers again and again; a few
long keep-alive connections stay wherever they first landed). Every answer is checked (status 200, a result
that is not an error). The server's
CPU is its whole process tree (uvicorn's supervisor and workers), the client's is this process's.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench.drive import Call
from bench.servers import Target, tree_cpu


async def recorded_request(target: Target, call: Call) -> bytes:
    """The raw HTTP/1.1 request the SDK client sends for `call` (2026-07-28 era)."""
    seen: list[httpx2.Request] = []

    async def hook(request: httpx2.Request) -> None:
        seen.append(request)

    async with (httpx2.AsyncClient(headers=target.headers, timeout=60, event_hooks={"request": [hook]}) as http,
                Client(streamable_http_client(f"{target.base_url}/mcp", http_client=http),
                       mode="2026-07-28") as client):
        result = await client.call_tool(call.tool, call.arguments)
        assert not result.is_error, result
    request = next(r for r in reversed(seen) if r.method == "POST" and b'"tools/call"' in r.content)
    url = urlsplit(str(request.url))
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in ("content-length", "connection")]
    lines = [f"POST {url.path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers),
             f"content-length: {len(request.content)}", "connection: keep-alive", "", ""]
    return "\r\n".join(lines).encode("latin-1") + request.content


async def _client(host: str, port: int, request: bytes, calls: int, failures: list[str], per_connection: int) -> None:
    """`calls` calls one after the other, a new connection every `per_connection` calls."""
    done = 0
    while done < calls:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for _ in range(min(per_connection, calls - done)):
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = head[9:12]
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length)
                if status != b"200" or b'"isError":true' in body or b'"result"' not in body:
                    failures.append(f"{status!r} {body[:200]!r}")
                done += 1
        finally:
            writer.close()


def _machine_busy_s() -> float:
    """CPU seconds all cores spent not idle since boot (/proc/stat): with the server's and the client's, what
    other jobs on the machine took during a round."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


async def throughput(target: Target, call: Call, *, clients: int, calls: int,
                     per_connection: int = 20) -> dict[str, Any]:
    """A new connection every `per_connection` calls: with long keep-alive connections the kernel's first accepts
    decide how the clients are shared between workers, and one worker may hold most of them for a whole round
    (measured: 0.93x to 2.2x for the same code); a connection per call (nginx's way, no upstream keep-alive
    pool) costs the client 0.25 ms a call, a quarter of the server's, which two cores cannot spare."""
    request = await recorded_request(target, call)
    url = urlsplit(target.base_url)
    failures: list[str] = []
    await asyncio.gather(*(_client(url.hostname, url.port, request, 5, failures, 5) for _ in range(clients)))  # warm
    per_client = max(1, calls // clients)
    machine_before = _machine_busy_s()
    server_before, client_before, started = tree_cpu(target.pid), time.process_time(), time.perf_counter()
    await asyncio.gather(*(_client(url.hostname, url.port, request, per_client, failures, per_connection)
                           for _ in range(clients)))
    wall = time.perf_counter() - started
    client_cpu, server_cpu = time.process_time() - client_before, tree_cpu(target.pid) - server_before
    others = _machine_busy_s() - machine_before - client_cpu - server_cpu
    done = per_client * clients
    return {"server": target.name, "scenario": call.name, "clients": clients, "calls": done, "errors": len(failures),
            "first_error": failures[0] if failures else None, "calls_per_s": round(done / wall, 1),
            "server_cpu_ms_per_call": round(server_cpu / done * 1000, 3),
            "client_cpu_ms_per_call": round(client_cpu / done * 1000, 3), "wall_s": round(wall, 2),
            "other_jobs_cores": round(max(0.0, others) / wall, 2), "cores": os.cpu_count()}


def throughput_json(result: dict[str, Any]) -> str:
    return json.dumps(result)
