"""The two scopes this server grants, described in the words the consent page shows.

DOT reads them through SCOPES_BACKEND_CLASS = "oauth_ext.scopes.SqlScopes"; a request without
`scope` (ChatGPT reconnecting, for one) is granted SCOPE_READ.
"""

from __future__ import annotations

from oauth2_provider.scopes import BaseScopes

from sqltools.conf import sqltools_settings

SCOPE_READ = "sql:read"
SCOPE_WRITE = "sql:write"

SCOPES: dict[str, str] = {
    SCOPE_READ: "See the database’s tables and columns and read data with queries that change nothing.",
    SCOPE_WRITE: "Change data: insert, update and delete rows.",
}
READ_ONLY_NOTE = "This server is in read-only mode, so this permission changes nothing today."


class SqlScopes(BaseScopes):
    def get_all_scopes(self) -> dict[str, str]:
        return dict(SCOPES)

    def get_available_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        return list(SCOPES)

    def get_default_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        return [SCOPE_READ]


def scope_descriptions(scopes: list[str]) -> list[tuple[str, str]]:
    """(scope, plain-words description) for the consent page, noting when a write scope is moot."""
    items = []
    for scope in scopes:
        text = SCOPES.get(scope, scope)
        if scope == SCOPE_WRITE and sqltools_settings().READ_ONLY:
            text = f"{text} {READ_ONLY_NOTE}"
        items.append((scope, text))
    return items
