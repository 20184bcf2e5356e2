"""RFC 8414 / RFC 9728 documents: one issuer everywhere, what works advertised, PUBLIC_URL honoured."""

from __future__ import annotations

import pytest

from oauth_ext.discovery import MCP_ENDPOINT_PATHS, base_url
from oauth_ext.resources import resource_allowed

pytestmark = pytest.mark.django_db

AS_PATHS = ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration",
            "/chatgpt/.well-known/oauth-authorization-server", "/chatgpt/.well-known/openid-configuration"]
PRM_PATHS = ["/.well-known/oauth-protected-resource", "/chatgpt/.well-known/oauth-protected-resource",
             *(f"/.well-known/oauth-protected-resource{path}" for path in MCP_ENDPOINT_PATHS)]


def _json(client, path: str, **headers) -> dict:
    response = client.get(path, **headers)
    assert response.status_code == 200, path
    assert response["Access-Control-Allow-Origin"] == "*"
    return response.json()


def test_server_metadata_advertises_exactly_what_works(client):
    doc = _json(client, "/.well-known/oauth-authorization-server")
    assert doc["issuer"] == "http://testserver"
    assert doc["authorization_endpoint"] == "http://testserver/authorize"
    assert doc["token_endpoint"] == "http://testserver/token"
    assert doc["registration_endpoint"] == "http://testserver/register"
    assert doc["revocation_endpoint"] == "http://testserver/revoke"
    assert "introspection_endpoint" not in doc
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["response_types_supported"] == ["code"]
    assert doc["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert doc["scopes_supported"] == ["sql:read", "sql:write"]
    assert "none" in doc["token_endpoint_auth_methods_supported"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert doc["client_id_metadata_document_supported"] is False


def test_cimd_flag_follows_the_setting(client, settings):
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "CIMD_ENABLED": True}
    assert _json(client, "/.well-known/oauth-authorization-server")["client_id_metadata_document_supported"] is True


def test_every_document_names_the_same_issuer_without_trailing_slash(client):
    issuers = {_json(client, path)["issuer"] for path in AS_PATHS}
    servers = {server for path in PRM_PATHS for server in _json(client, path)["authorization_servers"]}
    assert issuers == servers == {"http://testserver"}
    assert {_json(client, path)["token_endpoint"] for path in AS_PATHS} == {"http://testserver/token"}


@pytest.mark.parametrize("path", MCP_ENDPOINT_PATHS)
def test_path_inserted_resource_metadata_names_its_endpoint(client, path):
    doc = _json(client, f"/.well-known/oauth-protected-resource{path}")
    assert doc["resource"] == f"http://testserver{path}"
    assert doc["authorization_servers"] == ["http://testserver"]
    assert doc["scopes_supported"] == ["sql:read", "sql:write"] and doc["bearer_methods_supported"] == ["header"]


def test_root_resource_metadata_names_the_server_and_the_alias_matches(client):
    root = _json(client, "/.well-known/oauth-protected-resource")
    assert root["resource"] == "http://testserver"
    assert _json(client, "/chatgpt/.well-known/oauth-protected-resource") == root


@pytest.mark.parametrize("path", [AS_PATHS[0], PRM_PATHS[-1]])
def test_browser_clients_may_send_the_mcp_protocol_header(client, path):
    response = client.options(path, HTTP_ORIGIN="http://localhost:6274", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
                              HTTP_ACCESS_CONTROL_REQUEST_HEADERS="mcp-protocol-version")
    assert response.status_code == 204 and response["Access-Control-Allow-Origin"] == "*"
    assert "MCP-Protocol-Version" in response["Access-Control-Allow-Headers"]


def test_unknown_resource_paths_are_404(client):
    assert client.get("/.well-known/oauth-protected-resource/other").status_code == 404
    assert client.get("/.well-known/oauth-authorization-server/mcp").status_code == 404


def test_public_url_wins_over_the_request_host(client, public_url):
    public_url("https://mcp.example.com")
    doc = _json(client, "/chatgpt/.well-known/openid-configuration")
    assert doc["issuer"] == "https://mcp.example.com"
    assert doc["authorization_endpoint"] == "https://mcp.example.com/authorize"
    prm = _json(client, "/.well-known/oauth-protected-resource/chatgpt/sse")
    assert prm["resource"] == "https://mcp.example.com/chatgpt/sse"
    assert prm["authorization_servers"] == ["https://mcp.example.com"]


def test_issuer_in_the_authorization_response_follows_public_url(oauth, app, pkce, public_url):
    from tests.oauth_ext.oauth_testing import params_of

    public_url("https://mcp.example.com")
    location = oauth.consent_post(oauth.authorize_get(app, pkce, resource="https://mcp.example.com/mcp"))["Location"]
    assert params_of(location)["iss"] == "https://mcp.example.com"


def test_forwarded_headers_count_only_from_a_trusted_proxy(client, settings):
    forwarded = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_HOST": "mcp.example.org"}
    settings.ALLOWED_HOSTS = ["testserver", "mcp.example.org"]
    assert _json(client, "/.well-known/oauth-authorization-server", **forwarded)["issuer"] == "http://testserver"
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.USE_X_FORWARDED_HOST = True
    assert _json(client, "/.well-known/oauth-authorization-server", **forwarded)["issuer"] == "https://mcp.example.org"


def test_base_url_prefers_public_url(settings):
    settings.PUBLIC_URL = ""
    assert base_url(scheme="https", host="db.example:8443") == "https://db.example:8443"
    settings.PUBLIC_URL = "https://mcp.example.com/"
    assert base_url(scheme="http", host="10.0.0.5") == "https://mcp.example.com"


@pytest.mark.parametrize(("resource", "allowed"), [
    (None, True), ("", True),
    ("https://mcp.example.com", True), ("https://mcp.example.com/", True),
    ("https://mcp.example.com/mcp", True), ("https://mcp.example.com/mcp/", True),
    ("https://MCP.example.com/sse", True), ("https://mcp.example.com:443/chatgpt/mcp", True),
    ("https://mcp.example.com/chatgpt/sse", True),
    ("https://mcp.example.com/mcpx", False), ("https://mcp.example.com/admin", False),
    ("http://mcp.example.com/mcp", False), ("https://mcp.example.com:8443/mcp", False),
    ("https://mcp.example.com/mcp?x=1", False), ("https://mcp.example.com/mcp#x", False),
    ("https://evil@mcp.example.com/mcp", False), ("https://evil.example/mcp", False),
    ("urn:example:mcp", False), ("https://mcp.example.com:99999/mcp", False),
])
def test_resource_allowed(resource, allowed):
    assert resource_allowed(resource, base="https://mcp.example.com") is allowed
