"""A real nginx on the repository's configuration in front of a real uvicorn."""

from __future__ import annotations

import asyncio
import http.client
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from mcpsite.liveserver import LiveServer, free_port, process_stop, server_wait
from tests.deploy.deploy_harness import (
    REPO,
    SECURITY_HEADERS,
    app_environment,
    insecure_tls_context,
    start_app,
)

pytestmark = pytest.mark.timeout(90)

SSE_EVENTS = 4
SSE_INTERVAL = 0.5


async def sse_test_app(scope, receive, send) -> None:
    """A stand-in for the MCP SSE endpoint: at /sse, one event every 0.5 s, each carrying the
    time it was sent. It sends no X-Accel-Buffering header: nginx's configuration alone must stream."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["path"] != "/sse":
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for number in range(SSE_EVENTS):
        event = f"id: {number}\nevent: tick\ndata: {time.time()!r}\n\n".encode()
        await send({"type": "http.response.body", "body": event, "more_body": True})
        await asyncio.sleep(SSE_INTERVAL)
    await send({"type": "http.response.body", "body": b""})


@pytest.fixture
def sse_server() -> Iterator[int]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(sse_test_app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        server_wait(port, timeout=10)
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def read_events(response: http.client.HTTPResponse) -> list[tuple[float, float]]:
    """(sent, received) times of each event, read line by line as the stream delivers them."""
    events = []
    while len(events) < SSE_EVENTS:
        line = response.readline()
        assert line, f"the stream ended after {len(events)} events"
        if line.startswith(b"data: "):
            events.append((float(line[6:]), time.time()))
    return events


def test_sse_events_pass_through_nginx_one_by_one(run_nginx, sse_server):
    site = run_nginx(sse_server)
    connection = site.https()
    connection.request("GET", "/sse", headers={"Host": "mcp.test", "Accept": "text/event-stream"})
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/event-stream"
    events = read_events(response)
    connection.close()

    delays = [received - sent for sent, received in events]
    # Buffered, the first event would wait for the end of the stream (2 s here).
    assert delays[0] < 0.5, f"the first event took {delays[0]:.3f}s to get through nginx"
    assert max(delays) < 0.5, f"events were held back: {[round(d, 3) for d in delays]}"
    arrivals = [received for _, received in events]
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:])]
    assert min(gaps) > SSE_INTERVAL * 0.6, f"events arrived together, not one by one: {gaps}"


def test_health_over_tls_with_security_headers(run_nginx, app_server):
    site = run_nginx(app_server.port)
    connection = site.https()
    connection.request("GET", "/health", headers={"Host": "localhost", "Accept": "application/json"})
    response = connection.getresponse()
    body = json.loads(response.read())

    assert response.status == 200 and body["status"] == "healthy"  # the app's own answer, through nginx
    assert response.getheader("Content-Type") == "application/json"
    for header in SECURITY_HEADERS:
        assert len(response.headers.get_all(header) or []) == 1, f"{header}: {response.headers.get_all(header)}"
    assert response.getheader("X-Frame-Options") == "DENY"
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("Strict-Transport-Security").startswith("max-age=31536000")
    csp = response.getheader("Content-Security-Policy")
    assert "frame-ancestors 'none'" in csp
    assert "form-action 'self' https:" in csp


def test_nginx_passes_the_clients_host_so_the_app_refuses_foreign_ones(run_nginx, app_server):
    """nginx answers any Host (server_name _); Django's ALLOWED_HOSTS is what refuses a foreign one."""
    site = run_nginx(app_server.port)
    connection = site.https()
    connection.request("GET", "/health", headers={"Host": "evil.example"})
    response = connection.getresponse()
    response.read()
    assert response.status == 400


def test_a_client_cannot_choose_its_address_through_nginx(run_nginx, tmp_path_factory):
    """X-Forwarded-For written by the client never reaches the app: the registration rate limit (and
    METRICS_ALLOWED_IPS) see the address nginx saw, whatever the client claims to be."""
    port, var_dir = free_port(), tmp_path_factory.mktemp("ratelimited")
    subprocess.run([str(REPO / "docker" / "entrypoint.sh"), "migrate"], env=app_environment(var_dir, port),
                   cwd=REPO, check=True, capture_output=True)
    process, _ = start_app(var_dir, port, REGISTRATION_RATE_LIMIT="2/h")
    try:
        site = run_nginx(port)
        statuses = []
        for number in range(3):
            connection = site.https()
            connection.request("POST", "/register", headers={
                "Content-Type": "application/json", "X-Forwarded-For": f"203.0.113.{number + 1}"},
                body=json.dumps({"client_name": f"spoof {number}", "token_endpoint_auth_method": "none",
                                 "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"]}))
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
    finally:
        process_stop(process)
    assert statuses == [201, 201, 429]


def test_container_healthcheck_accepts_the_running_app(app_server):
    result = subprocess.run(
        [sys.executable, str(REPO / "docker" / "healthcheck.py")],
        env=app_server.env, capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok: ")


def test_container_healthcheck_fails_when_nothing_answers(app_server):
    env = {**app_server.env, "PORT": str(free_port())}
    result = subprocess.run(
        [sys.executable, str(REPO / "docker" / "healthcheck.py")], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 1
    assert result.stdout.startswith("unhealthy: ")


def streamable_http_tool_call(
    base_url: str, *, token: str, tool: str, arguments: dict, host: str = "localhost"
) -> dict:
    """Initialize an MCP session over Streamable HTTP at base_url + "/mcp" and call one tool.

    Returns the JSON-RPC result of tools/call. Accepts both response shapes the transport allows
    (application/json, or text/event-stream carrying the JSON-RPC message).
    """
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=30, context=insecure_tls_context())
    headers = {
        "Host": host,
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
    }

    def rpc(message: dict) -> tuple[http.client.HTTPResponse, dict | None]:
        connection.request("POST", "/mcp", body=json.dumps(message), headers=headers)
        response = connection.getresponse()
        raw = response.read()
        if not raw:
            return response, None
        if response.getheader("Content-Type", "").startswith("text/event-stream"):
            data = [line[6:] for line in raw.splitlines() if line.startswith(b"data: ")]
            return response, json.loads(data[-1])
        return response, json.loads(raw)

    response, initialized = rpc({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "deploy-test", "version": "1"}},
    })
    assert response.status == 200, initialized
    if session := response.getheader("Mcp-Session-Id"):
        headers["Mcp-Session-Id"] = session
    headers["MCP-Protocol-Version"] = initialized["result"]["protocolVersion"]
    rpc({"jsonrpc": "2.0", "method": "notifications/initialized"})
    response, called = rpc({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                            "params": {"name": tool, "arguments": arguments}})
    assert response.status == 200, called
    return called["result"]


def test_streamable_http_tool_call_through_the_proxy(run_nginx, tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("proxied")).start()  # migrated database and demo target
    try:
        site = run_nginx(live.port)
        result = streamable_http_tool_call(f"https://127.0.0.1:{site.https_port}", token=live.token(),
                                           tool="list_tables", arguments={})
    finally:
        live.stop()
    assert not result.get("isError"), result
