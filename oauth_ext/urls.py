"""The OAuth endpoints at the paths the original README promised, mounted at the site root.

The endpoints carry DOT's URL names in DOT's `oauth2_provider` namespace, so DOT's metadata and
registration views find them with reverse(). DOT's own /o/... routes are not mounted: they would
bypass this server's resource and PKCE checks.
"""

from __future__ import annotations

from django.urls import include, path

from oauth_ext import views
from oauth_ext.approval_page import approval_page
from oauth_ext.discovery import MCP_ENDPOINT_PATHS
from oauth_ext.metadata import ResourceMetadataView, ServerMetadataView

server_metadata = views.cors_public(ServerMetadataView.as_view())
resource_metadata = views.cors_public(ResourceMetadataView.as_view())

dot_urlpatterns = [
    path("authorize", views.authorize, name="authorize"),
    path("token", views.token, name="token"),
    path("revoke", views.revoke, name="revoke-token"),
    path("register", views.register, name="dcr-register"),
    path("register/<str:client_id>", views.register_manage, name="dcr-register-management"),
    path(".well-known/oauth-authorization-server", server_metadata, name="oauth-server-metadata"),
    path(".well-known/oauth-protected-resource", resource_metadata, name="oauth-resource-metadata"),
]

urlpatterns = [
    path("", include((dot_urlpatterns, "oauth2_provider"))),
    path(".well-known/openid-configuration", server_metadata, name="openid-configuration"),
    path("connections/", views.connections, name="connections"),
    path("connections/revoke", views.connection_revoke, name="connection-revoke"),
    path("approvals/<str:approval_id>", approval_page, name="approval"),
    *(
        path(f".well-known/oauth-protected-resource{endpoint}",
             views.cors_public(ResourceMetadataView.as_view(resource_path=endpoint)))
        for endpoint in MCP_ENDPOINT_PATHS
    ),
    # The original server's ChatGPT aliases: the same documents as at the root.
    path("chatgpt/.well-known/oauth-authorization-server", server_metadata),
    path("chatgpt/.well-known/openid-configuration", server_metadata),
    path("chatgpt/.well-known/oauth-protected-resource", resource_metadata),
]
