"""Run Django's sync ORM and sqltools off the event loop, in the bridge's worker threads.

One pool per process, WORKER_THREADS wide: a slow query holds a thread (and its database
connections) until it ends, so this is also how many tool calls one worker runs at once. Jobs
run in the thread's own context, not a copy of the caller's: nothing here reads the request's
context variables, and Django's per-context objects (cache clients) then last as long as the
thread instead of being built again for every call.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

from mcp_bridge.conf import bridge_settings
from sqltools.connections import connections_refresh
from telemetry.metrics import THREADS, THREADS_BUSY

T = TypeVar("T")

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _fresh(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    THREADS_BUSY.inc()
    try:
        connections_refresh()
        return fn(*args, **kwargs)
    finally:
        THREADS_BUSY.dec()


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(bridge_settings().WORKER_THREADS, thread_name_prefix="mcp-worker")
                THREADS.set(bridge_settings().WORKER_THREADS)
    return _pool


async def in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Await a sync function in a worker thread, its connections checked first (sqltools.connections)."""
    return await asyncio.get_running_loop().run_in_executor(_executor(), functools.partial(_fresh, fn, *args, **kwargs))
