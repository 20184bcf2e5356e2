"""Token checks remembered per process, and forgotten everywhere the moment anything they read changes.

mcp_bridge/verifier.py looks a token up; this module remembers the answer. With a cache shared by every
process (django-redis), a process remembers the lookups it made and
trusts one while a shared "generation" stays the same. Saving or deleting any access token,
client or user sets a new generation once its transaction commits, so a revocation made in any
process refuses the very next call in every process. With a Redis cache each server process
hears of a new generation by push (Redis pub/sub, `watching()`, entered in the lifespan), so a
remembered token costs no network round trip and no worker thread; when the subscription is not
known to be live the generation is read from Redis on the event loop instead (one GET, redis.asyncio).

Why a push is enough to refuse the very next call (the push is an optimisation; the guarantee comes
from a lease and an acknowledgement):
- A process trusts its pushed generation only for LEASE_SECONDS after it sent a ping to itself
  that has come back on its subscription. Redis delivers one connection's messages in the order it
  received them, so a process that has heard its ping sent at time s has heard every change
  published before s.
- Before each ping, the process enters itself in a registry (a sorted set) until s + LEASE + margin.
- The process that commits a change sets the generation, publishes it, and returns only when every
  registered process has acknowledged it (after applying it), or once that process's registration
  has run out, after which that process can trust nothing it heard before the change. A call that
  starts after the change's transaction returns therefore sees the new generation in every
  process; typically the acknowledgements take a millisecond, at worst the commit waits
  LEASE_SECONDS + margin for a process that has stopped answering.
A remembered lookup also lapses at the token's
expiry and after TOKEN_CACHE_SECONDS, the backstop for changes that send no signal
(QuerySet.update, raw SQL). A per-process cache (LocMemCache, the local default) cannot hear
about another process's revocation, so without a shared cache every call reads the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import secrets
import time
import uuid
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import BaseCache, caches
from django.core.cache.backends.base import get_key_func
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.signals import setting_changed
from django.db import router, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from oauth2_provider.models import get_access_token_model, get_application_model

from mcp_bridge.conf import bridge_settings
from mcp_bridge.threads import in_thread
from telemetry.metrics import TOKEN_CHECKS, labelled

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    import redis
    import redis.asyncio as aioredis

    from mcp_bridge.verifier import TokenInfo

Lookup = Callable[[str], "TokenInfo | None"]  # a token's checksum -> its owner and grants, or None


@dataclass(frozen=True)
class _Memo:
    info: TokenInfo
    generation: str
    until: float  # time.monotonic() deadline: TOKEN_CACHE_SECONDS after the lookup


_GENERATION_KEY = "mcp_bridge:token-generation"
_MAX_MEMOS = 10_000
_memos: dict[str, _Memo] = {}


def token_remembered(checksum: str, lookup: Lookup) -> TokenInfo | None:
    """lookup(checksum), remembered while nothing that could change its answer has changed (see above)."""
    cache = _shared_cache()
    generation = _generation(cache) if cache is not None else None  # read before the database, never after
    return _remembered(checksum, generation) or _lookup_and_remember(checksum, generation, lookup)


async def token_remembered_async(checksum: str, lookup: Lookup) -> TokenInfo | None:
    """token_remembered for the event loop: with a Redis cache, a remembered token needs no worker thread,
    and while this process's subscription is live (see above) no network round trip either."""
    reader = _generation_reader()
    if reader is None:
        return await in_thread(token_remembered, checksum, lookup)
    watcher = _watcher
    generation = watcher.trusted() if watcher is not None else None
    if generation is None:
        generation = await reader.read()
    return _remembered(checksum, generation) or await in_thread(_lookup_and_remember, checksum, generation, lookup)


def _remembered(checksum: str, generation: str | None) -> TokenInfo | None:
    memo = _memos.get(checksum) if generation is not None else None
    if memo and memo.generation == generation and time.monotonic() < memo.until and time.time() < memo.info.expires_at:
        _REMEMBERED.inc()
        return memo.info
    return None


_REMEMBERED, _LOOKED_UP = labelled(TOKEN_CHECKS, "remembered"), labelled(TOKEN_CHECKS, "looked_up")


def _lookup_and_remember(checksum: str, generation: str | None, lookup: Lookup) -> TokenInfo | None:
    _LOOKED_UP.inc()
    info = lookup(checksum)
    if generation is not None and info is not None:
        if len(_memos) >= _MAX_MEMOS:
            _memos.clear()
        _memos[checksum] = _Memo(info, generation, time.monotonic() + bridge_settings().TOKEN_CACHE_SECONDS)
    return info


def tokens_changed(sender: type, *, using: str | None = None, **kwargs: Any) -> None:
    """A token, client or user was saved or deleted: every remembered lookup lapses once this commits.

    Not before the commit: a process reading the new generation and then the old row would
    remember the old row under the new generation.
    """
    if kwargs.get("created"):
        return  # a new row is in no remembered lookup (only tokens that were found are remembered)
    if kwargs.get("update_fields") == frozenset({"last_login"}):
        return  # a sign-in changes nothing a token check reads; it happens on every consent page
    if _shared_cache() is not None:
        transaction.on_commit(_new_generation, using=using or router.db_for_write(sender))


def watch_token_changes() -> None:
    """Connect tokens_changed (McpBridgeConfig.ready, in every process: revocations come from anywhere)."""
    for model in (get_access_token_model(), get_application_model(), get_user_model()):
        for signal in (post_save, post_delete):
            signal.connect(tokens_changed, sender=model, dispatch_uid=f"mcp_bridge.token_cache.{model._meta.label}")
    user = get_user_model()
    for through in (user.groups.through, user.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(
            _rights_changed, sender=through, dispatch_uid=f"mcp_bridge.token_cache.{through._meta.label}"
        )


def _rights_changed(sender: type, *, action: str, using: str | None = None, **kwargs: Any) -> None:
    """Group membership or permissions changed: what a token may do (its write scope) is read again."""
    if action in ("post_add", "post_remove", "post_clear"):
        tokens_changed(sender, using=using)


def _shared_cache() -> BaseCache | None:
    """The default cache when other processes share it (mcp_bridge.threads keeps one instance per worker thread)."""
    if bridge_settings().TOKEN_CACHE_SECONDS <= 0:
        return None
    cache = caches["default"]
    return None if isinstance(cache, (LocMemCache, DummyCache)) else cache


def _forget_reader(*, setting: str, **kwargs: Any) -> None:
    if setting in ("CACHES", "MCP_BRIDGE"):
        _generation_reader.cache_clear()


setting_changed.connect(_forget_reader)
_REDIS_CACHES = {"django_redis.cache.RedisCache", "django.core.cache.backends.redis.RedisCache"}


def _generation(cache: BaseCache) -> str | None:
    try:
        generation = cache.get(_GENERATION_KEY)
        if generation is None:
            cache.add(_GENERATION_KEY, _fresh_generation(), timeout=None)
            generation = cache.get(_GENERATION_KEY)
        return None if generation is None else str(generation)
    except Exception:
        _unreadable()
        return None


_last_unreadable = float("-inf")


def _unreadable() -> None:
    """Say so, with the reason, at most once a minute: a Redis outage would otherwise log every call."""
    global _last_unreadable
    if time.monotonic() - _last_unreadable >= 60:
        _last_unreadable = time.monotonic()
        logger.warning("token cache unreadable; checking tokens in the database until it answers", exc_info=True)


def _fresh_generation() -> int:
    """An integer: both Redis caches store it as its digits, which the event loop's reader reads as they are."""
    return secrets.randbits(62)


def _new_generation() -> None:
    generation = _fresh_generation()
    try:
        caches["default"].set(_GENERATION_KEY, generation, timeout=None)
    except Exception:
        logger.exception("could not invalidate cached token checks: other processes may accept a revoked token "
                         "for up to %s s", bridge_settings().TOKEN_CACHE_SECONDS)
        return
    reader = _generation_reader()
    if reader is not None:
        try:
            _announce(reader, str(generation))
        except Exception:
            logger.exception("could not push the new token generation: server processes may accept a revoked "
                             "token for up to %s s", LEASE_SECONDS + _MARGIN_SECONDS)


LEASE_SECONDS = 1.0  # how long a process trusts its pushed generation after hearing its own ping
PING_SECONDS = 0.2
_MARGIN_SECONDS = 0.5  # registrations outlast leases by this much (clock drift and skew between hosts)


def _announce(reader: _GenerationReader, generation: str) -> None:
    """Publish a new generation and wait until every process that may trust an older one has applied it
    (its acknowledgement) or can no longer trust anything it heard before (its registration ran out)."""
    client = _sync_redis(reader.url)
    ack_key = f"{reader.key}:ack:{secrets.token_hex(8)}"
    client.publish(reader.channel, f"{generation} {ack_key}")
    now = time.time()  # after the publish: a process registered later has heard it before any ping it trusts
    pending = {member.decode(): score for member, score in
               client.zrangebyscore(reader.registry, now, "+inf", withscores=True)}
    client.zremrangebyscore(reader.registry, "-inf", now - 3600)
    try:
        while pending:
            remaining = max(pending.values()) - time.time()
            if remaining <= 0:
                break
            got = client.blpop([ack_key], timeout=min(remaining, 1.0))
            if got is not None:
                pending.pop(got[1].decode(), None)
            now = time.time()
            pending = {member: until for member, until in pending.items() if until > now}
    finally:
        client.delete(ack_key)
    if pending:
        logger.warning("token generation pushed; %d server process(es) did not acknowledge it and stopped trusting "
                       "their remembered checks when their lease ran out", len(pending))


@functools.lru_cache(maxsize=4)
def _sync_redis(url: str) -> redis.Redis:
    import redis  # imported when used: management commands that change nothing need not load it

    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)


class _Watcher:
    """This process's subscription to generation changes, on its event loop (see the module docstring)."""

    def __init__(self, reader: _GenerationReader) -> None:
        self.reader = reader
        self.worker = uuid.uuid4().hex
        self.ping_channel = f"{reader.key}:ping:{self.worker}"
        self.loop = asyncio.get_running_loop()
        self.generation: str | None = None
        self.trusted_until = float("-inf")  # time.monotonic()
        self.pings: dict[int, float] = {}

    def trusted(self) -> str | None:
        """The pushed generation while this process has heard its own recent ping, else None (read Redis)."""
        if time.monotonic() < self.trusted_until and asyncio.get_running_loop() is self.loop:
            return self.generation
        return None

    async def run(self) -> None:
        while True:
            try:
                await self._subscribed()
            except asyncio.CancelledError:
                raise
            except Exception:
                _unreadable()
            finally:
                self.trusted_until, self.generation = float("-inf"), None
            await asyncio.sleep(1)

    async def _subscribed(self) -> None:
        import redis.asyncio as aioredis

        client = aioredis.from_url(self.reader.url, socket_timeout=None, socket_connect_timeout=2,
                                   health_check_interval=0)
        self.pings.clear()
        async with client, client.pubsub() as pubsub:
            await pubsub.subscribe(self.reader.channel, self.ping_channel)
            confirmed = 0
            while confirmed < 2:  # both subscriptions live before the generation is read
                message = await pubsub.get_message(timeout=5)
                if message is None:
                    raise ConnectionError("no subscription confirmation from Redis")
                confirmed += message["type"] == "subscribe"
            self.generation = await self.reader.read_or_raise(client)
            pinger = asyncio.create_task(self._ping(client))
            try:
                async for message in pubsub.listen():
                    if message["type"] != "message":
                        continue
                    channel, data = message["channel"].decode(), message["data"].decode()
                    if channel == self.ping_channel:
                        sent = self.pings.pop(int(data), None)
                        if sent is not None and self.generation is not None:
                            self.trusted_until = max(self.trusted_until, sent + LEASE_SECONDS)
                    else:
                        generation, _, ack_key = data.partition(" ")
                        self.generation = generation  # applied before the acknowledgement, as promised
                        if ack_key:
                            await client.rpush(ack_key, self.worker)
                            await client.expire(ack_key, 60)
                    if pinger.done():
                        pinger.result()  # its failure ends the subscription
            finally:
                pinger.cancel()
                with contextlib.suppress(BaseException):
                    await pinger
                with contextlib.suppress(Exception):
                    await client.zrem(self.reader.registry, self.worker)

    async def _ping(self, client: aioredis.Redis) -> None:
        for seq in itertools.count():
            sent, registered_until = time.monotonic(), time.time() + LEASE_SECONDS + _MARGIN_SECONDS
            async with client.pipeline(transaction=False) as pipe:  # registered before the ping is sent
                pipe.zadd(self.reader.registry, {self.worker: registered_until})
                pipe.publish(self.ping_channel, str(seq))
                self.pings[seq] = sent
                await pipe.execute()
            if len(self.pings) > 50:  # lost pings (a reconnect): forget the oldest
                for old in sorted(self.pings)[:-10]:
                    del self.pings[old]
            await asyncio.sleep(PING_SECONDS)


_watcher: _Watcher | None = None


@contextlib.asynccontextmanager
async def watching() -> AsyncIterator[None]:
    """Hear generation changes by push while the block runs (the server's lifespan); without a Redis cache, nothing."""
    global _watcher
    reader = _generation_reader()
    if reader is None:
        yield
        return
    watcher = _Watcher(reader)
    task = asyncio.create_task(watcher.run())
    _watcher = watcher
    try:
        yield
    finally:
        if _watcher is watcher:
            _watcher = None
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


class _GenerationReader:
    """Reads the generation with redis.asyncio from the Redis behind the default cache, under the cache's own key."""

    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key
        self.channel, self.registry = f"{key}:changes", f"{key}:listeners"
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = (
            weakref.WeakKeyDictionary()
        )

    async def read(self) -> str | None:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:  # a client's connections belong to the loop that made them
            import redis.asyncio as aioredis

            client = self._clients[loop] = aioredis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)
        try:
            return await self.read_or_raise(client)
        except Exception:
            _unreadable()
            return None

    async def read_or_raise(self, client: aioredis.Redis) -> str | None:
        value = await client.get(self.key)
        if value is None:
            await client.set(self.key, _fresh_generation(), nx=True)
            value = await client.get(self.key)
        return None if value is None else value.decode("latin-1")


@functools.lru_cache(maxsize=1)
def _generation_reader() -> _GenerationReader | None:
    """The event loop's reader when the default cache is Redis given by URL; None means: read in a thread."""
    config = settings.CACHES.get("default", {})
    location = config.get("LOCATION")
    if bridge_settings().TOKEN_CACHE_SECONDS <= 0 or config.get("BACKEND") not in _REDIS_CACHES or not location:
        return None
    url = (location if isinstance(location, str) else location[0]).split(",")[0]  # the first server takes writes
    key = get_key_func(config.get("KEY_FUNCTION"))(
        _GENERATION_KEY, config.get("KEY_PREFIX", ""), config.get("VERSION", 1)
    )
    return _GenerationReader(url, key)
