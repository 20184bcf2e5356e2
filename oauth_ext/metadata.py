"""RFC 8414 authorization-server and RFC 9728 protected-resource metadata, from DOT's views.

DOT derives the issuer from the path it is served at, which drifts at the aliases
(/.well-known/openid-configuration, /chatgpt/.well-known/*). Here every document names the
same issuer, oauth_ext.discovery's base URL, so clients that compare them find them equal.
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from oauth2_provider.views import OAuthProtectedResourceMetadataView, OAuthServerMetadataView

from oauth_ext.discovery import issuer_for_request, resource_for_path


class ServerMetadataView(OAuthServerMetadataView):
    """RFC 8414 (also served as the OpenID discovery alias): DOT's document, our issuer."""

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        document = json.loads(super().get(request, *args, **kwargs).content)
        document["issuer"] = issuer_for_request(request)
        return JsonResponse(document)  # CORS: every route to it is wrapped in views.cors_public


class ResourceMetadataView(OAuthProtectedResourceMetadataView):
    """RFC 9728 for the server as a whole (resource_path "") or one MCP endpoint ("/mcp", ...)."""

    resource_path = ""

    def get_resource(self, request: HttpRequest) -> str:
        return resource_for_path(request, self.resource_path)

    def get_authorization_servers(self, request: HttpRequest) -> list[str]:
        return [issuer_for_request(request)]
