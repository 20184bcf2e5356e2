"""The lifespan: startup freezes what it built out of the cycle collector's reach (docs/benchmarks.md)."""

from __future__ import annotations

import gc

import anyio
import pytest

from mcp_bridge.app import McpApplication


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_startup_freezes_the_objects_it_built_and_shutdown_completes(anyio_backend):
    gc.unfreeze()
    started, sent, frozen = anyio.Event(), [], []
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive():
        if sent:
            await started.wait()
            frozen.append(gc.get_freeze_count())
        return next(messages)

    async def send(message):
        sent.append(message["type"])
        if message["type"] == "lifespan.startup.complete":
            started.set()

    try:
        with anyio.fail_after(30):
            await McpApplication(django_app=None)({"type": "lifespan"}, receive, send)
    finally:
        gc.unfreeze()
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert frozen[0] > 10_000  # Django, the SDK, pydantic and sqlglot
