"""The errors sqltools raises. Each carries a sentence a user can act on and a stable code."""

from __future__ import annotations

from typing import Any


class SqlToolError(Exception):
    """Base class: `str(error)` is the message for the user; `code` is for logs and audit."""

    code = "error"
    label = "error"  # how the audit log names this outcome

    def __init__(self, message: str, *, rule: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.rule = rule  # for a refusal: the rule that refused ("mask *.customers.email"), kept in the audit log


class QueryRefused(SqlToolError):
    code = label = "refused"


class InvalidArgument(SqlToolError):
    code, label = "invalid_argument", "invalid argument"


class TableNotFound(SqlToolError):
    code, label = "not_found", "not found"


class QueryTimeout(SqlToolError):
    code = label = "timeout"


class QueryFailed(SqlToolError):
    code, label = "query_error", "query error"


class TargetUnavailable(SqlToolError):
    """`category` says why (sqltools.diagnostics): unreachable, login_failed, timeout, tls or misconfigured."""

    code, label = "unavailable", "database unavailable"

    def __init__(self, message: str, *, category: str | None = None) -> None:
        super().__init__(message)
        self.category = category


class ApprovalRequired(SqlToolError):
    """The statement waits for its user's click on /approvals/<id> (sqltools.approvals); mcp_bridge.approvals tells
    the client how to get there."""

    code, label = "approval_needed", "waiting for approval"

    def __init__(self, message: str, *, approval: Any, username: str = "") -> None:
        super().__init__(message)
        self.approval, self.username = approval, username


class ApprovalInvalid(InvalidArgument):
    """The approval page's answer to a link that cannot be decided (unknown, expired, decided, another user's)."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


AUDITED_ERRORS: tuple[type[SqlToolError], ...] = (
    QueryRefused,
    InvalidArgument,
    TableNotFound,
    QueryTimeout,
    QueryFailed,
    TargetUnavailable,
    ApprovalRequired,
)
# A person's decision on an approval (sqltools.approvals), audited beside the tool calls.
DECISIONS = (("approved", "approved"), ("declined", "declined"))


def outcome_choices() -> list[tuple[str, str]]:
    """The audit log's outcomes: ok, each error's code, any other error, then the decisions on approvals."""
    return [
        ("ok", "ok"),
        *((error.code, error.label) for error in AUDITED_ERRORS),
        (SqlToolError.code, SqlToolError.label),
        *DECISIONS,
    ]
