"""RFC 7591 registration as Claude and ChatGPT do it, the redirect policy, and hostile requests."""

from __future__ import annotations

import json

import pytest
from oauth2_provider.cimd import CIMDError, SafeMetadataFetcher
from oauth2_provider.models import get_access_token_model, get_application_model

from oauth_ext.cimd import PolicyMetadataFetcher
from tests.oauth_ext.oauth_testing import CHATGPT_REDIRECT, CLAUDE_REDIRECT, Pkce

pytestmark = pytest.mark.django_db


def _registered(client_id: str):
    return get_application_model().objects.get(client_id=client_id)


def test_claude_registers_a_public_client(oauth):
    response = oauth.register_response(client_name="Claude", redirect_uris=[CLAUDE_REDIRECT],
                                       token_endpoint_auth_method="none")
    assert response.status_code == 201 and response["Content-Type"] == "application/json"
    body = response.json()
    assert body["redirect_uris"] == [CLAUDE_REDIRECT] and body["token_endpoint_auth_method"] == "none"
    assert body["grant_types"] == ["authorization_code", "refresh_token"] and body["response_types"] == ["code"]
    assert "client_secret" not in body and body["client_id_issued_at"] > 0
    application = _registered(body["client_id"])
    assert application.registration_source == "dcr" and application.client_type == "public"


def test_chatgpt_registers_a_confidential_client_and_sees_its_secret_once(oauth):
    body = oauth.register(client_name="ChatGPT", redirect_uris=[CHATGPT_REDIRECT],
                          token_endpoint_auth_method="client_secret_post")
    assert body["client_secret"] and body["client_secret_expires_at"] == 0
    assert body["token_endpoint_auth_method"] == "client_secret_post"
    application = _registered(body["client_id"])
    assert application.client_type == "confidential" and application.client_secret != body["client_secret"]


@pytest.mark.parametrize("redirect_uri", [
    "https://claude.com/api/mcp/auth_callback",
    "https://chatgpt.com/connector/oauth/abc123",
    "http://127.0.0.1:6274/oauth/callback",
    "http://localhost:3334/oauth/callback",
    "http://[::1]:8080/cb",
])
def test_allowed_redirects_register(oauth, redirect_uri):
    assert oauth.register(redirect_uris=[redirect_uri])["redirect_uris"] == [redirect_uri]


@pytest.mark.parametrize("redirect_uri", [
    "https://evil.example/cb",
    "https://www.chatgpt.com/cb",       # subdomains must be listed themselves
    "https://claude.ai.evil.example/cb",
    "http://claude.ai/api/mcp/auth_callback",
    "https://claude.ai:8443/cb",
    "https://user@claude.ai/cb",
    "https://claude.ai/cb#fragment",
    "cursor://anysphere.cursor-retrieval/oauth/callback",
    "/relative",
    "https://[bad/cb",
])
def test_other_redirects_are_invalid_redirect_uri(oauth, redirect_uri):
    response = oauth.register_response(redirect_uris=[CLAUDE_REDIRECT, redirect_uri])
    assert (response.status_code, response.json()["error"]) == (400, "invalid_redirect_uri")
    assert not get_application_model().objects.exists()


def test_loopback_redirects_are_refused_when_turned_off(oauth, settings):
    settings.OAUTH_EXT = {**settings.OAUTH_EXT, "ALLOW_LOOPBACK_REDIRECTS": False}
    response = oauth.register_response(redirect_uris=["http://127.0.0.1:6274/oauth/callback"])
    assert response.json()["error"] == "invalid_redirect_uri"


def test_allowlist_comes_from_settings(oauth, settings):
    settings.OAUTH_EXT = {**settings.OAUTH_EXT, "ALLOWED_REDIRECT_HOSTS": ["apps.example.org"]}
    assert oauth.register_response(redirect_uris=["https://apps.example.org/cb"]).status_code == 201
    assert oauth.register_response(redirect_uris=[CLAUDE_REDIRECT]).status_code == 400


# What str.split() splits on (DOT stores redirect_uris joined by spaces and splits them back),
# and other controls and invisible format characters.
SMUGGLERS = [" ", "\t", "\n", "\r", "\x00", "\x0b", "\x1f", "\x85", "\u00a0", "\u2028", "\u2029", "\u3000",
             "\u200b", "\ufeff"]
URI_FIELDS = ["client_uri", "logo_uri", "tos_uri", "policy_uri", "jwks_uri", "initiate_login_uri", "logo_uri#ja"]
URI_LIST_FIELDS = ["post_logout_redirect_uris", "request_uris"]


@pytest.mark.parametrize("separator", SMUGGLERS, ids=ascii)
@pytest.mark.parametrize("template", ["{ok}{sep}https://evil.example/steal", "{ok}{sep}", "{sep}{ok}", "{ok}?a={sep}"])
def test_a_redirect_uri_holding_whitespace_or_controls_is_refused(oauth, template, separator):
    smuggled = template.format(ok=CHATGPT_REDIRECT, sep=separator)
    response = oauth.register_response(redirect_uris=[CLAUDE_REDIRECT, smuggled])
    assert (response.status_code, response.json()["error"]) == (400, "invalid_redirect_uri")
    assert not get_application_model().objects.exists()


@pytest.mark.parametrize("separator", SMUGGLERS, ids=ascii)
@pytest.mark.parametrize("field", URI_FIELDS + URI_LIST_FIELDS)
def test_every_uri_field_refuses_whitespace_and_controls(oauth, field, separator):
    smuggled = f"https://claude.ai/about{separator}https://evil.example/"
    response = oauth.register_response(**{field: [smuggled] if field in URI_LIST_FIELDS else smuggled})
    assert (response.status_code, response.json()["error"]) == (400, "invalid_client_metadata")
    assert field in response.json()["error_description"]
    assert not get_application_model().objects.exists()


@pytest.mark.parametrize("metadata", [{"client_uri": 42}, {"logo_uri": ["https://claude.ai/logo.png"]},
                                      {"request_uris": [None]}])
def test_uri_fields_must_be_strings(oauth, metadata):
    assert oauth.register_response(**metadata).json()["error"] == "invalid_client_metadata"


def test_clean_uri_fields_register_and_redirect_uris_are_stored_as_sent(oauth):
    uris = [CLAUDE_REDIRECT, "https://chatgpt.com/connector/oauth/abc?x=1"]
    body = oauth.register(redirect_uris=uris, client_uri="https://claude.ai/", logo_uri="https://claude.ai/logo.png",
                          post_logout_redirect_uris=["https://claude.ai/bye"])
    assert body["redirect_uris"] == uris and _registered(body["client_id"]).redirect_uris.split() == uris


@pytest.mark.parametrize("metadata", [
    {"redirect_uris": []},
    {"redirect_uris": CLAUDE_REDIRECT},
    {"redirect_uris": [42]},
])
def test_missing_or_malformed_redirect_uris(oauth, metadata):
    assert oauth.register_response(**metadata).json()["error"] == "invalid_redirect_uri"


@pytest.mark.parametrize("metadata", [
    {"grant_types": ["client_credentials"]},
    {"grant_types": ["authorization_code", "implicit"]},
    {"grant_types": ["refresh_token"]},
    {"grant_types": "authorization_code"},
    {"response_types": ["token"]},
    {"token_endpoint_auth_method": "private_key_jwt"},
    {"client_name": {"en": "Claude"}},
    {"client_name": "x" * 201},
    {"client_name": "\u202emoc.edualc"},  # a right-to-left override: reads as claude.com on the pages
    {"client_name": "Claude\nApproved by your administrator"},
    {"client_name": "Claude\u200b"},
    {"client_name": "Claude\u2028"},
    {"client_name": "     "},
    {"client_name": "\u3164\u3164"},
])
def test_invalid_metadata_is_invalid_client_metadata(oauth, metadata):
    response = oauth.register_response(**metadata)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_client_metadata")
    assert response.json()["error_description"]


@pytest.mark.parametrize("body", [
    b"not json",
    b"[]",
    b'"a string"',
    b"\xff\xfe\xfa",
    b"[" * 5000 + b"]" * 5000,
    b"",
])
def test_malformed_body_is_400_not_500(client, body):
    response = client.post("/register", body, content_type="application/json")
    assert (response.status_code, response.json()["error"]) == (400, "invalid_client_metadata")


def test_oversized_body_is_400_before_it_is_read(client):
    body = json.dumps({"redirect_uris": [CLAUDE_REDIRECT], "client_name": "x" * 20_000})
    response = client.post("/register", body, content_type="application/json")
    assert (response.status_code, response.json()["error"]) == (400, "invalid_client_metadata")
    huge = client.post("/register", b"{" + b" " * 3_000_000 + b"}", content_type="application/json")
    assert huge.status_code == 400


def test_register_answers_at_the_readme_path_without_slash_redirects(client):
    assert client.get("/register").status_code == 405
    options = client.options("/register", HTTP_ORIGIN="http://localhost:6274",
                             HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert options.status_code == 204 and options["Access-Control-Allow-Origin"] == "*"


def test_registration_is_rate_limited_per_address(oauth, settings):
    settings.OAUTH_EXT = {**settings.OAUTH_EXT, "REGISTRATION_RATE_LIMIT": "3/m"}
    assert [oauth.register_response().status_code for _ in range(3)] == [201, 201, 201]
    limited = oauth.register_response()
    assert limited.status_code == 429 and 0 < int(limited["Retry-After"]) <= 60
    assert limited.json()["error"] == "temporarily_unavailable"
    other = oauth.client.post("/register", json.dumps({"redirect_uris": [CLAUDE_REDIRECT]}),
                              content_type="application/json", REMOTE_ADDR="192.0.2.7")
    assert other.status_code == 201


def test_rate_limit_uses_the_proxy_hop_only_when_proxy_headers_are_trusted(oauth, settings):
    settings.OAUTH_EXT = {**settings.OAUTH_EXT, "REGISTRATION_RATE_LIMIT": "1/h"}
    body = json.dumps({"redirect_uris": [CLAUDE_REDIRECT]})

    def post(forwarded: str) -> int:
        return oauth.client.post("/register", body, content_type="application/json",
                                 HTTP_X_FORWARDED_FOR=forwarded).status_code

    settings.TRUST_PROXY_HEADERS = True
    assert [post("203.0.113.1"), post("203.0.113.2"), post("198.51.100.9, 203.0.113.2")] == [201, 201, 429]
    settings.TRUST_PROXY_HEADERS = False
    assert [post("203.0.113.3"), post("203.0.113.4")] == [201, 429]  # all one REMOTE_ADDR


def test_rate_limit_cache_outage_does_not_block_registration(oauth, settings, monkeypatch):
    settings.OAUTH_EXT = {**settings.OAUTH_EXT, "REGISTRATION_RATE_LIMIT": "1/m"}

    def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr("oauth_ext.ratelimit.cache.add", broken)
    assert [oauth.register_response().status_code for _ in range(2)] == [201, 201]


def test_no_rfc7592_registration_token_is_left_behind(oauth):
    body = oauth.register()
    assert "registration_access_token" not in body and "registration_client_uri" not in body
    assert not get_access_token_model().objects.exists()
    assert oauth.client.get(f"/register/{body['client_id']}").status_code == 404


# --- CIMD: DOT fetches the document; our fetcher holds it to the redirect policy -------------

CIMD_ID = "https://claude.ai/oauth/claude-client.json"


def _document(redirect_uri: str) -> dict:
    return {"client_id": CIMD_ID, "client_name": "Claude (CIMD)", "redirect_uris": [redirect_uri],
            "token_endpoint_auth_method": "none", "grant_types": ["authorization_code", "refresh_token"]}


@pytest.fixture
def cimd(settings, monkeypatch):
    """CIMD on, with the network fetch replaced by a document of the test's choosing."""
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "CIMD_ENABLED": True, "ALWAYS_RELOAD_OAUTHLIB_CORE": True}
    documents: dict[str, dict] = {}
    monkeypatch.setattr(SafeMetadataFetcher, "fetch", lambda self, client_id: (documents[client_id], 300))
    return documents


def test_cimd_fetcher_refuses_documents_with_foreign_redirects(cimd):
    cimd[CIMD_ID] = _document("https://evil.example/cb")
    with pytest.raises(CIMDError, match="ALLOWED_REDIRECT_HOSTS"):
        PolicyMetadataFetcher().fetch(CIMD_ID)
    cimd[CIMD_ID] = _document(CLAUDE_REDIRECT)
    assert PolicyMetadataFetcher().fetch(CIMD_ID)[0]["client_id"] == CIMD_ID


def test_cimd_client_reaches_the_consent_page(oauth, cimd):
    cimd[CIMD_ID] = _document(CLAUDE_REDIRECT)
    page = oauth.authorize_get({"client_id": CIMD_ID, "redirect_uris": [CLAUDE_REDIRECT]}, Pkce.make())
    assert page.status_code == 200 and b"Claude (CIMD)" in page.content
    assert _registered(CIMD_ID).registration_source == "cimd"


@pytest.mark.parametrize("separator", [" ", "\n", "\x00", "\u00a0", "\u2028"], ids=ascii)
@pytest.mark.parametrize("field", ["redirect_uris", "logo_uri", "client_uri"])
def test_cimd_refuses_documents_smuggling_uris(oauth, cimd, field, separator):
    smuggled = f"{CLAUDE_REDIRECT}{separator}https://evil.example/steal"
    cimd[CIMD_ID] = {**_document(CLAUDE_REDIRECT), field: [smuggled] if field == "redirect_uris" else smuggled}
    with pytest.raises(CIMDError, match="whitespace or control characters"):
        PolicyMetadataFetcher().fetch(CIMD_ID)
    page = oauth.authorize_get({"client_id": CIMD_ID, "redirect_uris": ["https://evil.example/steal"]}, Pkce.make())
    assert page.status_code == 400 and not get_application_model().objects.exists()


@pytest.mark.parametrize("client_id", ["https://evil.example/client.json", CIMD_ID])
def test_cimd_refuses_unlisted_hosts_and_foreign_redirects(oauth, cimd, client_id):
    cimd[client_id] = {**_document("https://evil.example/cb"), "client_id": client_id}
    page = oauth.authorize_get({"client_id": client_id, "redirect_uris": ["https://evil.example/cb"]}, Pkce.make())
    assert page.status_code == 400 and not get_application_model().objects.exists()


def test_a_client_name_in_any_script_with_spaces_is_accepted(oauth):
    response = oauth.register_response(client_name="Claude — 日本語 Ünïcode (ضيف)")
    assert response.status_code == 201, response.json()
