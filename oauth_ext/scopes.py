"""The two scopes this server grants (OAUTH2_PROVIDER["SCOPES"], read by DOT's settings scopes backend),
and their descriptions for the consent page; a request without `scope` (ChatGPT reconnecting, for
one) is granted DEFAULT_SCOPES, which is SCOPE_READ.
"""

from __future__ import annotations

from typing import NamedTuple

from oauth2_provider.settings import oauth2_settings

from sqltools.conf import sqltools_settings

SCOPE_READ = "sql:read"
SCOPE_WRITE = "sql:write"
WRITE_SCOPES = frozenset({SCOPE_WRITE})
READ_ONLY_NOTE = "This server is in read-only mode, so this permission changes nothing today."


class ScopeItem(NamedTuple):
    scope: str
    description: str
    writes: bool  # the consent page marks it: it lets the client change data


def scope_descriptions(scopes: list[str]) -> list[ScopeItem]:
    """Each scope in plain words for the consent page, noting when a write scope is moot."""
    items = []
    for scope in scopes:
        text = oauth2_settings.SCOPES.get(scope, scope)
        if scope in WRITE_SCOPES and sqltools_settings().READ_ONLY:
            text = f"{text} {READ_ONLY_NOTE}"
        items.append(ScopeItem(scope, text, scope in WRITE_SCOPES))
    return items
