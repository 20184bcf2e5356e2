"""RFC 7591 registration policy on top of DOT's registration view.

DOT creates the Application and answers; this module decides what may be registered: a bounded
JSON object, the authorization-code grant only, redirect URIs the redirect policy allows, and no
whitespace or control character in any URI field (RFC 7591 names them `*_uri` / `*_uris`).
RFC 7592 (client self-management) is not offered.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from oauth2_provider.models import get_access_token_model
from oauth2_provider.settings import oauth2_settings

from oauth_ext.errors import InvalidClientMetadata
from oauth_ext.grants import grant_types as allowed_grant_types
from oauth_ext.redirects import redirect_uris_check, uri_characters_safe

RESPONSE_TYPES = frozenset({"code"})
DEFAULT_AUTH_METHOD = "client_secret_basic"  # RFC 7591 §2
MAX_CLIENT_NAME = 200
REGISTRATION_MANAGEMENT_FIELDS = frozenset({"registration_access_token", "registration_client_uri"})


def registration_body_parse(request: HttpRequest, *, max_bytes: int) -> dict[str, Any]:
    """The request's JSON object; InvalidClientMetadata for anything oversized or malformed."""
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit() or int(declared) > max_bytes:
        raise InvalidClientMetadata(f"The registration request must be a JSON object of at most {max_bytes} bytes.")
    try:
        body = request.body
    except RequestDataTooBig as error:
        raise InvalidClientMetadata(f"The registration request is larger than {max_bytes} bytes.") from error
    if len(body) > max_bytes:
        raise InvalidClientMetadata(f"The registration request is larger than {max_bytes} bytes.")
    try:
        metadata = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise InvalidClientMetadata("The registration request body must be valid JSON.") from error
    if not isinstance(metadata, dict):
        raise InvalidClientMetadata("The registration request body must be a JSON object.")
    return metadata


def _string_list(metadata: dict[str, Any], field: str, default: list[str]) -> list[str]:
    value = metadata.get(field, default)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidClientMetadata(f"{field} must be an array of strings.")
    return value


def _uri_field_values(field: str, value: object) -> list[object] | None:
    """The URIs a metadata field holds, or None if it is not a URI field (`client_uri#ja`: RFC 7591 §2.2)."""
    name = field.split("#", 1)[0]
    if name.endswith("_uri"):
        return [value]
    if name.endswith("_uris"):
        return value if isinstance(value, list) else [value]
    return None


def client_uris_check(metadata: dict[str, Any]) -> None:
    """Raise InvalidRedirectURI / InvalidClientMetadata for a URI any client would be refused (DCR and CIMD), or
    for a client_name that would not read on the pages as it is stored (client_name_check)."""
    client_name_check(metadata.get("client_name", ""))
    redirect_uris_check(metadata.get("redirect_uris"))
    for field, value in metadata.items():
        values = _uri_field_values(field, value) if field != "redirect_uris" else None
        if values is not None and not all(isinstance(uri, str) and uri_characters_safe(uri) for uri in values):
            raise InvalidClientMetadata(f"{field} must be a URI (or URIs) without whitespace or control characters.")


_NAME_UNSAFE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})  # controls, format (bidi), unassigned, breaks


def client_name_check(name: object) -> None:
    """The name the consent, connections and approval pages show: printable, and read in the order it is stored.

    A right-to-left override would let `moc.edualc` show as `claude.com`; a newline or zero-width character
    would hide a name's end. Letters of every script and ordinary spaces are fine."""
    if not isinstance(name, str) or len(name) > MAX_CLIENT_NAME:
        raise InvalidClientMetadata(f"client_name must be a string of at most {MAX_CLIENT_NAME} characters.")
    if name and not name.strip(" \u3164\u115f\u1160\uffa0"):  # spaces, or the Hangul fillers that look like them
        raise InvalidClientMetadata("client_name must not be blank.")
    if any(unicodedata.category(char) in _NAME_UNSAFE or (char.isspace() and char != " ") for char in name):
        raise InvalidClientMetadata("client_name must hold no control, formatting (such as a right-to-left "
                                    "override) or line-breaking characters.")


def client_metadata_check(metadata: dict[str, Any]) -> None:
    """Raise InvalidClientMetadata / InvalidRedirectURI unless this server can serve the client."""
    grant_types = set(_string_list(metadata, "grant_types", ["authorization_code"]))
    if "authorization_code" not in grant_types or not grant_types <= set(allowed_grant_types()):
        raise InvalidClientMetadata("grant_types must be authorization_code, optionally with refresh_token.")
    if not set(_string_list(metadata, "response_types", ["code"])) <= RESPONSE_TYPES:
        raise InvalidClientMetadata('response_types must be ["code"].')
    methods = oauth2_settings.OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED
    if metadata.get("token_endpoint_auth_method", DEFAULT_AUTH_METHOD) not in methods:
        raise InvalidClientMetadata(f"token_endpoint_auth_method must be one of {', '.join(methods)}.")
    client_uris_check(metadata)


def registration_response_complete(data: dict[str, Any], *, metadata: dict[str, Any], issued_at: int) -> dict[str, Any]:
    """Add what RFC 7591 §3.2.1 asks for and DOT leaves out; leave out DOT's RFC 7592 registration token.

    The caller also deletes that token (registration_tokens_discard), not just hides it: it would be
    a never-expiring bearer token without a user in the table the MCP endpoints look tokens up in,
    for a feature (RFC 7592 client self-management) that no MCP client uses and that would let a
    client change its redirect URIs outside the registration policy.
    """
    data = {key: value for key, value in data.items() if key not in REGISTRATION_MANAGEMENT_FIELDS}
    data.update(client_id_issued_at=issued_at, response_types=sorted(RESPONSE_TYPES))
    if "client_secret" in data:
        data["client_secret_expires_at"] = 0
        data["token_endpoint_auth_method"] = metadata.get("token_endpoint_auth_method", DEFAULT_AUTH_METHOD)
    return data


def registration_tokens_discard(*, client_id: str) -> None:
    get_access_token_model().objects.filter(
        application__client_id=client_id, scope=oauth2_settings.DCR_REGISTRATION_SCOPE
    ).delete()
