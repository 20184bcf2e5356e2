"""Run Django's sync ORM and sqltools off the event loop, in worker threads.

Worker threads never see Django's request_started/finished signals, so connections are
checked (and closed when broken or past CONN_MAX_AGE) around every unit of work here.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections

T = TypeVar("T")


def _with_fresh_connections(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    close_old_connections()
    try:
        return fn(*args, **kwargs)
    finally:
        close_old_connections()


async def in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Await a sync function in a worker thread (many at once: thread_sensitive=False)."""
    return await sync_to_async(functools.partial(_with_fresh_connections, fn), thread_sensitive=False)(*args, **kwargs)
