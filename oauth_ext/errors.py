"""Protocol errors oauth_ext raises, and the one place they become RFC 6749/7591 JSON."""

from __future__ import annotations

from django.http import JsonResponse


class OAuthError(Exception):
    """An error a client can read: `error` is the RFC code, the message its description."""

    status_code = 400
    error = "invalid_request"

    def __init__(self, description: str = "", *, headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.headers = headers or {}


class InvalidClientMetadata(OAuthError):
    """RFC 7591 §3.2.2: a metadata field is invalid or the body is not a JSON object."""

    error = "invalid_client_metadata"


class InvalidRedirectURI(OAuthError):
    """RFC 7591 §3.2.2: a redirect URI is not allowed by this server's policy."""

    error = "invalid_redirect_uri"


class InvalidTarget(OAuthError):
    """RFC 8707 §2: the requested resource is not one this server issues tokens for."""

    error = "invalid_target"


class InvalidGrant(OAuthError):
    """RFC 6749 §5.2: the code or refresh token is invalid, or (RFC 7636) its PKCE verifier is missing or wrong."""

    error = "invalid_grant"


class UnsupportedGrantType(OAuthError):
    """RFC 6749 §5.2: this server issues tokens for the authorization-code and refresh grants only."""

    error = "unsupported_grant_type"


class RateLimited(OAuthError):
    status_code = 429
    error = "temporarily_unavailable"

    def __init__(self, description: str, *, retry_after: int) -> None:
        super().__init__(description, headers={"Retry-After": str(retry_after)})


def error_response(error: OAuthError) -> JsonResponse:
    body = {"error": error.error}
    if error.description:
        body["error_description"] = error.description
    response = JsonResponse(body, status=error.status_code)
    response["Cache-Control"] = "no-store"
    for name, value in error.headers.items():
        response[name] = value
    return response
