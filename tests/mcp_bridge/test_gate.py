"""The bearer gate: challenges, scopes, audience, revocation, and the development flags."""

from __future__ import annotations

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mcpsite.liveserver import LiveServer

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def _call(sql: str) -> dict:
    return {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "execute_sql", "arguments": {"query": sql}},
    }


@pytest.mark.parametrize("path", ["/mcp", "/sse", "/chatgpt/mcp", "/chatgpt/sse"])
def test_missing_token_gets_401_pointing_at_path_inserted_metadata(live, path):
    response = httpx2.post(f"{live.base_url}{path}", json=INIT, headers=HEADERS)
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'resource_metadata="{live.base_url}/.well-known/oauth-protected-resource{path}"' in challenge
    assert 'scope="sql:read"' in challenge
    metadata = httpx2.get(f"{live.base_url}/.well-known/oauth-protected-resource{path}")
    assert metadata.status_code == 200 and metadata.json()["resource"] == f"{live.base_url}{path}"


def test_invalid_token_says_invalid_token(live):
    response = httpx2.post(
        f"{live.base_url}/mcp", json=INIT, headers={**HEADERS, "Authorization": "Bearer not-a-token"}
    )
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_head_sse_is_the_capability_check(live):
    response = httpx2.head(f"{live.base_url}/sse")
    assert response.status_code == 200 and response.content == b""
    assert "resource_metadata=" in response.headers["www-authenticate"]


def test_token_for_another_resource_is_refused(live):
    foreign = live.token(resource="https://other.example.com/mcp")
    response = httpx2.post(f"{live.base_url}/mcp", json=INIT, headers={**HEADERS, "Authorization": f"Bearer {foreign}"})
    assert response.status_code == 401
    ours = live.token(resource=f"{live.base_url}/mcp")
    response = httpx2.post(f"{live.base_url}/mcp", json=INIT, headers={**HEADERS, "Authorization": f"Bearer {ours}"})
    assert response.status_code == 200


def test_token_without_read_scope_gets_403(live):
    token = live.token(scope="profile")
    response = httpx2.post(f"{live.base_url}/mcp", json=INIT, headers={**HEADERS, "Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


def test_write_needs_sql_write_scope(writable):
    reader = writable.token(scope="sql:read")
    headers = {**HEADERS, "Authorization": f"Bearer {reader}"}
    response = httpx2.post(
        f"{writable.base_url}/mcp",
        json=_call("UPDATE customers SET notes = 'x' WHERE customer_id = 1"),
        headers=headers,
    )
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="sql:read sql:write"' in challenge
    # Reads still work with sql:read on the same server.
    assert httpx2.post(f"{writable.base_url}/mcp", json=_call("SELECT 1"), headers=headers).status_code == 200
    writer = writable.token(scope="sql:read sql:write")
    response = httpx2.post(
        f"{writable.base_url}/mcp",
        json=_call("UPDATE customers SET notes = 'x' WHERE customer_id = 1"),
        headers={**HEADERS, "Authorization": f"Bearer {writer}"},
    )
    assert response.status_code == 200
    assert response.json()["result"]["structuredContent"]["rows_affected"] == 1


def test_a_write_token_stops_writing_on_the_next_call_when_its_user_loses_the_right(writable):
    writer = writable.token(username="loses_right", scope="sql:read sql:write")
    headers = {**HEADERS, "Authorization": f"Bearer {writer}"}
    update = _call("UPDATE customers SET notes = 'x' WHERE customer_id = 1")
    assert httpx2.post(f"{writable.base_url}/mcp", json=update, headers=headers).status_code == 200
    writable.python("from django.contrib.auth import get_user_model\n"
                    "get_user_model().objects.get(username='loses_right').user_permissions.clear()")
    response = httpx2.post(f"{writable.base_url}/mcp", json=update, headers=headers)
    assert response.status_code == 403 and 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert httpx2.post(f"{writable.base_url}/mcp", json=_call("SELECT 1"), headers=headers).status_code == 200


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_revocation_stops_the_very_next_call(live, anyio_backend):
    token = live.token(username="revoked")
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    async with Client(streamable_http_client(f"{live.base_url}/mcp", http_client=http), mode="legacy") as client:
        assert not (await client.call_tool("execute_sql", {"query": "SELECT 1"})).is_error
        live.python("from oauth2_provider.models import AccessToken\n"
                    "[t.revoke() for t in AccessToken.objects.filter(user__username='revoked')]")
        with pytest.raises(Exception):
            await client.call_tool("execute_sql", {"query": "SELECT 1"})
    response = httpx2.post(f"{live.base_url}/mcp", json=INIT, headers={**HEADERS, "Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_expired_token_is_refused(live):
    token = live.token(username="late")
    live.python(
        "import datetime\nfrom django.utils import timezone\nfrom oauth2_provider.models import AccessToken\n"
        "AccessToken.objects.filter(user__username='late')"
        ".update(expires=timezone.now() - datetime.timedelta(seconds=1))"
    )
    response = httpx2.post(f"{live.base_url}/mcp", json=INIT, headers={**HEADERS, "Authorization": f"Bearer {token}"})
    assert response.status_code == 401


@pytest.fixture(scope="module")
def unauth_methods(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("unauth"), env={"ALLOW_UNAUTH_METHODS": "true"}).start()
    yield server
    server.stop()


def test_allow_unauth_methods_admits_handshake_only_and_warns(unauth_methods):
    base = unauth_methods.base_url
    assert httpx2.post(f"{base}/mcp", json=INIT, headers=HEADERS).status_code == 200
    listed = httpx2.post(f"{base}/mcp", json={"jsonrpc": "2.0", "id": 3, "method": "tools/list"}, headers=HEADERS)
    assert listed.status_code == 200 and "execute_sql" in listed.text
    assert httpx2.post(f"{base}/mcp", json=_call("SELECT 1"), headers=HEADERS).status_code == 401
    assert "INSECURE" in unauth_methods.log() and "ALLOW_UNAUTH_METHODS" in unauth_methods.log()


def test_flags_are_off_and_quiet_by_default(live):
    assert (
        httpx2.post(
            f"{live.base_url}/mcp", json={"jsonrpc": "2.0", "id": 3, "method": "tools/list"}, headers=HEADERS
        ).status_code
        == 401
    )
    assert "INSECURE" not in live.log()
