"""manage.py audit_prune: the one way entries leave the audit log, and it leaves an entry itself."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from sqltools.audit import audit_insert
from sqltools.models import AuditEntry

pytestmark = pytest.mark.django_db


def _entry_aged(age: timedelta, sql: str) -> None:
    audit_insert([dict(created_at=timezone.now() - age, tool="execute_sql", user_id=None, username="alice",
                       client_id="c", client_name="Claude", arguments={}, sql=sql, outcome="ok", message="",
                       rows=1, duration_ms=1.0)], using="default")


def _prune(age: str) -> str:
    out = StringIO()
    call_command("audit_prune", f"--older-than={age}", stdout=out)
    return out.getvalue()


def test_older_entries_go_newer_stay_and_the_prune_is_recorded():
    _entry_aged(timedelta(days=120), "SELECT 'old'")
    _entry_aged(timedelta(days=91), "SELECT 'just old'")
    _entry_aged(timedelta(days=89), "SELECT 'recent'")
    _entry_aged(timedelta(minutes=1), "SELECT 'now'")
    assert "Deleted 2 audit entries older than 90d." in _prune("90d")
    assert set(AuditEntry.objects.exclude(tool="audit_prune").values_list("sql", flat=True)) == {
        "SELECT 'recent'", "SELECT 'now'"}
    record = AuditEntry.objects.get(tool="audit_prune")
    assert (record.outcome, record.rows, record.client_name) == ("ok", 2, "manage.py")
    assert record.arguments["older_than_seconds"] == 90 * 86400 and "Deleted 2 audit entries" in record.message


def test_hours_are_accepted_and_each_run_is_recorded():
    _entry_aged(timedelta(hours=30), "SELECT 'a day and more'")
    _entry_aged(timedelta(hours=2), "SELECT 'this morning'")
    _prune("24h")
    _prune("24H")
    assert list(AuditEntry.objects.exclude(tool="audit_prune").values_list("sql", flat=True)) == [
        "SELECT 'this morning'"
    ]
    assert list(AuditEntry.objects.filter(tool="audit_prune").order_by("id").values_list("rows", flat=True)) == [1, 0]


@pytest.mark.parametrize("age", ["90", "90m", "ninety days", "-5d", "0d", "0h"])
def test_an_age_it_cannot_read_is_refused_and_nothing_is_deleted(age):
    _entry_aged(timedelta(days=400), "SELECT 'old'")
    with pytest.raises(CommandError, match="90d|zero"):
        _prune(age)
    assert AuditEntry.objects.count() == 1
