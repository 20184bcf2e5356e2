"""DOT's request validator, refusing disabled clients, blocked users and replayed codes (OAUTH2_VALIDATOR_CLASS).

A disabled client looks unknown: /authorize answers invalid_client without redirecting and
/token and /revoke answer invalid_client, so it can mint nothing new after an admin disables it.
A blocked or deactivated user's code or refresh token is invalid_grant, whichever client presents
it (oauth_ext.access): blocking revokes them all, and this refuses any that outlived the block;
DOT itself does not look at is_active when it refreshes.

An authorization code presented a second time is invalid_grant, as in DOT, and also revokes the
tokens its first exchange issued (oauth_ext.codes; RFC 6749 §4.1.2). Two exchanges racing past
validate_code both save tokens; the loser finds the Grant gone and revokes both.
"""

from __future__ import annotations

import hashlib
import logging

from oauth2_provider.models import get_access_token_model, get_refresh_token_model
from oauth2_provider.oauth2_validators import OAuth2Validator as DotOAuth2Validator
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError

from oauth_ext.access import user_is_blocked
from oauth_ext.clients import client_is_disabled
from oauth_ext.codes import code_redemption_record, code_replay_revoke
from oauth_ext.rights import scopes_allowed
from telemetry.metrics import oauth_event

logger = logging.getLogger(__name__)


class OAuth2Validator(DotOAuth2Validator):
    def _client_refused(self, request) -> bool:
        client = getattr(request, "client", None)
        if client is None or not client_is_disabled(client.client_id):
            return False
        logger.info("Refused disabled client %s", client.client_id)
        request.client = None
        return True

    def validate_client_id(self, client_id, request, *args, **kwargs) -> bool:
        return super().validate_client_id(client_id, request, *args, **kwargs) and not self._client_refused(request)

    def authenticate_client(self, request, *args, **kwargs) -> bool:
        return super().authenticate_client(request, *args, **kwargs) and not self._client_refused(request)

    def authenticate_client_id(self, client_id, request, *args, **kwargs) -> bool:
        return super().authenticate_client_id(client_id, request, *args, **kwargs) and not self._client_refused(request)

    def _user_refused(self, request) -> bool:
        user = getattr(request, "user", None)
        if user is None or (user.is_active and not user_is_blocked(user)):
            return False
        logger.info("Refused a token request for %s user %s", "blocked" if user.is_active else "inactive",
                    user.get_username())
        return True

    def validate_code(self, client_id, code, client, request, *args, **kwargs) -> bool:
        if super().validate_code(client_id, code, client, request, *args, **kwargs):
            return not self._user_refused(request)
        code_replay_revoke(code=code, client_id=client_id)
        return False

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs) -> bool:
        valid = super().validate_refresh_token(refresh_token, client, request, *args, **kwargs)
        return valid and not self._user_refused(request)

    def _save_bearer_token(self, token, request, *args, **kwargs) -> None:
        # DOT's documented hook, inside the transaction that saves the tokens. A code or refresh token
        # granted sql:write to a user who may no longer hold it gets a token without it (RFC 6749 §3.3).
        if request.user is not None and token.get("scope"):
            token["scope"] = " ".join(scopes_allowed(user=request.user, scopes=token["scope"].split()))
        super()._save_bearer_token(token, request, *args, **kwargs)
        if request.grant_type == "authorization_code":
            code_redemption_record(code=request.code, token=token)
        oauth_event("token_refreshed" if request.grant_type == "refresh_token" else "token_issued")

    def revoke_token(self, token, token_type_hint, request, *args, **kwargs) -> None:
        # /revoke answers 200 for any token (RFC 7009 §2.2); only one that was live for this client counts
        # (a user's own revocations count in oauth_ext.access). The lookup is DOT's: checksum and client.
        client = getattr(request.client, "pk", None)
        lookup = {"token_checksum": hashlib.sha256(token.encode("utf-8")).hexdigest(), "application_id": client}
        live = client is not None and (get_access_token_model().objects.filter(**lookup).exists()
                                       or get_refresh_token_model().objects.filter(**lookup, revoked__isnull=True)
                                       .exists())
        super().revoke_token(token, token_type_hint, request, *args, **kwargs)
        if live:
            oauth_event("token_revoked")

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs) -> None:
        try:
            super().invalidate_authorization_code(client_id, code, request, *args, **kwargs)
        except InvalidGrantError:
            code_replay_revoke(code=code, client_id=client_id)
            raise
