"""Helpers for the OAuth tests: the requests an MCP client and a browser make, and token lookups."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from django.test import Client
from oauth2_provider.models import get_access_token_model

CLAUDE_REDIRECT = "https://claude.ai/api/mcp/auth_callback"
CHATGPT_REDIRECT = "https://chatgpt.com/connector_platform_oauth_redirect"
PASSWORD = "correct horse battery staple"


@dataclass
class Pkce:
    verifier: str
    challenge: str

    @classmethod
    def make(cls) -> Pkce:
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode())


class OAuthHelper:
    """The requests an MCP client and a browser make, through one Django test client."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def register(self, **metadata) -> dict:
        response = self.register_response(**metadata)
        assert response.status_code == 201, response.content
        return response.json()

    def register_response(self, **metadata):
        body = {"client_name": "Claude", "redirect_uris": [CLAUDE_REDIRECT], "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"], **metadata}
        return self.client.post("/register", json.dumps(body), content_type="application/json")

    def authorize_get(self, app: dict, pkce: Pkce, **params):
        query = {"response_type": "code", "client_id": app["client_id"], "state": "xyz",
                 "redirect_uri": app["redirect_uris"][0], "code_challenge": pkce.challenge,
                 "code_challenge_method": "S256", **params}
        return self.client.get("/authorize", {k: v for k, v in query.items() if v is not None})

    def consent_post(self, page, *, allow: bool = True, **changes):
        data = {name: value for name, value in page.context["form"].initial.items() if value is not None}
        data.update(changes)
        if allow:
            data["allow"] = "true"
        return self.client.post("/authorize", data)

    def code(self, app: dict, pkce: Pkce, **params) -> str:
        page = self.authorize_get(app, pkce, **params)
        assert page.status_code == 200, page
        return params_of(self.consent_post(page)["Location"])["code"]

    def token(self, **data):
        return self.client.post("/token", {k: v for k, v in data.items() if v is not None})

    def exchange(self, app: dict, code: str, pkce: Pkce, **extra):
        return self.token(grant_type="authorization_code", code=code, code_verifier=pkce.verifier,
                          client_id=app["client_id"], redirect_uri=app["redirect_uris"][0], **extra)

    def tokens(self, app: dict, pkce: Pkce | None = None, **params) -> dict:
        pkce = pkce or Pkce.make()
        response = self.exchange(app, self.code(app, pkce, **params), pkce)
        assert response.status_code == 200, response.content
        return response.json()

    def refresh(self, app: dict, refresh_token: str, **extra):
        return self.token(grant_type="refresh_token", refresh_token=refresh_token, client_id=app["client_id"], **extra)


def params_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def stored_token(raw: str):
    """The AccessToken row a resource server finds for this bearer token, or None (revoked / unknown)."""
    checksum = hashlib.sha256(raw.encode()).hexdigest()
    tokens = get_access_token_model().objects.select_related("user", "application")
    return tokens.filter(token_checksum=checksum).first()
