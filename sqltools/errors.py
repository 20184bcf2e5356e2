"""The errors sqltools raises. Each carries a sentence a user can act on and a stable code."""

from __future__ import annotations


class SqlToolError(Exception):
    """Base class: `str(error)` is the message for the user; `code` is for logs and audit."""

    code = "error"

    def __init__(self, message: str, *, rule: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.rule = rule  # for a refusal: the rule that refused ("mask *.customers.email"), kept in the audit log


class QueryRefused(SqlToolError):
    code = "refused"


class InvalidArgument(SqlToolError):
    code = "invalid_argument"


class TableNotFound(SqlToolError):
    code = "not_found"


class QueryTimeout(SqlToolError):
    code = "timeout"


class QueryFailed(SqlToolError):
    code = "query_error"


class TargetUnavailable(SqlToolError):
    """`category` says why (sqltools.diagnostics): unreachable, login_failed, timeout, tls or misconfigured."""

    code = "unavailable"

    def __init__(self, message: str, *, category: str | None = None) -> None:
        super().__init__(message)
        self.category = category
