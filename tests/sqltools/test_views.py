"""/records/<id>: ChatGPT's citation links open the record for a signed-in user."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_anonymous_user_is_sent_to_sign_in(client):
    response = client.get("/records/table:main.orders")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_signed_in_user_sees_the_cited_table(admin_client):
    response = admin_client.get("/records/table:main.orders")
    assert response.status_code == 200
    body = response.content.decode()
    assert "main.orders" in body and "customer_id" in body and "<script" not in body


def test_query_record_renders_rows_and_is_audited(admin_client):
    from sqltools.models import AuditEntry
    from sqltools.search import query_id

    response = admin_client.get(f"/records/{query_id('SELECT 41 + 1 AS answer')}")
    assert response.status_code == 200 and "42" in response.content.decode()
    assert AuditEntry.objects.filter(tool="fetch", client_name="web (citation link)", outcome="ok").exists()


@pytest.mark.parametrize("record_id, status", [("garbage", 400), ("table:main.nope", 404)])
def test_bad_ids_get_a_clear_page(admin_client, record_id, status):
    response = admin_client.get(f"/records/{record_id}")
    assert response.status_code == status
    assert "can’t be shown" in response.content.decode()


@pytest.mark.parametrize("kind", ["unsigned", "altered", "foreign-key"])
def test_query_links_not_issued_here_run_nothing(admin_client, kind):
    """A cross-site link to /records/query:... must not run its SQL as whoever follows it."""
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    from sqltools.models import AuditEntry
    from tests.sqltools.test_search import forged_query_ids

    forged = forged_query_ids("SELECT 41 + 1 AS answer")[kind]
    with CaptureQueriesContext(connections["target"]) as ran:
        response = admin_client.get(f"/records/{forged}")
    assert response.status_code == 400 and ran.captured_queries == []
    assert "was not issued by this server (or was altered)" in response.content.decode()
    assert AuditEntry.objects.filter(tool="fetch", outcome="refused").exists()


def test_a_policed_user_sees_only_their_part_of_a_cited_record(client):
    from django.contrib.auth.models import Group, User

    from sqltools.models import DataRule

    group = Group.objects.create(name="orders only")
    DataRule.objects.create(group=group, pattern="*.orders", effect="allow")
    DataRule.objects.create(group=group, pattern="*.orders.status", effect="mask", mask="full")
    user = User.objects.create_user("cited")
    user.groups.add(group)
    client.force_login(user)
    orders = client.get("/records/table:main.orders").content.decode()
    assert "customer_id" in orders and "masked" in orders
    assert client.get("/records/table:main.customers").status_code == 404  # hidden: as if it did not exist
    sample = client.get("/records/sample:main.orders:3").content.decode()
    assert "| **** |" in sample and "| shipped |" not in sample and "| pending |" not in sample
