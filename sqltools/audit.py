"""Record every tool call: who (user and OAuth client), what (tool, SQL), how it ended."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from sqltools.conf import sqltools_settings
from sqltools.errors import SqlToolError

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
    rows: int | None = None


@contextmanager
def audit_call(*, tool: str, actor: Actor | None, sql: str = "", arguments: dict[str, Any] | None = None) -> Iterator[AuditRecord]:
    """Time the block and write one AuditEntry, whatever the outcome; re-raise errors."""
    record = AuditRecord()
    started = time.perf_counter()
    outcome, message = "ok", ""
    try:
        yield record
    except SqlToolError as error:
        outcome, message = error.code, error.message
        raise
    except Exception as error:
        outcome, message = "error", f"{type(error).__name__}: {error}"
        raise
    finally:
        _write(tool=tool, actor=actor or Actor(), sql=sql, arguments=arguments or {}, outcome=outcome,
               message=message, rows=record.rows, duration_ms=(time.perf_counter() - started) * 1000)


def _write(*, tool: str, actor: Actor, **fields: Any) -> None:
    if not sqltools_settings().AUDIT:
        return
    from sqltools.models import AuditEntry

    try:
        AuditEntry.objects.create(
            tool=tool, user_id=actor.user_id, username=actor.username,
            client_id=actor.client_id, client_name=actor.client_name, **fields,
        )
    except Exception:  # the audit log must never take a tool call down with it
        logger.exception("could not write the audit entry for %s", tool)
