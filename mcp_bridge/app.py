"""The one ASGI app uvicorn serves: MCP transports by path, everything else to Django.

It owns the lifespan (Django's ASGI handler has none) and starts the Streamable HTTP session
managers there. Streamable HTTP runs stateless, so any worker can answer any request; the
legacy HTTP+SSE transport keeps a per-process stream whose messages the deployment must route
to the same process (docs/deploy.md).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import uuid
from dataclasses import dataclass
from typing import AsyncIterator
from urllib.parse import parse_qs

import anyio

from django.conf import settings
from mcp.server.mcpserver import MCPServer
from mcp.server.sse import SseServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_bridge.conf import bridge_settings
from mcp_bridge.gate import BearerGate, buffer_body, challenge_headers
from mcp_bridge.sse_relay import SseRelay
from mcp_bridge.tokens import DjangoTokenVerifier
from mcp_bridge.tools import chatgpt_server, sql_server
from sqltools.audit import audit_writer
from sqltools.login import login_announce

logger = logging.getLogger(__name__)


@dataclass
class Transports:
    """One MCP server behind its two transports, mounted under a prefix ('' or '/chatgpt')."""

    prefix: str
    server: MCPServer
    streamable: StreamableHTTPSessionManager
    sse: SseServerTransport

    relay: SseRelay | None = None

    async def handle_sse(self, scope: Scope, receive: Receive, send: Send) -> None:
        lowlevel = self.server._lowlevel_server
        sessions: list[str] = []
        if self.relay is not None:
            async def claim(session_id: str) -> None:
                sessions.append(session_id)
                await self.relay.claim(session_id)
            send = self.relay.watch_stream(send, claim)
        try:
            async with self.sse.connect_sse(scope, receive, send) as (read_stream, write_stream):
                await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())
        finally:
            for session_id in sessions:
                await self.relay.release(session_id)

    async def handle_message(self, scope: Scope, receive: Receive, send: Send) -> None:
        """POST /messages/: here if this worker holds the stream, else relayed to the worker that does."""
        session_id = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("session_id", [""])[0]
        if self.relay is not None and session_id and not self._holds(session_id):
            body, receive = await buffer_body(scope, receive)  # replayed by the gate: no second network read
            if await self.relay.forward(self.prefix, session_id, scope, body):
                await send({"type": "http.response.start", "status": 202, "headers": [(b"content-type", b"text/plain")]})
                await send({"type": "http.response.body", "body": b"Accepted"})
                return
        await self.sse.handle_post_message(scope, receive, send)

    def _holds(self, session_id: str) -> bool:
        try:
            return uuid.UUID(hex=session_id) in self.sse._read_stream_writers  # the SDK keeps no public lookup
        except ValueError:
            return True  # malformed: let the SDK answer 400


def transport_security() -> TransportSecuritySettings:
    """Host and Origin checks against DNS rebinding, from ALLOWED_HOSTS and PUBLIC_URL."""
    hosts = [h for h in settings.ALLOWED_HOSTS if h]
    if "*" in hosts:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    hosts = [h.lstrip(".") for h in hosts]
    allowed_hosts = hosts + [f"{h}:*" for h in hosts]
    origins = [f"{scheme}://{h}" for h in hosts for scheme in ("https", "http")]
    origins += [f"{o}:*" for o in origins]
    if settings.PUBLIC_URL:
        origins.append(settings.PUBLIC_URL)
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=allowed_hosts,
                                     allowed_origins=origins + list(bridge_settings().ALLOWED_ORIGINS))


def _transports(prefix: str, server: MCPServer, security: TransportSecuritySettings, relay: SseRelay | None) -> Transports:
    limit = bridge_settings().MAX_BODY_BYTES
    streamable = StreamableHTTPSessionManager(app=server._lowlevel_server, json_response=True, stateless=True,
                                              security_settings=security, max_request_body_size=limit)
    sse = SseServerTransport(f"{prefix}/messages/", security_settings=security, max_request_body_size=limit)
    return Transports(prefix, server, streamable, sse, relay)


class McpApplication:
    def __init__(self, django_app: ASGIApp) -> None:
        self.django_app = django_app
        security = transport_security()
        verifier = DjangoTokenVerifier()
        self.relay = SseRelay(settings.REDIS_URL) if settings.REDIS_URL else None
        self.transports = [_transports("", sql_server(), security, self.relay),
                           _transports("/chatgpt", chatgpt_server(), security, self.relay)]
        self.routes: dict[str, ASGIApp] = {}
        for t in self.transports:
            sse_resource = f"{t.prefix}/sse"
            self.routes[f"{t.prefix}/mcp"] = BearerGate(t.streamable.handle_request, resource_path=f"{t.prefix}/mcp", verifier=verifier)
            self.routes[sse_resource] = _SseEndpoint(t, BearerGate(self._sse_or_streamable(t), resource_path=sse_resource, verifier=verifier))
            self.routes[f"{t.prefix}/messages"] = BearerGate(t.handle_message, resource_path=sse_resource, verifier=verifier)

    @staticmethod
    def _sse_or_streamable(t: Transports) -> ASGIApp:
        async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["method"] == "GET":
                await t.handle_sse(scope, receive, send)
            else:  # POST (and DELETE) speak Streamable HTTP, so a connector given /sse works either way
                await t.streamable.handle_request(scope, receive, send)
        return endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["type"] == "http":
            app = self.routes.get(scope["path"].rstrip("/") or "/")
            if app is not None:
                return await app(scope, receive, send)
        await self.django_app(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        try:
            async with self._running():
                await send({"type": "lifespan.startup.complete"})
                message = await receive()
                assert message["type"] == "lifespan.shutdown"
        except Exception as error:
            logger.exception("MCP bridge failed to start")
            await send({"type": "lifespan.startup.failed", "message": str(error)})
            return
        await send({"type": "lifespan.shutdown.complete"})

    @contextlib.asynccontextmanager
    async def _running(self) -> AsyncIterator[None]:
        _warn_about_development_flags()
        await anyio.to_thread.run_sync(login_announce)  # one line on the login; refuses to start if it must be read-only
        async with contextlib.AsyncExitStack() as stack:
            stack.enter_context(audit_writer())  # tool calls hand their audit entries to a writer thread
            for t in self.transports:
                await stack.enter_async_context(t.streamable.run())
            _freeze_startup_objects()
            if self.relay is None:
                yield
                return
            by_prefix = {t.prefix: t for t in self.transports}

            async def deliver(prefix: str, scope: Scope, receive: Receive, send: Send) -> None:
                await by_prefix[prefix].sse.handle_post_message(scope, receive, send)

            async with anyio.create_task_group() as group:
                group.start_soon(self.relay.run, deliver)
                yield
                group.cancel_scope.cancel()


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


def _warn_about_development_flags() -> None:
    if not settings.REDIS_URL and int(os.environ.get("WEB_CONCURRENCY", "1") or 1) > 1:
        logger.warning("Several workers without REDIS_URL: legacy SSE messages can reach a worker without their stream.")
    conf = bridge_settings()
    if conf.ALLOW_UNAUTH_METHODS or conf.ALLOW_UNAUTH_TOOLS_CALL:
        logger.warning(
            "!!! INSECURE: %s is on: MCP requests are accepted WITHOUT a token. Development only; never in production. !!!",
            " and ".join(n for n, on in (("ALLOW_UNAUTH_METHODS", conf.ALLOW_UNAUTH_METHODS),
                                         ("ALLOW_UNAUTH_TOOLS_CALL", conf.ALLOW_UNAUTH_TOOLS_CALL)) if on))


def mcp_application(django_app: ASGIApp) -> ASGIApp:
    return McpApplication(django_app)
