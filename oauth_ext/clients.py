"""Revoking a client's tokens, and disabling and re-enabling clients.

Revoked means gone: every path (DOT's /revoke, the admin actions, disabling a client) deletes
the AccessToken row, and marks refresh tokens revoked, so a resource server that looks a token
up by checksum and finds nothing knows it is dead. Disabling a client also makes /authorize and
/token refuse it (oauth_ext.validators), so it cannot mint new ones.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import (
    AbstractApplication,
    get_access_token_model,
    get_grant_model,
    get_refresh_token_model,
)

from oauth_ext.models import DisabledClient

logger = logging.getLogger(__name__)


def client_is_disabled(client_id: str) -> bool:
    return DisabledClient.objects.filter(client_id=client_id).exists()


def client_tokens_revoke(applications: Iterable[AbstractApplication]) -> int:
    """Revoke every access and refresh token (and pending code) of these clients; returns access tokens revoked."""
    ids = [application.pk for application in applications]
    revoked = tokens_revoke(application_id__in=ids)
    logger.info("Revoked all tokens of %d client(s)", len(ids))
    return revoked


@transaction.atomic
def tokens_revoke(**match: Any) -> int:
    """Revoke the access and refresh tokens and pending codes that match (`user=…`, `application_id__in=…`).

    Returns the number of access tokens revoked.
    """
    now = timezone.now()
    get_refresh_token_model().objects.filter(**match, revoked__isnull=True).update(revoked=now, updated=now)
    get_grant_model().objects.filter(**match).delete()
    access_tokens = get_access_token_model()
    _, deleted = access_tokens.objects.filter(**match).delete()
    return deleted.get(access_tokens._meta.label, 0)


@transaction.atomic
def client_disable(application: AbstractApplication, *, by: AbstractBaseUser | None = None) -> None:
    """Disable the client and revoke its tokens, in one transaction: no token outlives the switch."""
    DisabledClient.objects.get_or_create(client_id=application.client_id, defaults={"disabled_by": by})
    client_tokens_revoke([application])
    logger.info("Disabled client %s", application.client_id)


def client_enable(application: AbstractApplication) -> None:
    DisabledClient.objects.filter(client_id=application.client_id).delete()
    logger.info("Re-enabled client %s", application.client_id)
