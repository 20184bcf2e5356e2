"""Where a bearer token is verified: DOT's access token, its owner, its rights and its audience.

A token is looked up by checksum (`select_related` user and client), refused when unknown,
revoked, expired, or owned by a user who is inactive, blocked or without the right to connect,
and refused when it was issued for another server (RFC 8707 audience). Every refusal returns
None and logs why. mcp_bridge/token_cache.py remembers the answers; mcp_bridge/gate.py asks here.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from dataclasses import dataclass

from django.utils import timezone
from mcp.server.auth.provider import AccessToken as McpAccessToken
from mcp.server.auth.provider import TokenVerifier
from oauth2_provider.models import get_access_token_model

from mcp_bridge.token_cache import token_remembered, token_remembered_async
from oauth_ext.access import user_is_blocked
from oauth_ext.resources import resource_allowed
from oauth_ext.rights import scopes_allowed, user_may_connect

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


def token_check(raw_token: str) -> TokenInfo | None:
    """The live token's owner and grants, or None; remembered (mcp_bridge/token_cache.py)."""
    return token_remembered(_checksum(raw_token), _token_lookup)


async def token_check_async(raw_token: str) -> TokenInfo | None:
    """token_check for the event loop: with a Redis cache, a remembered token needs no worker thread."""
    return await token_remembered_async(_checksum(raw_token), _token_lookup)


def _checksum(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode("utf-8")).hexdigest()  # DOT's token_checksum


def _token_lookup(checksum: str) -> TokenInfo | None:
    model = get_access_token_model()
    try:
        token = model.objects.select_related("user__oauth_block", "application").get(token_checksum=checksum)
    except model.DoesNotExist:
        logger.info("bearer token refused: unknown or revoked")
        return None
    if token.expires <= timezone.now():
        logger.info(
            "bearer token refused: expired (client %s)", token.application.client_id if token.application else "-"
        )
        return None
    if token.user is None or not user_may_connect(token.user) or user_is_blocked(token.user):
        logger.info("bearer token refused: no active user (missing, inactive, blocked or without the right to connect)")
        return None
    application = token.application
    return TokenInfo(
        user_id=token.user.pk,
        username=token.user.get_username(),
        client_id=application.client_id if application else "",
        client_name=(application.name or application.client_id) if application else "",
        scopes=frozenset(scopes_allowed(user=token.user, scopes=token.scope.split())),  # rights read now, not at issue
        resources=tuple(token.resource or ()),
        expires_at=int(token.expires.timestamp()),
    )


def issued_for_us(access: McpAccessToken, *, base: str) -> bool:
    """RFC 8707 audience: no resource (valid for the whole server) or one of this server's URLs."""
    resources = (access.claims or {}).get("resources") or []
    return not resources or any(resource_allowed(r, base=base) for r in resources)


class DjangoTokenVerifier(TokenVerifier):
    """The mcp SDK's TokenVerifier over DOT's AccessToken table."""

    async def verify_token(self, token: str) -> McpAccessToken | None:
        info = await token_check_async(token)
        return None if info is None else _mcp_access_token(info)

    async def verify_for(self, token: str, *, base: str) -> McpAccessToken | None:
        """verify_token, and None as well when the token was issued for another server than `base`."""
        access = await self.verify_token(token)
        if access is not None and not issued_for_us(access, base=base):
            logger.info("bearer token refused: issued for %s, not this server", (access.claims or {}).get("resources"))
            return None
        return access


@functools.lru_cache(maxsize=1024)  # a remembered check returns the same TokenInfo: build its pydantic model once
def _mcp_access_token(info: TokenInfo) -> McpAccessToken:
    return McpAccessToken(
        token="",  # never keep the secret itself around
        client_id=info.client_id,
        scopes=sorted(info.scopes),
        expires_at=info.expires_at,
        resource=info.resources[0] if info.resources else None,
        subject=str(info.user_id),
        claims={"username": info.username, "client_name": info.client_name, "resources": list(info.resources)},
    )
