"""Authorization codes are single-use: presenting one again revokes what it produced (RFC 6749 §4.1.2).

The validator records each exchange (its code's checksum and the checksums of the tokens it
issued) and, when a code that no Grant matches any more was exchanged before, revokes those
tokens and every token rotated from them: the refresh token family goes through DOT's
RefreshToken.revoke_family, the access token row is deleted. Records are kept as long as a
refresh token lives (30 days when refresh tokens never age out).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model, refresh_token_expire_timedelta

from oauth_ext.models import CodeRedemption

logger = logging.getLogger(__name__)

RETENTION_WITHOUT_REFRESH_EXPIRY = timedelta(days=30)


def _checksum(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def code_redemption_record(*, code: str, token: dict[str, Any]) -> None:
    """Remember that `code` was exchanged for `token` (the token response DOT just saved)."""
    retention = refresh_token_expire_timedelta() or RETENTION_WITHOUT_REFRESH_EXPIRY
    CodeRedemption.objects.filter(redeemed_at__lt=timezone.now() - retention).delete()
    CodeRedemption.objects.create(
        code_checksum=_checksum(code),
        access_token_checksum=_checksum(token["access_token"]),
        refresh_token_checksum=_checksum(token["refresh_token"]) if token.get("refresh_token") else "",
    )


@transaction.atomic
def code_replay_revoke(*, code: str, client_id: str) -> bool:
    """If `code` was exchanged before, revoke every token issued from it; returns whether it was."""
    redemptions = list(CodeRedemption.objects.filter(code_checksum=_checksum(code)))
    if not redemptions:
        return False
    refresh_tokens = get_refresh_token_model()
    checksums = [redemption.refresh_token_checksum for redemption in redemptions if redemption.refresh_token_checksum]
    for refresh_token in refresh_tokens.objects.filter(token_checksum__in=checksums):
        if refresh_token.token_family:
            refresh_tokens.revoke_family(refresh_token.token_family)
        else:
            refresh_token.revoke()
    get_access_token_model().objects.filter(token_checksum__in=[r.access_token_checksum for r in redemptions]).delete()
    logger.warning("An authorization code of client %s was presented again: revoked the tokens it produced", client_id)
    return True
