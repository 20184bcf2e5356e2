"""The refusals an MCP endpoint answers before the mcp SDK sees the request, rendered in one place.

401 and 403 carry the RFC 6750 challenge that points at the endpoint's RFC 9728 metadata (MCP
authorization spec); 413 is a JSON-RPC error, since the body was meant to be one.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import Scope, Send

from oauth_ext.discovery import resource_metadata_url
from oauth_ext.scopes import SCOPE_READ


class GateRefusal(Exception):
    status_code: int = 400
    error: str | None = None  # the RFC 6750 error code in the challenge (None: a bare challenge)
    challenge: bool = True
    reason: str = "refused"  # the label of mcp_http_auth_refusals_total (telemetry.metrics)

    def __init__(self, description: str, *, scope_needed: str = SCOPE_READ) -> None:
        super().__init__(description)
        self.description, self.scope_needed = description, scope_needed

    def body(self) -> dict[str, Any]:
        return {"error": self.error or "invalid_request", "error_description": self.description}


class TokenMissing(GateRefusal):
    status_code, reason = 401, "missing_token"


class TokenInvalid(GateRefusal):  # unknown, expired, revoked, or issued for another server
    status_code, error, reason = 401, "invalid_token", "invalid_token"


class ScopeInsufficient(GateRefusal):
    status_code, error, reason = 403, "insufficient_scope", "insufficient_scope"


class BodyTooLarge(GateRefusal):
    status_code, challenge, reason = 413, False, "body_too_large"

    def body(self) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": self.description}}


def challenge_headers(scope: Scope, resource_path: str, *, error: str | None = None,
                      scope_needed: str = SCOPE_READ) -> list[tuple[bytes, bytes]]:
    """WWW-Authenticate: Bearer with the endpoint's resource_metadata and the scope it needs."""
    parts = [f'resource_metadata="{resource_metadata_url(scope, resource_path)}"', f'scope="{scope_needed}"']
    if error:
        parts.insert(0, f'error="{error}"')
    return [(b"www-authenticate", ("Bearer " + ", ".join(parts)).encode())]


async def refusal_send(send: Send, refusal: GateRefusal, *, scope: Scope, resource_path: str) -> None:
    headers = challenge_headers(scope, resource_path, error=refusal.error, scope_needed=refusal.scope_needed) \
        if refusal.challenge else []
    payload = json.dumps(refusal.body()).encode()
    await send({"type": "http.response.start", "status": refusal.status_code, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()), *headers]})
    await send({"type": "http.response.body", "body": payload})
