"""Record every tool call: who (user and OAuth client), what (tool, SQL), how it ended."""

from __future__ import annotations

import json
import logging
import queue
import secrets
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Iterator

from django.db import connections, models, router, transaction
from django.utils import timezone

from sqltools.conf import sqltools_settings
from sqltools.connections import connections_refresh
from sqltools.errors import SqlToolError
from sqltools.governance import access_for_user_id, access_scope
from sqltools.tags import call_tag_scope
from telemetry import metrics, tracing

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    """Who is calling. The caller (the MCP bridge) fills it from the access token."""

    user_id: int | None = None
    username: str = ""
    client_id: str = ""
    client_name: str = ""


@dataclass
class AuditRecord:
    """What the block tells the entry (rows), and what the entry will say: its audit id, known before any
    statement runs (statement tags carry it), and how the call ended."""

    rows: int | None = None
    audit_id: str = ""
    outcome: str = "ok"
    rule: str = ""


@contextmanager
def audit_call(
    *, tool: str, actor: Actor | None, sql: str = "", arguments: dict[str, Any] | None = None
) -> Iterator[AuditRecord]:
    """Time the block and write one AuditEntry, whatever the outcome; re-raise errors."""
    record = AuditRecord(audit_id=secrets.token_hex(8))
    started = time.perf_counter()
    message = ""
    try:
        yield record
    except SqlToolError as error:
        record.outcome, message, record.rule = error.code, error.message, error.rule
        raise
    except Exception as error:
        record.outcome, message = "error", f"{type(error).__name__}: {error}"
        raise
    finally:
        _write(
            tool=tool,
            actor=actor or Actor(),
            sql=sql,
            arguments=arguments or {},
            outcome=record.outcome,
            message=message,
            rule=record.rule,
            rows=record.rows,
            duration_ms=(time.perf_counter() - started) * 1000,
            audit_id=record.audit_id,
        )


@contextmanager
def tool_call(
    *, tool: str, actor: Actor, sql: str = "", arguments: dict[str, Any] | None = None
) -> Iterator[AuditRecord]:
    """One tool call made as `actor`: audited (audit_call) under the caller's data policies (sqltools.governance).

    Every tool path runs its work inside this: the MCP tools and the /records/ page alike. Its statements
    carry the call's tag (sqltools.tags) with the audit id, which a trace span of the call holds too.
    """
    with (
        audit_call(tool=tool, actor=actor, sql=sql, arguments=arguments) as record,
        tracing.span(f"tool {tool}", {"mcp.tool": tool, "mcp.audit_id": record.audit_id}),
        call_tag_scope(
            client=actor.client_name,
            user_id=actor.user_id,
            username=actor.username,
            tool=tool,
            audit_id=record.audit_id,
            traceparent=tracing.traceparent(),
        ),
        access_scope(access_for_user_id(user_id=actor.user_id, client=actor.client_name, client_id=actor.client_id)),
    ):
        yield record


def audit_event(*, tool: str, actor: Actor, sql: str, arguments: dict[str, Any], outcome: str, message: str) -> None:
    """One AuditEntry for something that is not a tool call (a person approving or declining a statement)."""
    _write(
        tool=tool,
        actor=actor,
        sql=sql,
        arguments=arguments,
        outcome=outcome,
        message=message,
        rule="",
        rows=None,
        duration_ms=0.0,
    )


def _write(*, tool: str, actor: Actor, **fields: Any) -> None:
    if not sqltools_settings().AUDIT:
        return
    entry = dict(
        created_at=timezone.now(),
        tool=tool,
        user_id=actor.user_id,
        username=actor.username,
        client_id=actor.client_id,
        client_name=actor.client_name,
        **fields,
    )
    writer = _writer
    if writer is None or not writer.submit(entry):
        _save([entry])


def _save(entries: list[dict[str, Any]]) -> None:
    """Write entries, a batch in one INSERT; one that cannot be written is logged in full, never dropped quietly."""
    from sqltools.models import AuditEntry

    try:  # the audit log must never take a tool call down with it
        audit_insert(entries, using=router.db_for_write(AuditEntry))
    except Exception:
        if len(entries) > 1:
            for entry in entries:
                _save([entry])
            return
        metrics.AUDIT_FAILURES.inc()
        logger.exception("could not write the audit entry for %s: %s", entries[0]["tool"], _describe(entries[0]))


def audit_insert(entries: list[dict[str, Any]], *, using: str) -> None:
    """One INSERT of many AuditEntry rows, in one transaction.

    Not bulk_create: a model instance and every field's preparation cost ~35 µs a row, more than
    the rest of a `SELECT 1` tool call. Text and number fields hold str, int, float or None, which
    every driver takes as they are; any other field (JSON, datetime) is prepared by the model.
    """
    from sqltools.models import AuditEntry

    connection = connections[using]
    fields = [f for f in AuditEntry._meta.concrete_fields if not f.primary_key]
    prepared = [not isinstance(f, _PLAIN_FIELDS) for f in fields]
    quote = connection.ops.quote_name
    sql = (f"INSERT INTO {quote(AuditEntry._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    defaults = {f.attname: f.get_default() for f in fields if f.has_default() or f.blank}  # e.g. no refusing rule
    rows = [[f.get_db_prep_save(value, connection) if prepare else value
             for f, prepare in zip(fields, prepared)
             for value in (entry[f.attname] if f.attname in entry else defaults[f.attname],)] for entry in entries]
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.executemany(sql, rows)


_PLAIN_FIELDS = (models.CharField, models.TextField, models.IntegerField, models.FloatField, models.ForeignKey)


def audit_prune(*, older_than: timedelta, by: str = "") -> int:
    """Delete the entries older than `older_than` and record, in the same transaction, that it was done (and by whom).

    The one way entries leave the log (the admin cannot delete them). Returns how many were deleted.
    """
    from sqltools.models import AuditEntry

    using = router.db_for_write(AuditEntry)
    now = timezone.now()
    cutoff = now - older_than
    with transaction.atomic(using=using):
        deleted, _ = AuditEntry.objects.using(using).filter(created_at__lt=cutoff).delete()
        audit_insert([dict(
            created_at=now, tool="audit_prune", user_id=None, username="", client_id="", client_name="manage.py",
            arguments={"older_than_seconds": int(older_than.total_seconds()), "cutoff": cutoff.isoformat(),
                       "run_by": by},
            sql="",
            outcome="ok", message=f"Deleted {deleted} audit entries older than {cutoff:%Y-%m-%d %H:%M:%S %Z}.", rule="",
            rows=deleted, duration_ms=(timezone.now() - now).total_seconds() * 1000,
        )], using=using)
    logger.info("audit_prune deleted %d entries older than %s", deleted, cutoff.isoformat())
    return deleted


def _describe(entry: dict[str, Any]) -> str:
    return json.dumps(entry, default=str)


class AuditWriter:
    """Writes audit entries from one thread, in batches, so that a tool call does not wait for the INSERT.

    Nothing is dropped: with the queue full the caller writes its own entry, a failed batch is retried
    row by row, an entry that still cannot be written is logged in full, and stopping writes what is
    queued. A hard kill (SIGKILL, out of memory) loses what is queued: at most the last `linger` (20 ms)
    of entries, plus the batch being written.
    """

    def __init__(self, *, max_queued: int = 10_000, max_batch: int = 200, linger: float = 0.02) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(max_queued)
        self._max_batch, self._linger = max_batch, linger
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)

    def submit(self, entry: Any) -> bool:
        try:
            self._queue.put_nowait(entry)
            return True
        except queue.Full:
            return False

    def start(self) -> None:
        self._thread.start()

    def stop(self, *, timeout: float = 30) -> None:
        """Write what is queued (the caller no longer submits), then end the thread."""
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.error("the audit writer did not finish within %g s; its current batch may be unwritten", timeout)
        while not self._queue.empty():
            entry = self._queue.get_nowait()
            if entry is not _STOP:
                logger.error("audit entry not written before shutdown: %s", _describe(entry))

    def _run(self) -> None:
        stopping = False
        while not (stopping and self._queue.empty()):
            batch = self._next_batch()
            stopping = stopping or _STOP in batch
            entries = [entry for entry in batch if entry is not _STOP]
            if entries:
                _fresh_connections()
                _save(entries)  # logs what it cannot write, never raises

    def _next_batch(self) -> list[Any]:
        """The next entry, and whatever else arrives within `linger` seconds: one INSERT and one commit for all.

        The thread sleeps through the linger rather than waiting on the queue, which would wake it
        (and take the GIL from the event loop) once per entry.
        """
        batch = [self._queue.get()]
        if batch[0] is not _STOP:
            time.sleep(self._linger)
        while len(batch) < self._max_batch and batch[-1] is not _STOP:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        metrics.AUDIT_QUEUE.set(self._queue.qsize())  # what waits behind this batch, once per batch
        return batch


def _fresh_connections() -> None:
    """The writer thread sees no request signals: drop a broken or expired connection (sqltools.connections)."""
    try:
        connections_refresh()
    except Exception:
        logger.exception("the audit writer could not check its database connection")


_STOP = object()
_writer: AuditWriter | None = None


@contextmanager
def audit_writer() -> Iterator[None]:
    """While this runs, entries go through an AuditWriter (the MCP server's lifespan); else each call writes its own."""
    global _writer
    writer = AuditWriter()
    writer.start()
    _writer = writer
    try:
        yield
    finally:
        _writer = None
        writer.stop()
