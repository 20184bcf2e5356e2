"""OpenTelemetry traces, off unless OTEL_EXPORTER_OTLP_ENDPOINT (or its _TRACES_ variant) is set.

With it set, each worker builds a TracerProvider at startup that exports over OTLP (HTTP/protobuf),
configured by the standard OTEL_* variables (OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_HEADERS,
OTEL_TRACES_SAMPLER…); the SDK and exporter are imported only then, so a server without tracing
loads neither. Spans: the HTTP request (mcp_bridge.app), the MCP method (the mcp SDK's own
OpenTelemetryMiddleware, which uses the global provider), the tool call with its audit id
(mcp_bridge.tools) and each statement on the target (sqltools.query). Off, `span` costs one check.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager, nullcontext
from typing import Any, ContextManager, Iterator, Mapping

logger = logging.getLogger(__name__)

_tracer: Any = None
_provider: Any = None


def configured() -> bool:
    """Whether the environment asks for traces (the standard variables; OTEL_SDK_DISABLED=true wins)."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def enabled() -> bool:
    return _tracer is not None


def tracing_start(provider: Any = None) -> None:
    """Start tracing in this process: with `provider` (tests: the SDK's in-memory exporter), else OTLP as configured."""
    global _tracer, _provider
    from opentelemetry import trace

    if provider is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "")
        resource = Resource.create({} if named else {"service.name": "mcp-sql-server"})  # the variables win
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        logger.info("OpenTelemetry traces are exported over OTLP to %s", endpoint)
    trace.set_tracer_provider(provider)  # global: the mcp SDK's own spans (the MCP method) use it
    _provider = provider
    _tracer = provider.get_tracer("mcp-sql-server")


def tracing_stop() -> None:
    """Send what is buffered and stop (the lifespan's end)."""
    global _tracer, _provider
    if _provider is not None and hasattr(_provider, "shutdown"):
        _provider.shutdown()
    _tracer = _provider = None


def span(name: str, attributes: Mapping[str, Any] | None = None, *, kind: str = "INTERNAL",
         context: Any = None) -> ContextManager[Any]:
    """A span under the current one (or `context`), or nothing when tracing is off."""
    if _tracer is None:
        return _NOTHING
    from opentelemetry.trace import SpanKind

    return _tracer.start_as_current_span(name, attributes=dict(attributes or {}), kind=getattr(SpanKind, kind),
                                         context=context)


def context_current() -> Any:
    """The current trace context, to hand to a worker thread (None when tracing is off)."""
    if _tracer is None:
        return None
    from opentelemetry import context

    return context.get_current()


def context_attached(ctx: Any) -> ContextManager[None]:
    """Make `ctx` (from context_current, maybe in another thread) the current trace context within the block."""
    return _NOTHING if ctx is None else _attached(ctx)


_NOTHING = nullcontext()  # reusable: it holds no state


@contextmanager
def _attached(ctx: Any) -> Iterator[None]:
    from opentelemetry import context

    token = context.attach(ctx)
    try:
        yield
    finally:
        context.detach(token)


def context_from_headers(headers: Mapping[str, str]) -> Any:
    """The caller's trace context from W3C traceparent/tracestate headers, if it sent one."""
    from opentelemetry.propagate import extract

    return extract(headers)


def traceparent() -> str:
    """The W3C traceparent of the current span ('' when tracing is off), for the statement tag."""
    if _tracer is None:
        return ""
    from opentelemetry.propagate import inject

    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier.get("traceparent", "")
