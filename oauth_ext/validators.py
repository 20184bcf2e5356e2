"""DOT's request validator, refusing disabled clients (OAUTH2_VALIDATOR_CLASS points here).

A disabled client looks unknown: /authorize answers invalid_client without redirecting and
/token and /revoke answer invalid_client, so it can mint nothing new after an admin disables it.
"""

from __future__ import annotations

import logging

from oauth2_provider.oauth2_validators import OAuth2Validator as DotOAuth2Validator

from oauth_ext.clients import client_is_disabled

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
