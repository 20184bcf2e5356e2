"""What is our address, and whom do we trust: the one answer for Django requests and ASGI scopes.

The base URL is PUBLIC_URL when set; otherwise the request's scheme and host. Forwarded headers
(X-Forwarded-Proto, -Host, -For) count only when TRUST_PROXY_HEADERS says a proxy we run sets
them; then the client's address is the hop that proxy appended to X-Forwarded-For. The issuer
is the base URL itself (no trailing slash, no path), identical in the RFC 8414 metadata, the
RFC 9728 documents and the RFC 9207 `iss` response parameter. MCP_ENDPOINTS is the table of the
MCP endpoints mcp_bridge serves; each is a protected resource of its own (RFC 9728).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from starlette.datastructures import Headers


@dataclass(frozen=True)
class McpEndpoint:
    path: str  # the protected resource path (RFC 9728), where a client connects
    server: str  # "sql" (every tool) or "chatgpt" (search and fetch for ChatGPT's connectors)
    transport: str  # "streamable-http" or "sse" (legacy HTTP+SSE; POST also speaks Streamable HTTP)


MCP_ENDPOINTS: tuple[McpEndpoint, ...] = (
    McpEndpoint("/mcp", "sql", "streamable-http"),
    McpEndpoint("/sse", "sql", "sse"),
    McpEndpoint("/chatgpt/mcp", "chatgpt", "streamable-http"),
    McpEndpoint("/chatgpt/sse", "chatgpt", "sse"),
)
MCP_ENDPOINT_PATHS: tuple[str, ...] = tuple(endpoint.path for endpoint in MCP_ENDPOINTS)

Request = HttpRequest | Mapping[str, Any]  # a Django request, or an ASGI HTTP scope


def public_url() -> str:
    """PUBLIC_URL without its trailing slash, or ""."""
    return (settings.PUBLIC_URL or "").rstrip("/")


def proxy_headers_trusted() -> bool:
    return bool(settings.TRUST_PROXY_HEADERS)


def base_url(*, scheme: str, host: str) -> str:
    """PUBLIC_URL when configured, else scheme://host; never a trailing slash."""
    return public_url() or f"{scheme}://{host}"


def request_base_url(request: Request) -> str:
    """The base URL a client used to reach us (PUBLIC_URL when configured)."""
    if isinstance(request, HttpRequest):  # Django applies the same trust (settings: SECURE_PROXY_SSL_HEADER...)
        return base_url(scheme=request.scheme or "http", host=request.get_host())
    headers = Headers(scope=request)
    host = headers.get("host") or "localhost"
    if proxy_headers_trusted():
        host = (headers.get("x-forwarded-host") or host).split(",")[0].strip()
    return base_url(scheme=request.get("scheme", "http"), host=host)


def client_address(request: Request) -> str:
    """The caller's address: the hop our trusted proxy appended to X-Forwarded-For, else the peer's."""
    if isinstance(request, HttpRequest):
        forwarded, peer = request.META.get("HTTP_X_FORWARDED_FOR", ""), request.META.get("REMOTE_ADDR", "")
    else:
        forwarded, peer = Headers(scope=request).get("x-forwarded-for", ""), (request.get("client") or ("",))[0]
    if proxy_headers_trusted():
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return peer or "unknown"


def issuer_for_request(request: Request) -> str:
    """The authorization server's issuer identifier: the base URL itself."""
    return request_base_url(request)


def resource_for_path(request: Request, path: str) -> str:
    """The protected resource identifier of an MCP endpoint path ("" is the server as a whole)."""
    return request_base_url(request) + path


def resource_metadata_url(request: Request, path: str) -> str:
    """Where the RFC 9728 document of an MCP endpoint path is served."""
    return f"{request_base_url(request)}/.well-known/oauth-protected-resource{path}"
