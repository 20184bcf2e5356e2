"""Who may connect an assistant, and who may hold sql:write.

Each right is a requirement in the settings: empty (any active user), `perm:<app>.<codename>` (a
Django permission, which groups can carry) or `group:<name>`. By default anyone active may connect
(MCP_CONNECT_REQUIRES="") and only holders of oauth_ext.write_sql may write
(MCP_WRITE_REQUIRES="perm:oauth_ext.write_sql"). The consent page offers only what the user may
have, the token endpoint issues only that (codes, refreshes), and the MCP token check reads the
rights afresh whenever a user, group or permission changes, so a lost right stops the next call.
"""

from __future__ import annotations

from typing import Iterable

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ImproperlyConfigured

from oauth_ext.conf import oauth_ext_settings
from oauth_ext.scopes import WRITE_SCOPES


def user_may_connect(user: AbstractBaseUser) -> bool:
    return _meets(user, oauth_ext_settings().CONNECT_REQUIRES)


def user_may_write(user: AbstractBaseUser) -> bool:
    return _meets(user, oauth_ext_settings().WRITE_REQUIRES)


def scopes_allowed(*, user: AbstractBaseUser, scopes: Iterable[str]) -> list[str]:
    """`scopes` less the write scopes the user may not hold."""
    may_write = None
    allowed = []
    for scope in scopes:
        if scope in WRITE_SCOPES:
            may_write = user_may_write(user) if may_write is None else may_write
            if not may_write:
                continue
        allowed.append(scope)
    return allowed


def _meets(user: AbstractBaseUser, requirement: str) -> bool:
    if not user.is_active:
        return False
    kind, _, name = requirement.partition(":")
    if not requirement:
        return True
    if kind == "perm":
        return user.has_perm(name)
    if kind == "group":
        return user.is_superuser or user.groups.filter(name=name).exists()
    raise ImproperlyConfigured(f"{requirement!r} is not a requirement: write perm:<app>.<codename> or group:<name>.")
