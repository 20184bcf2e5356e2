"""Client ID Metadata Documents (CIMD) under the same redirect policy as registration.

DOT fetches the document safely (https only, SSRF guards, size cap) and admits only hosts in
CIMD_ALLOWED_HOSTS; this fetcher also refuses documents whose URIs /register would refuse
(client_uris_check: the redirect policy, and no whitespace or control characters anywhere).
"""

from __future__ import annotations

from typing import Any

from oauth2_provider.cimd import CIMDError, SafeMetadataFetcher

from oauth_ext.errors import OAuthError
from oauth_ext.registration import client_uris_check


class PolicyMetadataFetcher(SafeMetadataFetcher):
    def fetch(self, client_id: str) -> tuple[dict[str, Any], int]:
        metadata, max_age = super().fetch(client_id)
        try:
            client_uris_check(metadata)
        except OAuthError as error:
            raise CIMDError(error.description) from error
        return metadata, max_age
