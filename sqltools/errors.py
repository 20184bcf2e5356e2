"""The errors sqltools raises. Each carries a sentence a user can act on and a stable code."""

from __future__ import annotations


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


AUDITED_ERRORS: tuple[type[SqlToolError], ...] = (QueryRefused, InvalidArgument, TableNotFound, QueryTimeout, QueryFailed,
                                                  TargetUnavailable)


def outcome_choices() -> list[tuple[str, str]]:
    """The audit log's outcomes: ok, each error's code, then any other error."""
    return [("ok", "ok"), *((error.code, error.label) for error in AUDITED_ERRORS), (SqlToolError.code, SqlToolError.label)]
