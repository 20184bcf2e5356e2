"""The server's public address, its issuer identifier and the MCP endpoints it protects.

The issuer is the base URL with no trailing slash and no path, identical in the RFC 8414
metadata, the RFC 9728 documents and the RFC 9207 `iss` response parameter. It comes from
PUBLIC_URL when set; otherwise from the request (whose scheme and host honour X-Forwarded-*
only when TRUST_PROXY_HEADERS told Django to trust them).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

# The MCP transports mcp_bridge serves; each is a protected resource of its own (RFC 9728).
MCP_ENDPOINT_PATHS: tuple[str, ...] = ("/mcp", "/sse", "/chatgpt/mcp", "/chatgpt/sse")


def base_url(*, scheme: str, host: str) -> str:
    """PUBLIC_URL when configured, else scheme://host; never a trailing slash."""
    public_url = (getattr(settings, "PUBLIC_URL", "") or "").rstrip("/")
    return public_url or f"{scheme}://{host}"


def base_url_for_request(request: HttpRequest) -> str:
    return base_url(scheme=request.scheme or "http", host=request.get_host())


def issuer_for_request(request: HttpRequest) -> str:
    """The authorization server's issuer identifier: the base URL itself."""
    return base_url_for_request(request)


def resource_for_path(request: HttpRequest, path: str) -> str:
    """The protected resource identifier of an MCP endpoint path ("" is the server as a whole)."""
    return base_url_for_request(request) + path
