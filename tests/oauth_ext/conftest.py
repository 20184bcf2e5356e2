"""Fixtures for the OAuth tests: a user, registered clients and the PKCE authorization-code dance."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import cache
from django.test import Client

CLAUDE_REDIRECT = "https://claude.ai/api/mcp/auth_callback"
CHATGPT_REDIRECT = "https://chatgpt.com/connector_platform_oauth_redirect"
BASE = "http://testserver"
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


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.fixture
def pkce() -> Pkce:
    return Pkce.make()


@pytest.fixture
def params_of():
    """The query parameters of a redirect URL, as a flat dict."""
    return query


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="analyst", password=PASSWORD)


@pytest.fixture
def register(client: Client):
    """POST /register as an MCP client does; returns the response."""

    def post(**metadata):
        body = {"client_name": "Claude", "redirect_uris": [CLAUDE_REDIRECT], "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"], **metadata}
        return client.post("/register", json.dumps(body), content_type="application/json")

    return post


@pytest.fixture
def public_client(register) -> dict:
    response = register()
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def authorize(client: Client, user):
    """Sign in, GET /authorize, POST Allow; returns the redirect Location of the authorization response."""

    def run(app: dict, *, pkce: Pkce, allow: bool = True, redirect_uri: str | None = None, **params) -> str:
        client.force_login(user)
        params = {"response_type": "code", "client_id": app["client_id"], "state": "xyz",
                  "redirect_uri": redirect_uri or app["redirect_uris"][0], "code_challenge": pkce.challenge,
                  "code_challenge_method": "S256", **params}
        params = {k: v for k, v in params.items() if v is not None}
        page = client.get("/authorize", params)
        if page.status_code != 200:
            return page
        form = page.context["form"]
        data = {name: value for name, value in form.initial.items() if value is not None}
        if allow:
            data["allow"] = "true"
        return client.post("/authorize", data)["Location"]

    return run


@pytest.fixture
def code_for(authorize):
    def run(app: dict, pkce: Pkce, **params) -> str:
        location = authorize(app, pkce=pkce, **params)
        return query(location)["code"]

    return run


@pytest.fixture
def token(client: Client):
    """POST /token; returns the response."""

    def post(**data):
        return client.post("/token", {k: v for k, v in data.items() if v is not None})

    return post
