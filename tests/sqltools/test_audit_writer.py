"""The audit writer thread: tool calls do not wait for the INSERT, and no entry is ever dropped quietly."""

from __future__ import annotations

import logging

import pytest

from sqltools import audit
from sqltools.audit import Actor, AuditWriter, audit_call, audit_writer
from sqltools.models import AuditEntry

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")  # tests/conftest.py seeds every target

ACTOR = Actor(username="dora", client_id="client-9", client_name="Claude")


def _calls(count: int) -> None:
    for n in range(count):
        with audit_call(tool="execute_sql", actor=ACTOR, sql=f"SELECT {n}") as record:
            record.rows = 1


def test_entries_handed_to_the_writer_are_all_written_by_the_time_it_stops():
    with audit_writer():
        _calls(50)
    assert sorted(AuditEntry.objects.values_list("sql", flat=True)) == sorted(f"SELECT {n}" for n in range(50))
    assert audit._writer is None


def test_without_a_writer_each_call_writes_its_own_entry():
    _calls(1)
    assert AuditEntry.objects.get().client_name == "Claude"


def test_a_full_queue_makes_the_caller_write_its_entry():
    writer = AuditWriter(max_queued=1)  # not started: nothing drains the queue
    audit._writer = writer
    try:
        _calls(3)
    finally:
        audit._writer = None
    assert AuditEntry.objects.count() == 2 and writer.submit(object()) is False


def test_a_failed_batch_is_retried_row_by_row(monkeypatch):
    one_at_a_time, batches = audit.audit_insert, []

    def broken(entries, **kwargs):
        batches.append(len(entries))
        if len(entries) > 1:
            raise RuntimeError("batch refused")
        return one_at_a_time(entries, **kwargs)

    save, entries = audit._save, []
    monkeypatch.setattr(audit, "_save", entries.extend)  # gather three calls' entries, as the writer's queue does
    _calls(3)
    monkeypatch.setattr(audit, "_save", save)
    monkeypatch.setattr(audit, "audit_insert", broken)
    save(entries)  # the writer's batch of three
    assert batches == [3, 1, 1, 1]
    assert sorted(AuditEntry.objects.values_list("sql", flat=True)) == ["SELECT 0", "SELECT 1", "SELECT 2"]


def test_an_entry_that_cannot_be_written_is_logged_in_full(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(audit, "audit_insert", broken)
    with caplog.at_level(logging.ERROR, logger="sqltools.audit"):
        _calls(1)
    [record] = [r for r in caplog.records if r.name == "sqltools.audit"]
    assert "SELECT 0" in record.getMessage() and "dora" in record.getMessage() and "Claude" in record.getMessage()
