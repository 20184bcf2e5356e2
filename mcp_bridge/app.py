"""The one ASGI app uvicorn serves: MCP transports by path, everything else to Django.

It owns the lifespan (Django's ASGI handler has none) and starts the Streamable HTTP session
managers there. Streamable HTTP runs stateless, so any worker can answer any request; the
legacy HTTP+SSE transport keeps a per-process stream whose messages the deployment must route
to the same process (docs/deploy.md).
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import uuid
from dataclasses import dataclass
from typing import Any, AsyncIterator
from urllib.parse import parse_qs

import anyio
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from mcp.server.mcpserver import MCPServer
from mcp.server.sse import SseServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.datastructures import Headers
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_bridge import token_cache
from mcp_bridge.bulk import Splicing
from mcp_bridge.checks import check_bridge
from mcp_bridge.conf import bridge_settings
from mcp_bridge.errors import challenge_headers
from mcp_bridge.gate import BearerGate, buffer_body
from mcp_bridge.sse_relay import SseRelay
from mcp_bridge.tools import chatgpt_server, servers_describe, sql_server
from mcp_bridge.verifier import DjangoTokenVerifier
from oauth_ext.discovery import MCP_ENDPOINTS, public_url
from sqltools.audit import audit_writer
from sqltools.conf import sqltools_settings
from sqltools.demo import demo_is_embedded
from sqltools.errors import TargetUnavailable
from sqltools.login import LoginReport, login_report_remembered
from sqltools.query import target
from sqltools.target import TargetInfo, target_info
from telemetry import metrics, tracing

logger = logging.getLogger(__name__)


@dataclass
class Transports:
    """One MCP server behind its two transports, mounted under a prefix ('' or '/chatgpt')."""

    prefix: str
    server: MCPServer
    streamable: StreamableHTTPSessionManager
    sse: SseServerTransport

    relay: SseRelay | None = None
    # Streamable HTTP sessions, for handshake-era clients that declare URL elicitation (MCP_ELICITATION_SESSIONS):
    # they give a tool call a channel for elicitation/create (mcp_bridge.approvals, path 2).
    sessions: StreamableHTTPSessionManager | None = None

    async def handle_streamable(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Stateless for everyone, except a client whose session this worker holds, or that opens one by
        declaring URL elicitation in its initialize. A session's request that reaches another worker is
        served stateless there (the SDK ignores the header), as if the client had no session: only
        elicitation is then unavailable to it, and an approval falls back to the link in words."""
        if self.sessions is not None:
            session_id = Headers(scope=scope).get("mcp-session-id")
            if session_id and session_id in self.sessions._server_instances:  # the SDK keeps no public lookup
                return await self.sessions.handle_request(scope, receive, send)
            if not session_id and scope["method"] == "POST":
                body, receive = await buffer_body(scope, receive)  # replayed by the gate: no second network read
                if _declares_url_elicitation(body):
                    return await self.sessions.handle_request(scope, receive, send)
        await self.streamable.handle_request(scope, receive, send)

    async def handle_sse(self, scope: Scope, receive: Receive, send: Send) -> None:
        lowlevel = self.server._lowlevel_server
        sessions: list[str] = []
        if self.relay is not None:
            async def claim(session_id: str) -> None:
                sessions.append(session_id)
                await self.relay.claim(session_id)
            send = self.relay.watch_stream(send, claim)
        metrics.SSE_STREAMS.inc()
        try:
            async with self.sse.connect_sse(scope, receive, send) as (read_stream, write_stream):
                await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())
        finally:
            metrics.SSE_STREAMS.dec()
            for session_id in sessions:
                await self.relay.release(session_id)

    async def handle_message(self, scope: Scope, receive: Receive, send: Send) -> None:
        """POST /messages/: here if this worker holds the stream, else relayed to the worker that does."""
        session_id = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("session_id", [""])[0]
        if self.relay is not None and session_id and not self._holds(session_id):
            body, receive = await buffer_body(scope, receive)  # replayed by the gate: no second network read
            if await self.relay.forward(self.prefix, session_id, scope, body):
                await send(
                    {"type": "http.response.start", "status": 202, "headers": [(b"content-type", b"text/plain")]}
                )
                await send({"type": "http.response.body", "body": b"Accepted"})
                return
        await self.sse.handle_post_message(scope, receive, send)

    def _holds(self, session_id: str) -> bool:
        try:
            return uuid.UUID(hex=session_id) in self.sse._read_stream_writers  # the SDK keeps no public lookup
        except ValueError:
            return True  # malformed: let the SDK answer 400


def _declares_url_elicitation(body: bytes) -> bool:
    """A handshake-era initialize whose client declares URL-mode elicitation. A body that does not hold the two
    words is not parsed (every tools/call passes here); one that spells them with JSON escapes is then served
    stateless, which only leaves elicitation out (an approval falls back to the link in words)."""
    if b'"initialize"' not in body or b'"elicitation"' not in body:
        return False
    try:
        message = json.loads(body)
    except ValueError:
        return False
    params = message.get("params") if isinstance(message, dict) and message.get("method") == "initialize" else None
    capabilities = params.get("capabilities") if isinstance(params, dict) else None
    elicitation = capabilities.get("elicitation") if isinstance(capabilities, dict) else None
    return isinstance(elicitation, dict) and "url" in elicitation and \
        params.get("protocolVersion") in HANDSHAKE_PROTOCOL_VERSIONS


def transport_security() -> TransportSecuritySettings:
    """Host and Origin checks against DNS rebinding, from ALLOWED_HOSTS and PUBLIC_URL."""
    hosts = [h for h in settings.ALLOWED_HOSTS if h]
    if "*" in hosts:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    hosts = [h.lstrip(".") for h in hosts]
    allowed_hosts = hosts + [f"{h}:*" for h in hosts]
    origins = [f"{scheme}://{h}" for h in hosts for scheme in ("https", "http")]
    origins += [f"{o}:*" for o in origins]
    if public_url():
        origins.append(public_url())
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=allowed_hosts,
        allowed_origins=origins + list(bridge_settings().ALLOWED_ORIGINS),
    )


def _transports(
    prefix: str, server: MCPServer, security: TransportSecuritySettings, relay: SseRelay | None, *, sessions: bool
) -> Transports:
    limit = bridge_settings().MAX_BODY_BYTES

    def manager(**mode: Any) -> StreamableHTTPSessionManager:
        return StreamableHTTPSessionManager(app=server._lowlevel_server, security_settings=security,
                                            max_request_body_size=limit, **mode)

    streamable = manager(json_response=True, stateless=True)
    sse = SseServerTransport(f"{prefix}/messages/", security_settings=security, max_request_body_size=limit)
    stateful = manager(json_response=False, stateless=False, session_idle_timeout=600) if sessions else None
    return Transports(prefix, server, streamable, sse, relay, stateful)


def _prefix(path: str) -> str:
    """An endpoint's prefix: "" for /mcp and /sse, "/chatgpt" for /chatgpt/mcp and /chatgpt/sse."""
    return path.rpartition("/")[0]


class McpApplication:
    """Starlette's Router over the MCP endpoints (MCP_ENDPOINTS), Django for every other path, and the lifespan."""

    def __init__(self, django_app: ASGIApp) -> None:
        security = transport_security()
        verifier = DjangoTokenVerifier()
        self.relay = SseRelay(settings.REDIS_URL) if settings.REDIS_URL else None
        info = target_info(connect=False)  # the version is asked at startup (startup_announce)
        servers = {"sql": sql_server(info), "chatgpt": chatgpt_server(info)}
        # One set of transports per endpoint prefix ("", "/chatgpt"); sessions only for the server with execute_sql.
        sessions = bridge_settings().ELICITATION_SESSIONS
        self.transports = {
            _prefix(endpoint.path): _transports(_prefix(endpoint.path), servers[endpoint.server], security,
                                                self.relay, sessions=sessions and endpoint.server == "sql")
            for endpoint in MCP_ENDPOINTS
            if endpoint.transport == "streamable-http"
        }
        routes: list[Route] = []
        for endpoint in MCP_ENDPOINTS:
            t = self.transports[_prefix(endpoint.path)]
            if endpoint.transport == "streamable-http":
                app: ASGIApp = BearerGate(t.handle_streamable, resource_path=endpoint.path, verifier=verifier)
            else:
                app = _SseEndpoint(
                    t, BearerGate(self._sse_or_streamable(t), resource_path=endpoint.path, verifier=verifier)
                )
                routes += _routes(
                    f"{t.prefix}/messages", BearerGate(t.handle_message, resource_path=endpoint.path, verifier=verifier)
                )
            routes += _routes(endpoint.path, app)
        self.router = Router(routes, redirect_slashes=False, default=django_app, lifespan=self._lifespan)
        self.mcp_paths = frozenset(route.path.rstrip("/") for route in routes)  # span names: these, else "django"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and tracing.enabled():
            path = scope["path"].rstrip("/")
            return await _traced(self.router, path if path in self.mcp_paths else "django", scope, receive, send)
        await self.router(scope, receive, send)

    @staticmethod
    def _sse_or_streamable(t: Transports) -> ASGIApp:
        async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["method"] == "GET":
                await t.handle_sse(scope, receive, send)
            else:  # POST (and DELETE) speak Streamable HTTP, so a connector given /sse works either way
                await t.handle_streamable(scope, receive, send)
        return endpoint

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: object) -> AsyncIterator[None]:
        """Starlette's lifespan protocol around _running; a failed startup is logged, then uvicorn stops."""
        async with contextlib.AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(self._running())
            except Exception:
                logger.exception("MCP bridge failed to start")
                raise
            yield

    @contextlib.asynccontextmanager
    async def _running(self) -> AsyncIterator[None]:
        _check_messages_log()
        info = await anyio.to_thread.run_sync(startup_announce)  # refuses to start only if the login must be read-only
        transports = list(self.transports.values())
        for t in transports:
            servers_describe(t.server, info)  # now with the version the target told
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(metrics.worker_exit)  # this worker's live gauges stop counting
            if tracing.configured() and not tracing.enabled():
                tracing.tracing_start()
                stack.callback(tracing.tracing_stop)
            stack.enter_context(audit_writer())  # tool calls hand their audit entries to a writer thread
            for t in transports:
                await stack.enter_async_context(t.streamable.run())
                if t.sessions is not None:
                    await stack.enter_async_context(t.sessions.run())
            await stack.enter_async_context(token_cache.watching())  # revocations pushed to this process
            _freeze_startup_objects()
            if self.relay is None:
                yield
                return
            async def deliver(prefix: str, scope: Scope, receive: Receive, send: Send) -> None:
                await self.transports[prefix].sse.handle_post_message(scope, receive, send)

            async with anyio.create_task_group() as group:
                group.start_soon(self.relay.run, deliver)
                yield
                group.cancel_scope.cancel()


def _routes(path: str, app: ASGIApp) -> list[Route]:
    """The path with and without a trailing slash, served alike (no redirect: a POST must not bounce); large
    results' JSON spliced into the responses (mcp_bridge.bulk)."""
    app = Splicing(app)
    return [Route(path, app), Route(f"{path}/", app)]


async def _traced(app: ASGIApp, route: str, scope: Scope, receive: Receive, send: Send) -> None:
    """`app` in a span for the HTTP request, a child of the caller's trace if it sent a traceparent."""
    headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope.get("headers", ())}
    attributes = {"http.request.method": scope["method"], "http.route": route}
    with tracing.span(f"{scope['method']} {route}", attributes, kind="SERVER",
                      context=tracing.context_from_headers(headers)) as span:
        async def status_seen(message: Message) -> None:
            if message["type"] == "http.response.start":
                span.set_attribute("http.response.status_code", message["status"])
            await send(message)

        await app(scope, receive, status_seen)


class _SseEndpoint:
    """HEAD /sse is the capability check: 200, the auth challenge, no body. GET and POST go through the gate."""

    def __init__(self, transports: Transports, gated: ASGIApp) -> None:
        self.resource_path, self.gated = f"{transports.prefix}/sse", gated

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "HEAD":
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"text/event-stream"), *challenge_headers(scope, self.resource_path)]})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.gated(scope, receive, send)


def _freeze_startup_objects() -> None:
    """Move everything built at startup (Django, the SDK, pydantic, sqlglot) out of the cycle collector's reach.

    A large result allocates tens of thousands of objects, which sets off collections that each walk
    every live object; with the startup heap frozen they walk only the request's own. Measured on
    10,000 rows: the call's CPU time nearly halved (docs/benchmarks.md). Frozen objects are still
    freed by reference counting; only cycles among them would stay, and startup objects live as
    long as the process.
    """
    gc.collect()
    gc.freeze()


def _check_messages_log() -> None:
    """The bridge's system checks (mcp_bridge/checks.py), logged: uvicorn runs no `manage.py check`."""
    for message in check_bridge():
        logger.log(logging.ERROR if message.is_serious() else logging.WARNING, "%s (%s)", message.msg, message.id)


def startup_announce() -> TargetInfo:
    """One log block: the target (vendor, version, database, host; never the login), read-only mode, whether
    the login can write, transports and URLs. WARNING when something needs the operator, else INFO.

    The server starts whatever the target does: unreachable, a refused login, a timeout, TLS or bad settings
    are logged here with their category, /health answers 503 "degraded", and tools say the same sentence.
    Only REQUIRE_READ_ONLY_LOGIN with a login that can write stops it (ImproperlyConfigured).
    """
    conf = sqltools_settings()
    report: LoginReport | None = None
    try:
        target(conf.ALIAS)  # connects, or TargetUnavailable with its category
        report, problem = login_report_remembered(conf.ALIAS), None
        info = target_info(alias=conf.ALIAS)
        metrics.TARGET_UP.set(1)
    except TargetUnavailable as error:  # its details are already logged under the reference it names
        problem, info = str(error), target_info(alias=conf.ALIAS, connect=False)
        metrics.TARGET_UP.set(0)
    except Exception as error:  # a diagnosis must not keep the server from starting
        problem, info = f"not checked ({type(error).__name__}: {error})", target_info(alias=conf.ALIAS, connect=False)
    finally:
        connections[conf.ALIAS].close()  # opened in a startup thread that will not be used again
    reasons = "; ".join(report.reasons) if report is not None else ""
    if report is not None and report.read_only is False and conf.REQUIRE_READ_ONLY_LOGIN:
        raise ImproperlyConfigured(f"REQUIRE_READ_ONLY_LOGIN is on and the SQL target login can write ({reasons}).")
    lines = [
        f"Serving SQL target: {info.label}, {info.place}" + ("" if info.version else " (version unknown)"),
        f"  status: {problem or 'answers'}",
        f"  read-only mode: {'on' if conf.READ_ONLY else 'off'}; login: {_login_words(report, reasons)}",
        *_address_lines(),
    ]
    # The embedded demo file is writable by design and holds nothing of value: no alarm for it.
    writable_login = (
        conf.READ_ONLY and report is not None and report.read_only is False and not demo_is_embedded(alias=conf.ALIAS)
    )
    alarming = problem is not None or report is None or report.read_only is None or writable_login
    if writable_login:
        lines.append(
            "  !!! READ_ONLY_MODE is on but the login CAN WRITE: the statement guard and read-only "
            "transactions are the only barrier. Use a read-only login (docs/read_only.md). !!!"
        )
    logger.log(logging.WARNING if alarming else logging.INFO, "\n".join(lines))
    return info


def _login_words(report: LoginReport | None, reasons: str) -> str:
    if report is None or report.read_only is None:
        return (
            "not checked (the target did not answer)"
            if report is None
            else f"could not tell whether it can write ({reasons})"
        )
    admin = " (an administrator)" if report.privileged else ""
    return f"read-only{admin}" if report.read_only else f"CAN WRITE{admin} ({reasons})"


def _address_lines() -> list[str]:
    """Transports and URLs: PUBLIC_URL, else the HOST and PORT that `make run` and Compose pass to uvicorn."""
    base = public_url()
    if not base and os.environ.get("PORT"):
        host = os.environ.get("HOST", "127.0.0.1").replace("0.0.0.0", "127.0.0.1")
        base = f"http://{host}:{os.environ['PORT']}"
    return [f"  transports: Streamable HTTP {base}/mcp and {base}/chatgpt/mcp; legacy SSE {base}/sse and "
            f"{base}/chatgpt/sse",
            f"  admin: {base}/admin/   health: {base}/health" + ("" if base else "   (paths on this server's address)")]


def mcp_application(django_app: ASGIApp) -> ASGIApp:
    return McpApplication(django_app)
