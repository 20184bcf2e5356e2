"""Large tool results serialized once, by us, and spliced into the response the SDK sends.

The SDK turns a tool's result into its wire form by copying it several times over (model_dump,
the per-version result check, the JSON-RPC envelope's model, json.dumps): for 10,000 rows that is
most of a call's CPU and memory. For a result of at least BULK_CHARS characters, mcp_bridge.render
writes the text item and the structuredContent as JSON once, as a list of parts (sqltools wrote the rows'
JSON and text copy batch by batch as it fetched them: sqltools.values.RowsEncoded) and hands the SDK a
small placeholder result instead: a text item and a structuredContent object that each carry a random
key. `Splicing` wraps the ASGI `send` of every MCP endpoint and sends each placeholder in the response
body (a JSON body or an SSE event) as its JSON, part by part, fixing Content-Length: the response is
never joined into one string or one bytes object. Placeholders are made only while a request runs under `splicing`
(a context variable says so), so a result built any other way is never a placeholder.

Nothing about the result changes for the client: the same JSON, the same fields. The SDK's own
server-side check of structuredContent against the tool's outputSchema is skipped for these
results (the check validates what we built from a fixed model, mcp_bridge.schemas; clients check it).
"""

from __future__ import annotations

import contextvars
import re
import secrets
import time
from typing import Iterator

import anyio
from mcp_types import CallToolResult, TextContent
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BULK_CHARS = 16 * 1024  # smaller results go the SDK's way: splicing them would save less than it costs
_MARK = "@@mcp-bulk-"
_PLACEHOLDER = re.compile(rb'"@@mcp-bulk-([0-9a-f]{32}t)@@"|\{\s*"@@mcp-bulk-([0-9a-f]{32}s)@@"\s*:\s*0\s*\}')
_active: contextvars.ContextVar[bool] = contextvars.ContextVar("mcp_bridge_bulk", default=False)
_pending: dict[str, tuple[float, list[str]]] = {}  # key -> (made at, its JSON in parts)
_SEND_BYTES = 64 * 1024  # parts are joined, encoded and sent in pieces of about this size
_FORGET_SECONDS = 300  # a placeholder whose response was never sent (the client left)


def bulk_available() -> bool:
    """This code runs for a request whose response passes through `Splicing`."""
    return _active.get()


def placeholder_result(*, text_json: list[str], structured_json: list[str]) -> CallToolResult:
    """A result the SDK sends as is, whose text and structuredContent `Splicing` replaces with these JSON texts
    (each the concatenation of its parts)."""
    key = secrets.token_hex(16)
    now = time.monotonic()
    if len(_pending) > 32:  # a copy first: the event loop pops entries while this worker thread looks
        for old in [k for k, (made, _) in list(_pending.items()) if now - made > _FORGET_SECONDS]:
            _pending.pop(old, None)
    _pending[f"{key}t"] = (now, text_json)
    _pending[f"{key}s"] = (now, structured_json)
    return CallToolResult(content=[TextContent(type="text", text=f"{_MARK}{key}t@@")],
                          structured_content={f"{_MARK}{key}s@@": 0})


def _spliced(body: bytes) -> tuple[list[bytes | list[str]], int] | None:
    """The body as pieces, each placeholder replaced by its parts, and the whole length in bytes; None when it
    holds no placeholder of ours."""
    pieces: list[bytes | list[str]] = []
    at = length = 0
    for match in _PLACEHOLDER.finditer(body):
        entry = _pending.pop((match.group(1) or match.group(2)).decode("ascii"), None)
        if entry is None:
            continue
        pieces += [body[at:match.start()], entry[1]]
        length += match.start() - at + sum([len(p) if p.isascii() else len(p.encode("utf-8")) for p in entry[1]])
        at = match.end()
    if not pieces:
        return None
    pieces.append(body[at:])
    return pieces, length + len(body) - at


def _sendable(pieces: list[bytes | list[str]]) -> Iterator[bytes]:
    """The pieces as bytes, a few parts joined at a time: never the whole body at once."""
    for piece in pieces:
        if isinstance(piece, bytes):
            if piece:
                yield piece
            continue
        group: list[str] = []
        size = 0
        for part in piece:
            group.append(part)
            size += len(part)
            if size >= _SEND_BYTES:
                yield "".join(group).encode("utf-8")
                group, size = [], 0
        if group:
            yield "".join(group).encode("utf-8")


class Splicing:
    """An ASGI app: `app` with its responses' placeholders replaced (see above). A class, not a function, so that
    Starlette's Route serves it as an ASGI app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        held: Message | None = None
        # A spliced message goes out in several sends; no other send of the response may come between them
        # (sse_starlette's keep-alive ping does not wait for the data's sends, and would cut an event's line).
        # Set while one does; any other send waits for it, and ordinary sends pay nothing.
        splicing: anyio.Event | None = None

        async def splice_send(message: Message) -> None:
            nonlocal held, splicing
            while splicing is not None:
                await splicing.wait()
            kind = message["type"]
            if kind == "http.response.start" and any(k.lower() == b"content-length" for k, _ in message["headers"]):
                held = message  # until the body: its Content-Length may change (a stream's start goes at once)
                return
            if kind == "http.response.body":
                body = message.get("body", b"")
                spliced = _spliced(body) if _pending and b"@@mcp-bulk-" in body else None
                if spliced is not None:
                    splicing = anyio.Event()
                    try:
                        await _parts_send(send, message, *spliced)
                    finally:
                        done, splicing = splicing, None
                        done.set()
                    return
            if held is not None:
                start, held = held, None
                await send(start)
            await send(message)

        async def _parts_send(send: Send, message: Message, pieces: list[bytes | list[str]], length: int) -> None:
            nonlocal held
            if held is not None and not message.get("more_body"):
                held = {**held, "headers": [(k, str(length).encode("latin-1") if k.lower() == b"content-length" else v)
                                            for k, v in held["headers"]]}
            if held is not None:
                start, held = held, None
                await send(start)
            chunks = _sendable(pieces)
            chunk = next(chunks, b"")
            for after in chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                chunk = after
            await send({"type": "http.response.body", "body": chunk, "more_body": message.get("more_body", False)})

        token = _active.set(True)
        try:
            await self.app(scope, receive, splice_send)
        finally:
            _active.reset(token)
        if held is not None:  # a start without a body (not sent by the SDK, but pass it on)
            await send(held)
