"""Bearer tokens are DOT access tokens: looked up by checksum, checked for expiry and owner."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from django.utils import timezone
from mcp.server.auth.provider import AccessToken as McpAccessToken
from mcp.server.auth.provider import TokenVerifier
from oauth2_provider.models import get_access_token_model

from mcp_bridge.threads import in_thread

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenInfo:
    user_id: int
    username: str
    client_id: str
    client_name: str
    scopes: frozenset[str]
    resources: tuple[str, ...]
    expires_at: int


def token_lookup(raw_token: str) -> TokenInfo | None:
    """The live token's owner and grants, or None (unknown, revoked, expired, inactive user)."""
    checksum = hashlib.sha256(raw_token.encode("utf-8")).hexdigest()
    token = (
        get_access_token_model().objects.select_related("user", "application")
        .filter(token_checksum=checksum).first()
    )
    if token is None:
        logger.info("bearer token refused: unknown or revoked")
        return None
    if token.expires <= timezone.now():
        logger.info("bearer token refused: expired (client %s)", token.application.client_id if token.application else "-")
        return None
    if token.user is None or not token.user.is_active:
        logger.info("bearer token refused: no active user")
        return None
    application = token.application
    return TokenInfo(
        user_id=token.user.pk,
        username=token.user.get_username(),
        client_id=application.client_id if application else "",
        client_name=(application.name or application.client_id) if application else "",
        scopes=frozenset(token.scope.split()),
        resources=tuple(token.resource or ()),
        expires_at=int(token.expires.timestamp()),
    )


class DjangoTokenVerifier(TokenVerifier):
    """The mcp SDK's TokenVerifier over DOT's AccessToken table."""

    async def verify_token(self, token: str) -> McpAccessToken | None:
        info = await in_thread(token_lookup, token)
        if info is None:
            return None
        return McpAccessToken(
            token="",  # never keep the secret itself around
            client_id=info.client_id,
            scopes=sorted(info.scopes),
            expires_at=info.expires_at,
            resource=info.resources[0] if info.resources else None,
            subject=str(info.user_id),
            claims={"username": info.username, "client_name": info.client_name, "resources": list(info.resources)},
        )
