"""The bearer gate in front of every MCP endpoint (an ASGI middleware).

401 with a WWW-Authenticate challenge that points at the endpoint's RFC 9728 metadata when
the token is missing or invalid or was issued for another resource; 403 insufficient_scope
when a write needs sql:write. It reads POST bodies once (bounded) so that it can see which
JSON-RPC methods a request carries: the development flags ALLOW_UNAUTH_METHODS and
ALLOW_UNAUTH_TOOLS_CALL admit some methods without a token, and a write needs a scope.
"""

from __future__ import annotations

import json
import logging

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from starlette.authentication import AuthCredentials
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_bridge.conf import bridge_settings
from mcp_bridge.errors import BodyTooLarge, GateRefusal, ScopeInsufficient, TokenInvalid, TokenMissing, refusal_send
from mcp_bridge.verifier import DjangoTokenVerifier
from oauth_ext.discovery import request_base_url
from oauth_ext.scopes import SCOPE_READ, SCOPE_WRITE
from sqltools.conf import sqltools_settings
from sqltools.errors import SqlToolError
from sqltools.policy import write_needed
from telemetry.metrics import auth_refusal

logger = logging.getLogger(__name__)

_HANDSHAKE_METHODS = {"initialize", "ping", "tools/list"}


class BearerGate:
    """Wrap one MCP endpoint; `resource_path` is the protected resource it belongs to (/mcp, /sse...)."""

    def __init__(self, app: ASGIApp, *, resource_path: str, verifier: DjangoTokenVerifier) -> None:
        self.app, self.resource_path, self.verifier = app, resource_path, verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        try:
            scope, receive = await self._admitted(scope, receive)
        except GateRefusal as refusal:
            auth_refusal(refusal.status_code, refusal.reason)
            return await refusal_send(send, refusal, scope=scope, resource_path=self.resource_path)
        await self.app(scope, receive, send)

    async def _admitted(self, scope: Scope, receive: Receive) -> tuple[Scope, Receive]:
        """The scope with its user, and a receive that replays the body; or the GateRefusal to answer."""
        body, receive = await buffer_body(scope, receive)
        if body is _TOO_LARGE:
            raise BodyTooLarge("The request body is too large.")
        token = _bearer(Headers(scope=scope))
        access = await self.verifier.verify_for(token, base=request_base_url(scope)) if token else None
        if access is None:
            if self._anonymous_allowed(scope, body):
                return scope, receive
            raise (TokenInvalid if token else TokenMissing)("A valid bearer token is required.")
        needed = _scope_needed(body)
        if not needed <= set(access.scopes):
            raise ScopeInsufficient(f"This request needs the scope {' '.join(sorted(needed))}.",
                                    scope_needed=" ".join(sorted(needed)))
        return {**scope, "user": AuthenticatedUser(access), "auth": AuthCredentials(access.scopes)}, receive

    def _anonymous_allowed(self, scope: Scope, body: bytes) -> bool:
        conf = bridge_settings()
        if not (conf.ALLOW_UNAUTH_METHODS or conf.ALLOW_UNAUTH_TOOLS_CALL):
            return False
        if scope["method"] == "GET":  # an SSE stream carries only what its POSTs were allowed to ask
            return True
        calls = _rpc_calls(body) if scope["method"] == "POST" else []
        if not calls:
            return False
        allowed = set(_HANDSHAKE_METHODS) if conf.ALLOW_UNAUTH_METHODS else set()
        if conf.ALLOW_UNAUTH_TOOLS_CALL:
            allowed |= _HANDSHAKE_METHODS | {"tools/call"}
        return all(method in allowed or method.startswith("notifications/") for method, _ in calls)


def _scope_needed(body: bytes) -> set[str]:
    """sql:read, and sql:write for an execute_sql that writes (read-only mode: the body is not even parsed)."""
    needed = {SCOPE_READ}
    if sqltools_settings().READ_ONLY:
        return needed
    for method, params in _rpc_calls(body):
        if method == "tools/call" and params.get("name") == "execute_sql":
            query = (params.get("arguments") or {}).get("query")
            try:
                if isinstance(query, str) and write_needed(sql=query):
                    needed.add(SCOPE_WRITE)
            except SqlToolError:
                pass  # the tool itself will refuse it, with the reason
    return needed


def _bearer(headers: Headers) -> str | None:
    value = headers.get("authorization", "")
    kind, _, token = value.partition(" ")
    return token.strip() or None if kind.lower() == "bearer" else None


_TOO_LARGE = b"\x00too-large"


async def buffer_body(scope: Scope, receive: Receive) -> tuple[bytes, Receive]:
    """Read a POST body once (up to MAX_BODY_BYTES) and hand the app a receive that replays it."""
    if scope["method"] != "POST":
        return b"", receive
    limit = bridge_settings().MAX_BODY_BYTES
    declared = Headers(scope=scope).get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return _TOO_LARGE, receive
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return _TOO_LARGE, receive
        chunks.append(chunk)
        more = message.get("more_body", False)
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _rpc_calls(body: bytes) -> list[tuple[str, dict]]:
    """(method, params) of each JSON-RPC message in a body; [] when it is not JSON-RPC."""
    try:
        payload = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        return []
    messages = payload if isinstance(payload, list) else [payload]
    calls = []
    for message in messages:
        if isinstance(message, dict) and isinstance(message.get("method"), str):
            params = message.get("params")
            calls.append((message["method"], params if isinstance(params, dict) else {}))
    return calls
