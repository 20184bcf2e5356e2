"""The audit log: one row per tool call, whatever the outcome, never a secret; browsable in the admin."""

from __future__ import annotations

import dataclasses
import json

import pytest
from django.db import connections
from django.forms.models import model_to_dict
from django.utils import timezone

from sqltools import audit
from sqltools.audit import Actor, audit_call
from sqltools.errors import QueryRefused, QueryTimeout
from sqltools.models import AuditEntry
from sqltools.query import query_run

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

PASSWORD = "correct horse battery staple"


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user(username="alice", password=PASSWORD)


@pytest.fixture
def actor(alice) -> Actor:
    return Actor(user_id=alice.pk, username="alice", client_id="client-123", client_name="ChatGPT")


def test_a_successful_call_writes_one_entry(target_alias, actor, alice):
    sql = "SELECT customer_id FROM customers WHERE customer_id <= 3"
    with audit_call(tool="execute_sql", actor=actor, sql=sql, arguments={"limit": 3}) as record:
        record.rows = query_run(sql=sql, alias=target_alias).row_count
    entry = AuditEntry.objects.get()
    assert (entry.user, entry.username, entry.client_id, entry.client_name) == (alice, "alice", "client-123", "ChatGPT")
    assert (entry.tool, entry.sql, entry.arguments, entry.outcome, entry.message, entry.rows) == (
        "execute_sql", sql, {"limit": 3}, "ok", "", 3)
    assert entry.duration_ms > 0 and entry.created_at is not None


def test_a_refusal_is_recorded_with_its_message_and_re_raised(target_alias, actor):
    with pytest.raises(QueryRefused, match="read-only mode") as raised:
        with audit_call(tool="execute_sql", actor=actor, sql="DELETE FROM orders"):
            query_run(sql="DELETE FROM orders", alias=target_alias)
    entry = AuditEntry.objects.get()
    assert (entry.outcome, entry.message, entry.rows) == ("refused", raised.value.message, None)
    assert entry.sql == "DELETE FROM orders"


def test_a_real_timeout_is_recorded(actor, sqltools_config):
    sqltools_config(QUERY_TIMEOUT_SECONDS=1)
    sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT COUNT(*) FROM c"
    with pytest.raises(QueryTimeout):
        with audit_call(tool="execute_sql", actor=actor, sql=sql):
            query_run(sql=sql, alias="target")
    entry = AuditEntry.objects.get()
    assert entry.outcome == "timeout" and "longer than 1 s" in entry.message
    assert entry.duration_ms >= 900


@pytest.mark.parametrize("error, outcome, message", [
    (QueryTimeout("The query ran longer than 30 s."), "timeout", "The query ran longer than 30 s."),
    (ValueError("boom"), "error", "ValueError: boom"),
])
def test_other_errors_are_recorded_and_re_raised(actor, error, outcome, message):
    with pytest.raises(type(error)):
        with audit_call(tool="search", actor=actor, arguments={"query": "x"}):
            raise error
    entry = AuditEntry.objects.get()
    assert (entry.tool, entry.outcome, entry.message) == ("search", outcome, message)


def test_an_anonymous_call_is_recorded_without_a_user():
    with audit_call(tool="list_tables", actor=None):
        pass
    entry = AuditEntry.objects.get()
    assert (entry.user, entry.username, entry.client_id, entry.outcome) == (None, "", "", "ok")


def test_each_call_writes_exactly_one_entry(actor):
    for n in range(3):
        with audit_call(tool="describe_table", actor=actor, arguments={"table_name": f"t{n}"}):
            pass
    assert sorted(e.arguments["table_name"] for e in AuditEntry.objects.all()) == ["t0", "t1", "t2"]


def test_audit_off_writes_nothing(actor, sqltools_config):
    sqltools_config(AUDIT=False)
    with audit_call(tool="execute_sql", actor=actor, sql="SELECT 1"):
        pass
    with pytest.raises(QueryRefused):
        with audit_call(tool="execute_sql", actor=actor, sql="DROP TABLE orders"):
            raise QueryRefused("no")
    assert not AuditEntry.objects.exists()


def test_a_broken_audit_log_does_not_break_the_call(actor, monkeypatch, caplog):
    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit, "audit_insert", fail)
    with audit_call(tool="list_tables", actor=actor) as record:
        record.rows = 5
    assert "could not write the audit entry for list_tables" in caplog.text


def test_no_secret_is_ever_stored(actor, alice):
    secret_words = ("password", "secret", "token")
    assert not [f.name for f in dataclasses.fields(Actor) if any(w in f.name for w in secret_words)]
    assert not [f.name for f in AuditEntry._meta.fields if any(w in f.name for w in secret_words)]
    with audit_call(tool="execute_sql", actor=actor, sql="SELECT 1", arguments={"limit": 1}):
        pass
    stored = json.dumps(model_to_dict(AuditEntry.objects.get()), default=str)
    assert PASSWORD not in stored and alice.password not in stored
    assert "pbkdf2" not in stored and "md5$" not in stored


@pytest.fixture
def entries(actor):
    with audit_call(tool="execute_sql", actor=actor, sql="SELECT 'the ok one'"):
        pass
    bob = Actor(username="bob", client_name="Claude")
    with pytest.raises(QueryRefused):
        with audit_call(tool="execute_sql", actor=bob, sql="DROP TABLE bobs_table"):
            raise QueryRefused("DROP is not allowed.")
    return AuditEntry.objects.order_by("id")


def test_admin_changelist_lists_entries(admin_client, entries):
    response = admin_client.get("/admin/sqltools/auditentry/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "SELECT &#x27;the ok one&#x27;" in body and "DROP TABLE bobs_table" in body
    assert "By outcome" in body and "ChatGPT" in body and "Claude" in body


def test_admin_changelist_filters_by_outcome(admin_client, entries):
    body = admin_client.get("/admin/sqltools/auditentry/?outcome=refused").content.decode()
    assert "DROP TABLE bobs_table" in body and "the ok one" not in body
    body = admin_client.get("/admin/sqltools/auditentry/?outcome=ok").content.decode()
    assert "the ok one" in body and "bobs_table" not in body


def test_admin_search_and_read_only_detail(admin_client, entries):
    body = admin_client.get("/admin/sqltools/auditentry/?q=bob").content.decode()
    assert "bobs_table" in body and "the ok one" not in body
    refused = entries.get(outcome="refused")
    detail = admin_client.get(f"/admin/sqltools/auditentry/{refused.pk}/change/")
    assert detail.status_code == 200 and "DROP is not allowed." in detail.content.decode()
    assert admin_client.get("/admin/sqltools/auditentry/add/").status_code == 403
    assert admin_client.post(f"/admin/sqltools/auditentry/{refused.pk}/change/", {"sql": "x"}).status_code == 403
    assert entries.get(outcome="refused").sql == "DROP TABLE bobs_table"


def test_admin_requires_staff(client, entries):
    response = client.get("/admin/sqltools/auditentry/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.fixture
def audit_table_on(target_alias, monkeypatch):
    """The audit table on a target database, to write it through each backend's driver (user: no FK there)."""
    monkeypatch.setattr(AuditEntry._meta.get_field("user"), "db_constraint", False)
    connection = connections[target_alias]
    with connection.schema_editor() as editor:
        editor.create_model(AuditEntry)
    yield target_alias
    with connection.schema_editor() as editor:
        editor.delete_model(AuditEntry)


def test_the_batch_insert_writes_every_field_through_each_backend(audit_table_on):
    called = timezone.now()
    entries = [dict(created_at=called, tool="execute_sql", user_id=None, username="ünïcode", client_id="c-1",
                    client_name="Claude", sql=f"SELECT {n} -- 'quoted' %s", arguments={"limit": n, "names": ["a", "ß"]},
                    outcome="ok", message="", rule="", rows=n, duration_ms=1.5) for n in range(3)]
    entries.append(dict(entries[0], outcome="refused", message="masked", rule="mask *.customers.email", rows=None,
                        arguments={}))
    audit.audit_insert(entries, using=audit_table_on)
    assert list(AuditEntry.objects.using(audit_table_on).order_by("id").values(*entries[0])) == entries
