"""Data policies through the MCP endpoint: a real uvicorn, a user in a group with rules, the SDK client."""

from __future__ import annotations

import json

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

POLICY = """
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from sqltools.models import DataRule, RowFilter, UserAttribute
group, _ = Group.objects.get_or_create(name='analysts')
for pattern, effect, mask in [('*.customers', 'allow', ''), ('*.customers.email', 'mask', 'email'),
                              ('*.customers.notes', 'hide', ''), ('*.orders', 'allow', '')]:
    DataRule.objects.get_or_create(group=group, pattern=pattern, defaults=dict(effect=effect, mask=mask))
RowFilter.objects.get_or_create(group=group, table='*.customers', defaults=dict(predicate='country = :user.country'))
user, _ = get_user_model().objects.get_or_create(username='policed')
user.groups.add(group)
UserAttribute.objects.get_or_create(user=user, name='country', defaults=dict(value='Japan'))
"""


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_policed_user_sees_their_part_through_every_tool(live, anyio_backend):
    live.python(POLICY)
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {live.token(username='policed')}"}, timeout=30)
    async with Client(streamable_http_client(f"{live.base_url}/mcp", http_client=http), mode="legacy") as client:
        tables = await client.call_tool("list_tables", {})
        assert {t["table"] for t in tables.structured_content["tables"]} == {"customers", "orders"}
        described = await client.call_tool("describe_table", {"table_name": "customers"})
        columns = {c["name"]: c for c in described.structured_content["columns"]}
        assert "notes" not in columns and columns["email"]["masked"] == "email"
        rows = await client.call_tool("execute_sql", {"query": "SELECT * FROM customers"})
        data = rows.structured_content
        assert "notes" not in data["columns"] and {r[data["columns"].index("country")] for r in data["rows"]} == {
            "Japan"
        }
        assert all(r[data["columns"].index("email")].startswith("b***@") for r in data["rows"])
        probe = await client.call_tool("execute_sql", {"query": "SELECT COUNT(*) FROM customers WHERE email LIKE 'b%'"})
        assert probe.is_error and "masked" in probe.content[0].text
        hidden = await client.call_tool("get_table_sample", {"table_name": "products"})
        assert hidden.is_error and "No table or view named" in hidden.content[0].text
    # ChatGPT's search reaches the same part only.
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {live.token(username='policed')}"}, timeout=30)
    async with Client(
        streamable_http_client(f"{live.base_url}/chatgpt/mcp", http_client=http), mode="legacy"
    ) as client:
        found = json.loads((await client.call_tool("search", {"query": "list tables"})).content[0].text)
        assert {hit["id"] for hit in found["results"]} == {"table:main.customers", "table:main.orders"}
