"""DOT's authorization, token, revocation and registration views, with this server's policy.

Each view parses, applies one policy function and hands over to DOT; protocol errors are
oauth_ext.errors rendered by error_response (or, at /authorize, redirected to the client).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import wraps
from urllib.parse import parse_qs, urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from oauth2_provider.exceptions import FatalClientError, OAuthToolkitError
from oauth2_provider.models import get_application_model
from oauth2_provider.oauth2_backends import _add_iss_to_redirect
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views import AuthorizationView, RevokeTokenView
from oauth2_provider.views import TokenView as DotTokenView
from oauth2_provider.views.dynamic_client_registration import DynamicClientRegistrationView
from oauthlib.oauth2.rfc6749.errors import CustomOAuth2Error

from oauth_ext.access import user_client_revoke, user_connections, user_is_blocked
from oauth_ext.conf import oauth_ext_settings
from oauth_ext.consent import consent_context, page_protect
from oauth_ext.discovery import client_address, issuer_for_request, request_base_url
from oauth_ext.errors import OAuthError, error_response
from oauth_ext.grants import token_request_check
from oauth_ext.ratelimit import rate_limit_hit
from oauth_ext.registration import (
    client_metadata_check,
    registration_body_parse,
    registration_response_complete,
    registration_tokens_discard,
)
from oauth_ext.resources import resources_check
from oauth_ext.rights import scopes_allowed, user_may_connect
from oauth_ext.scopes import WRITE_SCOPES
from telemetry.metrics import oauth_event


def cors_public(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Let browser-based MCP clients (the MCP Inspector) call a cookie-less JSON endpoint."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method == "OPTIONS" and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in request.META:
            response = HttpResponse(status=204)
        else:
            response = view(request, *args, **kwargs)
        response["Access-Control-Allow-Origin"] = "*"
        response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Authorization, Content-Type, MCP-Protocol-Version"
        response["Access-Control-Max-Age"] = "86400"
        return response

    return wrapped


def _toolkit_error(error: OAuthError, *, state: str | None, redirect_uri: str) -> OAuthToolkitError:
    oauthlib_error = CustomOAuth2Error(error=error.error, description=error.description, state=state)
    return OAuthToolkitError(error=oauthlib_error, redirect_uri=redirect_uri)


BLOCKED = {"error": "access_denied",
           "description": "An administrator has blocked your account from connecting AI assistants to this server."}
NOT_ALLOWED = {"error": "access_denied",
               "description": "Your account may not connect AI assistants to this server; ask an administrator."}


class AuthorizeView(AuthorizationView):
    """/authorize: sign-in, then the consent page; S256 and our own `resource` only."""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated and (user_is_blocked(request.user) or not user_may_connect(request.user)):
            error = BLOCKED if user_is_blocked(request.user) else NOT_ALLOWED
            oauth_event("authorization_denied")
            return page_protect(render(request, "oauth2_provider/authorize.html", {"error": error}, status=403))
        return page_protect(super().dispatch(request, *args, **kwargs))

    def validate_authorization_request(self, request: HttpRequest):
        scopes, credentials = super().validate_authorization_request(request)
        if request.user.is_authenticated:  # the consent page offers only what this user may hold
            scopes = scopes_allowed(user=request.user, scopes=scopes)
        try:
            if credentials.get("code_challenge_method") != "S256":
                raise OAuthError('PKCE is required with code_challenge_method "S256".')
            resources_check(request.GET.getlist("resource"), base=request_base_url(request))
        except OAuthError as error:
            state, redirect_uri = credentials.get("state"), credentials["redirect_uri"]
            raise _toolkit_error(error, state=state, redirect_uri=redirect_uri) from error
        return scopes, credentials

    def handle_no_permission(self) -> HttpResponse:
        # Refuse a broken request before asking anyone to sign in for it.
        if self.request.method == "GET":
            try:
                self.validate_authorization_request(self.request)
            except OAuthToolkitError as error:
                return self.error_response(error, application=None)
        return super().handle_no_permission()

    def form_valid(self, form) -> HttpResponse:
        data = form.cleaned_data
        data["scope"] = " ".join(scopes_allowed(user=self.request.user, scopes=(data.get("scope") or "").split()))
        application = get_application_model().objects.filter(client_id=data["client_id"]).first()
        try:
            if application is None:
                raise OAuthError("The client is no longer registered.")
            resources_check((data.get("resource") or "").split(), base=request_base_url(self.request))
        except OAuthError as error:
            # The hidden fields were changed since the GET: show the error, never redirect.
            fatal = CustomOAuth2Error(error=error.error, description=error.description)
            return self.error_response(FatalClientError(error=fatal), application)
        response = super().form_valid(form)
        # Counted as DOT answered: a redirect carrying a code is a grant, one carrying access_denied a refusal.
        answer = parse_qs(urlsplit(response.get("Location", "")).query)
        if "code" in answer:
            oauth_event("authorization_granted")
        elif answer.get("error") == ["access_denied"]:
            oauth_event("authorization_denied")
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(consent_context(scopes=kwargs.get("scopes") or [], redirect_uri=kwargs.get("redirect_uri"),
                                       base_url=request_base_url(self.request)))
        return context

    def redirect(self, redirect_to: str, application) -> HttpResponse:
        # RFC 9207: every authorization response, errors included, names the issuer. DOT's helper
        # (private, but the one DOT itself uses on success) replaces any `iss` already there.
        if oauth2_settings.COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS:
            redirect_to = _add_iss_to_redirect(redirect_to, issuer_for_request(self.request))
        return super().redirect(redirect_to, application)


class TokenView(DotTokenView):
    """/token: the authorization-code and refresh grants, for our own `resource` only."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            token_request_check(request.POST, base=request_base_url(request))
        except OAuthError as error:
            return error_response(error)
        response = super().post(request, *args, **kwargs)
        if response.status_code >= 400:
            # DOT renders errors raised while saving the token (resource narrowing) without a type.
            response["Content-Type"] = "application/json"
            response["Cache-Control"] = "no-store"
        return response


class RegisterView(DynamicClientRegistrationView):
    """/register (RFC 7591, anonymous): rate-limited, bounded, and held to the redirect policy."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        conf = oauth_ext_settings()
        try:
            rate_limit_hit(bucket="register", address=client_address(request), rate=conf.REGISTRATION_RATE_LIMIT)
            metadata = registration_body_parse(request, max_bytes=conf.REGISTRATION_MAX_BYTES)
            client_metadata_check(metadata)
        except OAuthError as error:
            oauth_event("registration_refused")
            return error_response(error)
        response = super().post(request, *args, **kwargs)
        if response.status_code != 201:
            oauth_event("registration_refused")
            return response
        oauth_event("registered")
        data = json.loads(response.content)
        registration_tokens_discard(client_id=data["client_id"])  # why: registration_response_complete
        data = registration_response_complete(data, metadata=metadata, issued_at=int(time.time()))
        return JsonResponse(data, status=201, headers={"Cache-Control": "no-store"})


def registration_management(request: HttpRequest, client_id: str) -> HttpResponse:
    """RFC 7592 is not offered: no registration access tokens exist to manage a client with."""
    return JsonResponse({"error": "not_found", "error_description": "Client management (RFC 7592) is not offered."},
                        status=404)


@require_GET
@login_required
def connections(request: HttpRequest) -> HttpResponse:
    """/connections/: the clients the signed-in user has authorized, each with a revoke button."""
    context = {"connections": user_connections(user=request.user), "blocked": user_is_blocked(request.user),
               "write_scopes": WRITE_SCOPES}
    return page_protect(render(request, "oauth_ext/connections.html", context))


@require_POST
@login_required
def connection_revoke(request: HttpRequest) -> HttpResponse:
    application = get_object_or_404(get_application_model(), client_id=request.POST.get("client_id", ""))
    user_client_revoke(user=request.user, application=application)
    messages.success(request, f"{application.name or application.client_id} can no longer access the database for you.")
    return redirect("connections")


authorize = AuthorizeView.as_view()
token = cors_public(TokenView.as_view())
revoke = cors_public(RevokeTokenView.as_view())
register = cors_public(RegisterView.as_view())
register_manage = cors_public(registration_management)
