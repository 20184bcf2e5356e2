"""The grants this server offers: which token requests it accepts, and tokens an operator issues."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import QueryDict
from django.utils import timezone
from oauth2_provider.models import AbstractApplication, get_access_token_model, set_token_value
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import generate_token

from oauth_ext.errors import InvalidGrant, UnsupportedGrantType
from oauth_ext.resources import resources_check

logger = logging.getLogger(__name__)



def grant_types() -> tuple[str, ...]:
    """The grants the metadata announces (OAUTH2_PROVIDER's OAUTH2_GRANT_TYPES_SUPPORTED): the only ones accepted."""
    return tuple(oauth2_settings.OAUTH2_GRANT_TYPES_SUPPORTED)


def token_request_check(params: QueryDict, *, base: str) -> None:
    """What DOT would accept but this server does not: other grants, a missing verifier, a foreign resource."""
    grant_type = params.get("grant_type")
    if grant_type not in grant_types():
        raise UnsupportedGrantType("grant_type must be authorization_code or refresh_token.")
    if grant_type == "authorization_code" and not params.get("code_verifier"):
        # Every code here was issued against an S256 challenge (RFC 7636 §4.6).
        raise InvalidGrant("code_verifier is required: the code was issued with a PKCE challenge.")
    resources_check(params.getlist("resource"), base=base)


def token_issue(*, user: AbstractBaseUser, application: AbstractApplication, scope: str, expires_in: int) -> str:
    """Create an access token (no refresh token, no resource restriction) and return its value, shown once."""
    raw = generate_token()
    access_token = get_access_token_model()(
        user=user, application=application, scope=scope, expires=timezone.now() + timedelta(seconds=expires_in)
    )
    set_token_value(access_token, raw)
    access_token.save()
    logger.info("Issued an access token for %s via %s (scope %s)", user.get_username(), application, scope)
    return raw
