"""Token checks remembered per process over a shared cache: no database read on a repeat, yet any
revocation, deactivation or client disable in any process refuses the very next call."""

from __future__ import annotations

import asyncio
import datetime
import secrets
import time

import httpx2
import pytest
import redis
from django.utils import timezone
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from oauth2_provider.models import get_access_token_model

from mcp_bridge import token_cache, verifier
from mcp_bridge.threads import in_thread
from mcpsite.liveserver import LiveServer

pytestmark = pytest.mark.requires("redis")
REDIS_URL = "redis://127.0.0.1:6379/13"
SHARED = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": REDIS_URL}}
db = pytest.mark.django_db(transaction=True, databases="__all__")  # tests/conftest.py seeds every target alias


@pytest.fixture
def shared_cache(settings):
    settings.CACHES = SHARED
    token_cache._memos.clear()
    yield
    token_cache._memos.clear()


@db
def test_a_repeated_check_reads_no_database(shared_cache, access_token, django_assert_num_queries):
    raw = access_token()
    assert verifier.token_check(raw).username == "carol"
    with django_assert_num_queries(0):
        assert verifier.token_check(raw).username == "carol"


@db
def test_without_a_shared_cache_every_check_reads_the_database(access_token, django_assert_num_queries):
    raw = access_token()
    verifier.token_check(raw)
    with django_assert_num_queries(1):
        assert verifier.token_check(raw) is not None


@db
@pytest.mark.parametrize("change", ["revoke", "deactivate user", "rename client"])
def test_any_change_to_token_user_or_client_is_seen_by_the_next_check(shared_cache, access_token, change):
    raw = access_token()
    assert verifier.token_check(raw) is not None
    token = get_access_token_model().objects.get()
    if change == "revoke":
        token.revoke()
    elif change == "deactivate user":
        token.user.is_active = False
        token.user.save()
    else:
        token.application.name = "Renamed"
        token.application.save()
    after = verifier.token_check(raw)
    if change == "rename client":
        assert after.client_name == "Renamed"
    else:
        assert after is None


@db
@pytest.mark.parametrize("how", ["permission", "group"])
def test_losing_the_write_right_is_seen_by_the_next_check(shared_cache, access_token, how):
    from django.contrib.auth.models import Group, Permission

    raw = access_token()
    token = get_access_token_model().objects.get()
    token.scope = "sql:read sql:write"
    token.save()
    permission = Permission.objects.get(codename="write_sql", content_type__app_label="oauth_ext")
    writers = Group.objects.create(name="writers")
    writers.permissions.add(permission)
    (token.user.user_permissions.add(permission) if how == "permission" else token.user.groups.add(writers))
    assert "sql:write" in verifier.token_check(raw).scopes
    assert "sql:write" in verifier.token_check(raw).scopes  # remembered now
    if how == "permission":
        token.user.user_permissions.remove(permission)
    else:
        writers.permissions.clear()  # the group keeps its member and loses the permission
    assert verifier.token_check(raw).scopes == frozenset({"sql:read"})


@db
def test_a_sign_in_keeps_remembered_checks(shared_cache, access_token, django_assert_num_queries):
    raw = access_token()
    verifier.token_check(raw)
    user = get_access_token_model().objects.get().user
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])  # what django.contrib.auth.login does on every consent sign-in
    with django_assert_num_queries(0):
        assert verifier.token_check(raw) is not None


@db
def test_a_remembered_token_still_expires_on_time(shared_cache, access_token, monkeypatch):
    raw = access_token(expires_in=60)
    info = verifier.token_check(raw)
    later = datetime.datetime.fromtimestamp(info.expires_at + 1, tz=datetime.UTC)
    monkeypatch.setattr(token_cache.time, "time", later.timestamp)
    monkeypatch.setattr(verifier.timezone, "now", lambda: later)
    assert verifier.token_check(raw) is None


@db
def test_a_new_token_keeps_the_remembered_checks_of_others(shared_cache, access_token, django_assert_num_queries):
    raw = access_token()
    verifier.token_check(raw)
    access_token(username="dave")  # every sign-in and refresh creates one
    with django_assert_num_queries(0):
        assert verifier.token_check(raw) is not None


@pytest.fixture
def lookups(monkeypatch) -> list[str]:
    """Every database lookup a token check makes (they run in worker threads, out of the test's query capture)."""
    made, lookup = [], verifier._token_lookup

    def counted(checksum: str):
        made.append(checksum)
        return lookup(checksum)

    monkeypatch.setattr(verifier, "_token_lookup", counted)
    return made


@pytest.fixture
def anyio_backend():
    return "asyncio"


@db
@pytest.mark.anyio
async def test_the_event_loop_check_remembers_and_still_hears_a_revocation(
    shared_cache, access_token, lookups, anyio_backend
):
    raw = await in_thread(access_token)
    assert token_cache._generation_reader() is not None  # the Redis path: no worker thread on a remembered token
    assert (await verifier.token_check_async(raw)).username == "carol"
    assert (await verifier.token_check_async(raw)).username == "carol"
    assert len(lookups) == 1
    await in_thread(lambda: get_access_token_model().objects.get().revoke())
    assert await verifier.token_check_async(raw) is None
    assert len(lookups) == 2


@db
@pytest.mark.anyio
async def test_an_unreachable_redis_means_a_database_check_every_time(
    settings, access_token, lookups, anyio_backend, caplog, monkeypatch
):
    monkeypatch.setattr(token_cache, "_last_unreadable", float("-inf"))
    settings.CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}}
    raw = await in_thread(access_token)
    for _ in range(2):
        assert (await verifier.token_check_async(raw)).username == "carol"
    assert len(lookups) == 2
    assert caplog.text.count("token cache unreadable; checking tokens in the database until it answers") == 1


@db
@pytest.mark.anyio
async def test_without_a_shared_cache_the_event_loop_check_reads_the_database(access_token, lookups, anyio_backend):
    raw = await in_thread(access_token)
    assert token_cache._generation_reader() is None
    for _ in range(2):
        assert (await verifier.token_check_async(raw)).username == "carol"
    assert len(lookups) == 2


@pytest.fixture(scope="module")
def live_redis(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("token-cache"), env={"REDIS_URL": REDIS_URL}).start()
    yield server
    server.stop()


@pytest.mark.anyio
@pytest.mark.parametrize(
    "how",
    [
        "from oauth2_provider.models import AccessToken\n"
        "[t.revoke() for t in AccessToken.objects.filter(user__username={u!r})]",
        "from django.contrib.auth.models import User\n"
        "u = User.objects.get(username={u!r}); u.is_active = False; u.save()",
        (
            "from oauth2_provider.models import Application\nfrom oauth_ext.clients import client_disable\n"
            "client_disable(Application.objects.get(name={u!r}))"
        ),
    ],
    ids=["revoke", "deactivate", "disable-client"],
)
async def test_a_change_in_another_process_refuses_the_very_next_call(live_redis, anyio_backend, how):
    username = f"cached-{secrets.token_hex(3)}"
    token = live_redis.token(username=username, client=username)
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    async with Client(
        streamable_http_client(f"{live_redis.base_url}/mcp", http_client=http), mode="2026-07-28"
    ) as client:
        for _ in range(3):  # remembered by now
            assert not (await client.call_tool("execute_sql", {"query": "SELECT 1"})).is_error
        live_redis.python(how.format(u=username))
        with pytest.raises(Exception):
            await client.call_tool("execute_sql", {"query": "SELECT 1"})


# Revocations pushed to every server process (token_cache.watching): no round trip for a remembered token,
# and still the very next call refused, even in a process whose push has not arrived.

async def _trusting(watcher: token_cache._Watcher | None = None, timeout: float = 5.0) -> token_cache._Watcher:
    deadline = time.monotonic() + timeout
    while (watcher := watcher or token_cache._watcher) is None or watcher.trusted() is None:
        assert time.monotonic() < deadline, "the subscription never became live"
        await asyncio.sleep(0.01)
    return watcher


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """Every generation read from Redis (the fallback round trip)."""
    made, read = [], token_cache._GenerationReader.read

    async def counted(self):
        made.append(self.key)
        return await read(self)

    monkeypatch.setattr(token_cache._GenerationReader, "read", counted)
    return made


@db
@pytest.mark.anyio
async def test_a_pushed_generation_means_no_round_trip_and_still_hears_a_revocation(shared_cache, access_token,
                                                                                     lookups, reads, anyio_backend):
    raw = await in_thread(access_token)
    async with token_cache.watching():
        await _trusting()
        for _ in range(3):
            assert (await verifier.token_check_async(raw)).username == "carol"
        assert reads == [] and len(lookups) == 1  # no GET and no database read per call
        started = time.monotonic()
        await in_thread(lambda: get_access_token_model().objects.get().revoke())
        assert time.monotonic() - started < token_cache.LEASE_SECONDS / 2  # acknowledged, not waited out
        assert await verifier.token_check_async(raw) is None
        assert reads == []


@db
@pytest.mark.anyio
async def test_a_process_whose_push_is_late_still_refuses_the_very_next_call(
    shared_cache, access_token, lookups, reads, anyio_backend, monkeypatch
):
    """Process B trusts its pushed generation and is registered, but its subscription has stalled: the change
    will not reach it. Process A revokes. A's commit returns only once B can no longer trust what it heard
    before, so B's next call reads the generation from Redis and is refused."""
    raw = await in_thread(access_token)
    reader = token_cache._generation_reader()
    b = token_cache._Watcher(reader)  # B, as its last ping left it; nothing will deliver to it
    b.generation = await reader.read()
    b.trusted_until = time.monotonic() + token_cache.LEASE_SECONDS
    registered_until = time.time() + token_cache.LEASE_SECONDS + token_cache._MARGIN_SECONDS
    redis.Redis.from_url(REDIS_URL).zadd(reader.registry, {b.worker: registered_until})
    monkeypatch.setattr(token_cache, "_watcher", b)
    reads.clear()
    assert (await verifier.token_check_async(raw)) is not None
    assert (await verifier.token_check_async(raw)) is not None
    assert reads == [] and len(lookups) == 1  # B answers from its memo under the pushed generation
    await in_thread(lambda: get_access_token_model().objects.get().revoke())  # A commits
    assert time.time() >= registered_until  # A waited until B's registration (and so its lease) ran out
    assert b.trusted() is None
    assert await verifier.token_check_async(raw) is None  # B's very next call: the generation read, refused
    assert len(reads) == 1


@pytest.mark.anyio
async def test_a_revocation_refuses_the_very_next_call_on_every_worker(tmp_path, anyio_backend):
    """Two uvicorn workers, each having remembered the token; a revocation from a third process; the very
    next calls, on fresh connections that land on either worker, are all refused."""
    server = LiveServer(tmp_path, env={"REDIS_URL": REDIS_URL}, workers=2).start()
    try:
        token = server.token(username="two-workers", client="two-workers")
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream",
                   "Content-Type": "application/json"}
        call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "execute_sql", "arguments": {"query": "SELECT 1"}}}

        async def statuses(n: int) -> list[int]:
            async def one() -> int:
                async with httpx2.AsyncClient(timeout=30) as http:  # a new connection: either worker
                    return (await http.post(f"{server.base_url}/mcp", headers=headers, json=call)).status_code
            return [await one() for _ in range(n)]

        assert set(await statuses(30)) == {200}
        client = redis.Redis.from_url(REDIS_URL)
        channels = client.pubsub_channels("*token-generation:changes")
        assert sum(n for _, n in client.pubsub_numsub(*channels)) >= 2  # both workers hear changes by push
        server.python("from oauth2_provider.models import AccessToken\n"
                      "[t.revoke() for t in AccessToken.objects.filter(user__username='two-workers')]")
        assert set(await statuses(30)) == {401}
    finally:
        server.stop()
