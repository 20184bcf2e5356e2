"""A user's OAuth access: the clients they connected, revoking them, and blocking the user.

A connection is a client for which the user holds something live: an unexpired access token,
a refresh token that was not revoked, or a pending authorization code. "Last used" is when the
client last obtained a token for the user: a client in use refreshes its access token at least
every ACCESS_TOKEN_EXPIRE_SECONDS, so that is as fresh as the token tables can tell.

Blocking a user revokes everything they hold and keeps a BlockedUser row; while it exists
/authorize shows an error page, /token refuses their codes and refresh tokens
(oauth_ext.validators) and the MCP token check refuses their tokens (mcp_bridge.verifier).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import (
    AbstractApplication,
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_refresh_token_model,
)

from oauth_ext.clients import tokens_revoke
from oauth_ext.models import BlockedUser, DisabledClient
from telemetry.metrics import oauth_event

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Connection:
    application: AbstractApplication
    authorized_at: datetime
    last_used_at: datetime | None
    scopes: tuple[str, ...]
    live_access_tokens: int
    enabled: bool


def user_is_blocked(user: AbstractBaseUser) -> bool:
    """Whether the user is blocked; reads `user.oauth_block`, so select_related("oauth_block") saves the query."""
    return hasattr(user, "oauth_block")


@transaction.atomic
def user_block(*, user: AbstractBaseUser, by: AbstractBaseUser | None = None) -> int:
    """Block the user and revoke every token and code they hold; returns the access tokens revoked."""
    BlockedUser.objects.get_or_create(user=user, defaults={"blocked_by": by})
    revoked = tokens_revoke(user=user)
    logger.info("Blocked %s from OAuth access and revoked %d access token(s)", user.get_username(), revoked)
    return revoked


def user_unblock(*, user: AbstractBaseUser) -> None:
    BlockedUser.objects.filter(user=user).delete()
    logger.info("Unblocked %s", user.get_username())


def user_client_revoke(*, user: AbstractBaseUser, application: AbstractApplication) -> int:
    """Revoke what the user holds for one client (the "your connections" page); returns access tokens revoked."""
    revoked = tokens_revoke(user=user, application=application)
    oauth_event("token_revoked", revoked)
    logger.info("%s revoked their connection to client %s", user.get_username(), application.client_id)
    return revoked


def user_connections(*, user: AbstractBaseUser) -> list[Connection]:
    """The clients this user has connected, most recently used first."""
    now = timezone.now()
    rows = _rows_by_client(user)
    connected = {pk for pk, mine in rows.items() if _live(mine, now)}
    applications = get_application_model().objects.in_bulk(connected)
    client_ids = [application.client_id for application in applications.values()]
    disabled = set(DisabledClient.objects.filter(client_id__in=client_ids).values_list("client_id", flat=True))
    connections = [_connection(application, rows[pk], now, enabled=application.client_id not in disabled)
                   for pk, application in applications.items()]
    return sorted(connections, key=lambda c: c.last_used_at or c.authorized_at, reverse=True)


def _rows_by_client(user: AbstractBaseUser) -> dict[int, dict[str, list[dict]]]:
    """The user's access tokens, refresh tokens and unexpired codes, by client."""
    queries = {
        "access": get_access_token_model().objects.values("application_id", "created", "expires", "scope"),
        "refresh": get_refresh_token_model().objects.values("application_id", "created", "revoked", "token_family"),
        "grants": get_grant_model().objects.filter(expires__gt=timezone.now()).values("application_id", "created",
                                                                                        "scope"),
    }
    rows: dict[int, dict[str, list[dict]]] = defaultdict(lambda: {"access": [], "refresh": [], "grants": []})
    for kind, query in queries.items():
        for row in query.filter(user=user):
            rows[row["application_id"]][kind].append(row)
    return rows


def _live(mine: dict[str, list[dict]], now: datetime) -> bool:
    return (any(row["expires"] > now for row in mine["access"]) or bool(mine["grants"])
            or any(row["revoked"] is None for row in mine["refresh"]))


def _connection(application: AbstractApplication, mine: dict[str, list[dict]], now: datetime, *,
                enabled: bool) -> Connection:
    """Authorized: the first token of the refresh-token families still alive (rotation keeps the family)."""
    families = {row["token_family"] for row in mine["refresh"] if row["revoked"] is None and row["token_family"]}
    current = [row for row in mine["refresh"] if row["revoked"] is None or row["token_family"] in families]
    live_access = [row for row in mine["access"] if row["expires"] > now]
    return Connection(
        application=application,
        authorized_at=min(row["created"] for row in (*current, *live_access, *mine["grants"])),
        last_used_at=max((row["created"] for row in (*mine["access"], *mine["refresh"])), default=None),
        scopes=tuple(sorted({scope for row in (*mine["access"], *mine["grants"]) for scope in row["scope"].split()})),
        live_access_tokens=len(live_access),
        enabled=enabled,
    )
