"""Legacy SSE across worker processes: a message POSTed to a worker that does not hold its
stream is relayed, through Redis, to the worker that does.

Each worker subscribes to its own channel. When a stream opens, the worker records itself as
the owner of the session id in Redis; a POST for a session held elsewhere is published to
the owner's channel with the caller's verified identity, and the owner hands it to the SDK's
own message handler there, which checks that identity against the stream's creator.
Streamable HTTP needs none of this: it runs stateless.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import uuid
from typing import Any, Awaitable, Callable

import anyio
import redis.asyncio as aioredis
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.types import Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

_SESSION_IN_ENDPOINT = re.compile(rb"session_id=([0-9a-f]{32})")
_FORWARDED_HEADERS = {b"host", b"origin", b"content-type", b"x-forwarded-host", b"x-forwarded-proto"}
_OWNER_TTL_SECONDS = 24 * 3600

Deliver = Callable[[str, Scope, Receive, Send], Awaitable[None]]


class SseRelay:
    def __init__(self, redis_url: str) -> None:
        self.redis = aioredis.from_url(redis_url)
        self.worker = uuid.uuid4().hex
        self.deliver: Deliver | None = None

    def _owner_key(self, session_id: str) -> str:
        return f"mcp:sse:owner:{session_id}"

    async def run(self, deliver: Deliver) -> None:
        """Receive messages relayed to this worker until cancelled (the lifespan's background task)."""
        self.deliver = deliver
        async with self.redis.pubsub() as pubsub, anyio.create_task_group() as group:
            await pubsub.subscribe(f"mcp:sse:worker:{self.worker}")
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    # One task per message: a session busy with a long query must not hold up the others.
                    group.start_soon(self._receive, message["data"])

    def watch_stream(self, send: Send, on_session: Callable[[str], Awaitable[None]]) -> Send:
        """Wrap an SSE response's send to learn the session id from the endpoint event."""
        seen = False

        async def watching(message: Message) -> None:
            nonlocal seen
            if not seen and message["type"] == "http.response.body":
                found = _SESSION_IN_ENDPOINT.search(message.get("body", b""))
                if found:
                    seen = True
                    await on_session(found.group(1).decode())
            await send(message)

        return watching

    async def claim(self, session_id: str) -> None:
        await self.redis.set(self._owner_key(session_id), self.worker, ex=_OWNER_TTL_SECONDS)

    async def release(self, session_id: str) -> None:
        await self.redis.delete(self._owner_key(session_id))

    async def forward(self, prefix: str, session_id: str, scope: Scope, body: bytes) -> bool:
        """Publish to the owning worker; False when no other worker holds the session."""
        owner = await self.redis.get(self._owner_key(session_id))
        if owner is None or owner.decode() == self.worker:
            return False
        envelope = {
            "prefix": prefix,
            "session_id": session_id,
            "body": base64.b64encode(body).decode(),
            "path": scope["path"],
            "query_string": scope.get("query_string", b"").decode("latin-1"),
            "scheme": scope.get("scheme", "http"),
            "headers": [
                [k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"] if k in _FORWARDED_HEADERS
            ],
            "user": _identity(scope.get("user")),
        }
        receivers = await self.redis.publish(f"mcp:sse:worker:{owner.decode()}", json.dumps(envelope))
        return receivers > 0

    async def _receive(self, data: bytes) -> None:
        try:
            envelope = json.loads(data)
            body = base64.b64decode(envelope["body"])
            scope: Scope = {
                "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                "scheme": envelope["scheme"], "path": envelope["path"], "raw_path": envelope["path"].encode(),
                "query_string": envelope["query_string"].encode("latin-1"), "root_path": "",
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in envelope["headers"]],
                "client": ("relay", 0), "server": ("relay", 0),
            }
            if envelope["user"] is not None:
                scope["user"] = AuthenticatedUser(AccessToken(**envelope["user"]))
        except (ValueError, KeyError, TypeError):
            logger.warning("dropped a malformed relayed SSE message")
            return
        delivered = False

        async def receive() -> Message:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] != 202:
                logger.warning(
                    "relayed SSE message for session %s answered %s", envelope["session_id"], message["status"]
                )

        assert self.deliver is not None
        await self.deliver(envelope["prefix"], scope, receive, send)


def _identity(user: Any) -> dict[str, Any] | None:
    if not isinstance(user, AuthenticatedUser):
        return None
    return user.access_token.model_dump(mode="json")
