"""The audit log in the admin as a non-superuser staff member: readable, append-only for everyone."""

from __future__ import annotations

from datetime import datetime
from datetime import timezone as tz

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from sqltools.audit import audit_insert
from sqltools.models import AuditEntry

pytestmark = pytest.mark.django_db

LIST = "/admin/sqltools/auditentry/"
LONG_SQL = "SELECT " + ", ".join(f"column_number_{n}" for n in range(60)) + " FROM a_table_with_a_long_name"


def _entry(**fields) -> AuditEntry:
    row = dict(created_at=datetime(2026, 11, 3, 14, 5, 9, 750000, tzinfo=tz.utc), tool="execute_sql", user_id=None,
               username="alice", client_id="c-1", client_name="Claude", arguments={}, sql="SELECT 1", outcome="ok",
               message="", rows=1, duration_ms=0.8831480000708325)
    row.update(fields)
    audit_insert([row], using="default")
    return AuditEntry.objects.order_by("-id").first()


@pytest.fixture
def viewer(django_user_model) -> Client:
    """Staff, not superuser, allowed to view audit entries and nothing else."""
    user = django_user_model.objects.create_user(username="auditor", password="x" * 12, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="view_auditentry"))
    browser = Client()
    browser.force_login(user)
    return browser


def test_a_viewer_reads_ms_seconds_and_wrapped_sql(viewer):
    _entry(sql=LONG_SQL, duration_ms=1234.5)
    _entry(sql="SELECT 2")
    body = viewer.get(LIST).content.decode()
    assert "2026-11-03 14:05:09" in body  # to the second
    assert "0.9 ms" in body and "1,234 ms" in body and "0.8831480000708325" not in body
    assert '<pre class="sql">SELECT column_number_0' in body and "css/admin.css" in body
    assert "By outcome" in body


def test_the_list_filters_by_outcome(viewer):
    _entry(sql="SELECT 'fine'")
    _entry(sql="DROP TABLE t", outcome="refused")
    refused = viewer.get(LIST, {"outcome": "refused"})
    assert refused.context["cl"].result_count == 1 and "DROP TABLE t" in refused.content.decode()


def test_nobody_adds_changes_or_deletes_entries(viewer, admin_client):
    entry = _entry()
    for browser in (viewer, admin_client):  # a superuser included
        assert browser.get(f"{LIST}{entry.pk}/change/").status_code == 200
        assert browser.get(f"{LIST}add/").status_code == 403
        assert browser.post(f"{LIST}{entry.pk}/change/", {"sql": "SELECT 666"}).status_code == 403
        assert browser.get(f"{LIST}{entry.pk}/delete/").status_code == 403
        assert browser.post(f"{LIST}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
        browser.post(LIST, {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"})
        assert "delete_selected" not in browser.get(LIST).content.decode()
    assert AuditEntry.objects.get(pk=entry.pk).sql == "SELECT 1"


def test_the_entry_page_shows_the_whole_statement(viewer):
    entry = _entry(sql=LONG_SQL * 3)
    body = viewer.get(f"{LIST}{entry.pk}/change/").content.decode()
    assert f'<pre class="sql">{LONG_SQL * 3}</pre>' in body and "0.9 ms" in body and "2026-11-03 14:05:09" in body


def test_staff_without_the_view_permission_see_nothing(django_user_model):
    user = django_user_model.objects.create_user(username="clerk", password="x" * 12, is_staff=True)
    browser = Client()
    browser.force_login(user)
    assert browser.get(LIST).status_code == 403


def test_approvals_are_read_in_the_admin_never_decided_there(admin_client, django_user_model):
    from sqltools.approvals import approval_request

    alice = django_user_model.objects.create_user(username="alice", password="x" * 12)
    approval = approval_request(
        user_id=alice.pk,
        client_id="c-1",
        client_name="Claude",
        alias="target",
        sql="DELETE FROM orders WHERE order_id = 1",
        reason="write",
        plan=None,
        tables=["orders"],
    )
    listing = admin_client.get("/admin/sqltools/approval/")
    assert listing.status_code == 200 and "Claude" in listing.content.decode()
    page = f"/admin/sqltools/approval/{approval.pk}/change/"
    assert admin_client.get(page).status_code == 200 and "DELETE FROM orders" in admin_client.get(page).content.decode()
    assert admin_client.post(page, {"status": "approved"}).status_code == 403
    assert admin_client.get("/admin/sqltools/approval/add/").status_code == 403
    approval.refresh_from_db()
    assert approval.status == "pending"
