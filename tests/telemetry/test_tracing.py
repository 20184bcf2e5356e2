"""Traces, captured with the OpenTelemetry SDK's in-memory exporter: one tool call is one trace, from the HTTP
request through the MCP method (the mcp SDK's own span) and the tool call to each statement, with the audit id."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time

import httpx2
import pytest
from django.core.asgi import get_asgi_application

from mcp_bridge.app import McpApplication
from mcpsite.liveserver import ROOT, LiveServer
from sqltools.models import AuditEntry
from telemetry import tracing

pytestmark = [pytest.mark.anyio, pytest.mark.django_db(transaction=True, databases="__all__")]


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="module")
def exporter():
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.tracing_start(provider)
    yield exporter
    tracing.tracing_stop()


async def test_one_tool_call_is_one_trace_down_to_its_statements(exporter, settings):
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "ALLOW_UNAUTH_TOOLS_CALL": True}
    app = McpApplication(get_asgi_application())
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"  # the client's own trace
    async with app._running():
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://localhost") as client:
            exporter.clear()
            response = await client.post("/mcp", headers={
                "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25",
                "traceparent": caller}, json={"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
                    "name": "execute_sql", "arguments": {"query": "SELECT 42 AS answer"}}})
    assert response.json()["result"]["structuredContent"]["rows"] == [[42]]
    spans = {span.name: span for span in exporter.get_finished_spans()}
    http, method, tool, statement = (spans[name] for name in ("POST /mcp", "tools/call execute_sql", "tool execute_sql",
                                                              "db SELECT"))
    assert {span.context.trace_id for span in spans.values()} == {0x0AF7651916CD43DD8448EB211C80319C}
    assert http.parent.span_id == 0xB7AD6B7169203331 and http.attributes["http.response.status_code"] == 200
    assert method.parent.span_id == http.context.span_id
    assert tool.parent.span_id == method.context.span_id
    assert statement.parent.span_id == tool.context.span_id
    audit_id = tool.attributes["mcp.audit_id"]
    assert statement.attributes["mcp.audit_id"] == audit_id and statement.attributes["db.system"] == "sqlite"
    assert "SELECT 42" not in str(dict(statement.attributes))  # no SQL text in a span
    entry = await AuditEntry.objects.aget(audit_id=audit_id)
    assert entry.tool == "execute_sql" and entry.sql == "SELECT 42 AS answer"


def test_without_an_otlp_endpoint_the_sdk_is_never_imported():
    """Startup cost: a server without tracing loads neither the OpenTelemetry SDK's tracing nor an exporter.

    (redis-py 8 imports opentelemetry.sdk.metrics by itself whenever the SDK is installed: its own choice.)"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    code = ("import django, sys; django.setup(); import mcpsite.asgi; print(sorted(m for m in sys.modules "
            "if m.startswith(('opentelemetry.sdk.trace', 'opentelemetry.exporter'))))")
    done = subprocess.run([sys.executable, "-c", code], env={**env, "DJANGO_SETTINGS_MODULE": "mcpsite.settings"},
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


class _Collector(http.server.BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint on loopback: keeps each export request's spans."""

    received: list = []

    def do_POST(self) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource in request.resource_spans:
            service = {a.key: a.value.string_value for a in resource.resource.attributes}.get("service.name")
            for scope in resource.scope_spans:
                for span in scope.spans:
                    attributes = {a.key: a.value.string_value for a in span.attributes}
                    self.received.append((self.path, service, span.name, attributes))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_a_server_with_an_otlp_endpoint_exports_its_spans_there(tmp_path):
    """The standard variable is all it takes: a real uvicorn exports the call's spans over OTLP/HTTP."""
    collector = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    server = LiveServer(tmp_path, env={"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.server_port}",
                                       "OTEL_BSP_SCHEDULE_DELAY": "100"}).start()
    try:
        headers = {"Authorization": f"Bearer {server.token()}", "Accept": "application/json, text/event-stream",
                   "MCP-Protocol-Version": "2025-11-25"}
        call = {"name": "execute_sql", "arguments": {"query": "SELECT 7 AS n"}}
        response = httpx2.post(f"{server.base_url}/mcp", headers=headers, timeout=30,
                               json={"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call})
        assert response.json()["result"]["structuredContent"]["rows"] == [[7]]
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not any(name == "db SELECT" for _, _, name, _ in _Collector.received):
            time.sleep(0.1)
    finally:
        server.stop()
        collector.shutdown()
    names = {name for _, _, name, _ in _Collector.received}
    assert {"POST /mcp", "tools/call execute_sql", "tool execute_sql", "db SELECT"} <= names, names
    assert {path for path, *_ in _Collector.received} == {"/v1/traces"}
    assert {service for _, service, *_ in _Collector.received} == {"mcp-sql-server"}
    (tool,) = [attributes for _, _, name, attributes in _Collector.received if name == "tool execute_sql"]
    assert len(tool["mcp.audit_id"]) == 16 and "OpenTelemetry traces are exported over OTLP" in server.log()
