"""The authorization-code + PKCE flow end to end with Django's test client, and every refusal."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django.utils.html import escape
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

from mcp_bridge.verifier import token_check
from oauth_ext.codes import code_redemption_record
from oauth_ext.models import CodeRedemption
from sqltools.target import database_label
from tests.oauth_ext.oauth_testing import CLAUDE_REDIRECT, PASSWORD, OAuthHelper, Pkce, params_of, stored_token

pytestmark = pytest.mark.django_db

ISSUER = "http://testserver"


def test_authorization_response_carries_code_state_and_issuer(oauth, app, pkce):
    location = oauth.consent_post(oauth.authorize_get(app, pkce))["Location"]
    assert location.startswith(CLAUDE_REDIRECT + "?")
    params = params_of(location)
    assert params["state"] == "xyz" and params["iss"] == ISSUER and params["code"]


def test_code_exchange_issues_one_hour_bearer_token_for_the_user(oauth, app, user, pkce):
    response = oauth.exchange(app, oauth.code(app, pkce), pkce)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["scope"] == "sql:read"
    row = stored_token(body["access_token"])
    assert row.user == user and row.application.client_id == app["client_id"] and not row.is_expired()
    assert row.token == ""  # only the checksum is stored at rest


def test_refresh_rotates_both_tokens_and_retires_the_old_ones(oauth, app):
    first = oauth.tokens(app)
    response = oauth.refresh(app, first["refresh_token"])
    assert response.status_code == 200, response.content
    second = response.json()
    assert second["access_token"] != first["access_token"] and second["refresh_token"] != first["refresh_token"]
    assert stored_token(first["access_token"]) is None and stored_token(second["access_token"]) is not None
    replay = oauth.refresh(app, first["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    # Replaying a rotated refresh token revokes the whole family (RFC 9700 §4.14.2).
    assert stored_token(second["access_token"]) is None


def test_revoking_the_access_token_revokes_its_refresh_token(oauth, app):
    tokens = oauth.tokens(app)
    response = oauth.client.post("/revoke", {"token": tokens["access_token"], "client_id": app["client_id"]})
    assert response.status_code == 200
    assert stored_token(tokens["access_token"]) is None
    assert oauth.refresh(app, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_revoking_the_refresh_token_revokes_its_access_token(oauth, app):
    tokens = oauth.tokens(app)
    oauth.client.post("/revoke", {"token": tokens["refresh_token"], "token_type_hint": "refresh_token",
                                  "client_id": app["client_id"]})
    assert stored_token(tokens["access_token"]) is None
    assert get_refresh_token_model().objects.get().revoked is not None


@pytest.mark.parametrize("resource", ["http://testserver/mcp", "http://testserver/chatgpt/sse/", "http://testserver"])
def test_resource_is_recorded_on_grant_token_and_refreshed_token(oauth, app, pkce, resource):
    code = oauth.code(app, pkce, resource=resource)
    assert get_grant_model().objects.get().resource == [resource]
    tokens = oauth.exchange(app, code, pkce).json()
    assert stored_token(tokens["access_token"]).resource == [resource]
    refreshed = oauth.refresh(app, tokens["refresh_token"]).json()
    assert stored_token(refreshed["access_token"]).resource == [resource]


def test_without_resource_the_token_is_unrestricted(oauth, app):
    assert stored_token(oauth.tokens(app)["access_token"]).resource == []


@pytest.mark.parametrize(("scope", "granted"), [(None, "sql:read"), ("sql:read sql:write", "sql:read sql:write")])
def test_scope_defaults_to_read(oauth, app, scope, granted):
    assert oauth.tokens(app, scope=scope)["scope"] == granted


def test_access_token_lifetime_is_configurable(oauth, app, settings):
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "ACCESS_TOKEN_EXPIRE_SECONDS": 120,
                                "ALWAYS_RELOAD_OAUTHLIB_CORE": True}
    assert oauth.tokens(app)["expires_in"] == 120


def test_confidential_client_authenticates_with_basic_or_post(oauth, pkce):
    app = oauth.register(client_name="ChatGPT", token_endpoint_auth_method="client_secret_post")
    secret = app["client_secret"]
    response = oauth.exchange(app, oauth.code(app, pkce), pkce, client_secret=secret)
    assert response.status_code == 200, response.content
    second = Pkce.make()
    code = oauth.code(app, second)
    basic = base64.b64encode(f"{app['client_id']}:{secret}".encode()).decode()
    response = oauth.client.post("/token", {"grant_type": "authorization_code", "code": code,
                                            "code_verifier": second.verifier, "redirect_uri": CLAUDE_REDIRECT},
                                 HTTP_AUTHORIZATION=f"Basic {basic}")
    assert response.status_code == 200, response.content


# --- refusals, each with its RFC error code ---------------------------------------------------

def test_wrong_verifier_is_invalid_grant(oauth, app, pkce):
    response = oauth.exchange(app, oauth.code(app, pkce), Pkce.make())
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


def test_missing_verifier_is_invalid_grant(oauth, app, pkce):
    response = oauth.token(grant_type="authorization_code", code=oauth.code(app, pkce), client_id=app["client_id"],
                           redirect_uri=CLAUDE_REDIRECT)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


@pytest.mark.parametrize("changes", [{"code_challenge_method": "plain"}, {"code_challenge_method": None},
                                     {"code_challenge": None, "code_challenge_method": None}])
def test_plain_or_missing_pkce_is_refused_before_consent(oauth, app, pkce, changes):
    response = oauth.authorize_get(app, pkce, **changes)
    assert response.status_code == 302
    params = params_of(response["Location"])
    assert params["error"] == "invalid_request" and params["state"] == "xyz" and params["iss"] == ISSUER
    assert not get_grant_model().objects.exists()


def test_plain_method_smuggled_into_the_consent_form_is_refused(oauth, app, pkce):
    page = oauth.authorize_get(app, pkce)
    response = oauth.consent_post(page, code_challenge_method="plain", code_challenge=pkce.verifier)
    assert params_of(response["Location"])["error"] == "invalid_request"
    assert not get_grant_model().objects.exists()


def test_reused_code_is_invalid_grant(oauth, app, pkce):
    code = oauth.code(app, pkce)
    assert oauth.exchange(app, code, pkce).status_code == 200
    response = oauth.exchange(app, code, pkce)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


def test_replayed_code_revokes_the_tokens_it_produced(oauth, app, pkce):
    code = oauth.code(app, pkce)
    first = oauth.exchange(app, code, pkce).json()
    rotated = oauth.refresh(app, first["refresh_token"]).json()
    other = oauth.tokens(app)  # the same user and client, another authorization: not touched
    assert token_check(rotated["access_token"]) is not None
    replay = oauth.exchange(app, code, pkce)
    assert (replay.status_code, replay.json()["error"]) == (400, "invalid_grant")
    # RFC 6749 §4.1.2: every token issued from the code, rotated ones included, is revoked.
    assert token_check(first["access_token"]) is None and token_check(rotated["access_token"]) is None
    assert stored_token(rotated["access_token"]) is None
    for refresh_token in (first["refresh_token"], rotated["refresh_token"]):
        assert oauth.refresh(app, refresh_token).json()["error"] == "invalid_grant"
    assert token_check(other["access_token"]) is not None
    assert oauth.refresh(app, other["refresh_token"]).status_code == 200


def test_replay_under_another_client_id_also_revokes(oauth, app, pkce):
    code = oauth.code(app, pkce)
    first = oauth.exchange(app, code, pkce).json()
    thief = oauth.register()
    assert oauth.exchange(thief, code, pkce).json()["error"] == "invalid_grant"
    assert stored_token(first["access_token"]) is None


def test_a_code_exchanged_twice_at_once_leaves_no_token(oauth, app, pkce, monkeypatch):
    code, racing = oauth.code(app, pkce), []

    def record_after_a_racing_exchange(**kwargs) -> None:
        # The other request runs between this one's validate_code and its invalidate_authorization_code.
        if not racing:
            racing.append(None)
            racing.append(oauth.exchange(app, code, pkce))
        code_redemption_record(**kwargs)

    monkeypatch.setattr("oauth_ext.validators.code_redemption_record", record_after_a_racing_exchange)
    response = oauth.exchange(app, code, pkce)
    assert racing[1].status_code == 200 and response.json()["error"] == "invalid_grant"
    assert stored_token(racing[1].json()["access_token"]) is None
    assert not get_access_token_model().objects.exists()
    assert not get_refresh_token_model().objects.filter(revoked__isnull=True).exists()


def test_code_redemptions_are_forgotten_after_the_refresh_token_lifetime(oauth, app):
    oauth.tokens(app)
    CodeRedemption.objects.update(redeemed_at=timezone.now() - timedelta(seconds=31 * 86400))
    oauth.tokens(app)
    assert CodeRedemption.objects.count() == 1


def test_expired_code_is_invalid_grant(oauth, app, pkce):
    code = oauth.code(app, pkce)
    get_grant_model().objects.update(expires=timezone.now() - timedelta(seconds=1))
    assert oauth.exchange(app, code, pkce).json()["error"] == "invalid_grant"


def test_redirect_mismatch_at_authorize_is_shown_not_redirected(oauth, app, pkce):
    response = oauth.authorize_get(app, pkce, redirect_uri="https://claude.ai/api/mcp/other")
    assert response.status_code == 400 and "Location" not in response
    assert response.context["error"].error == "invalid_request"
    assert b"can\xe2\x80\x99t be completed" in response.content


def test_loopback_redirect_may_change_port_but_not_path(oauth, pkce):
    app = oauth.register(redirect_uris=["http://127.0.0.1:33418/callback"])
    assert oauth.authorize_get(app, pkce, redirect_uri="http://127.0.0.1:50123/callback").status_code == 200
    assert oauth.authorize_get(app, pkce, redirect_uri="http://127.0.0.1:50123/other").status_code == 400


def test_unknown_client_is_invalid_client(oauth, pkce):
    # At /authorize an unknown client is shown to the user, never redirected (RFC 6749 §4.1.2.1).
    page = oauth.authorize_get({"client_id": "nobody", "redirect_uris": [CLAUDE_REDIRECT]}, pkce)
    assert page.status_code == 400 and "Location" not in page
    assert "client_id" in page.context["error"].description
    response = oauth.token(grant_type="authorization_code", code="x", code_verifier="y" * 43, client_id="nobody")
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")


def test_wrong_secret_is_invalid_client(oauth, pkce):
    app = oauth.register(token_endpoint_auth_method="client_secret_basic")
    response = oauth.exchange(app, oauth.code(app, pkce), pkce, client_secret="wrong")
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")


def test_foreign_resource_at_authorize_is_invalid_target(oauth, app, pkce):
    response = oauth.authorize_get(app, pkce, resource="https://evil.example/mcp")
    params = params_of(response["Location"])
    assert params["error"] == "invalid_target" and params["state"] == "xyz" and params["iss"] == ISSUER


def test_foreign_resource_at_token_is_invalid_target(oauth, app, pkce):
    response = oauth.exchange(app, oauth.code(app, pkce), pkce, resource="https://evil.example/mcp")
    assert (response.status_code, response.json()["error"]) == (400, "invalid_target")
    tokens = oauth.tokens(app, resource="http://testserver/mcp")
    response = oauth.refresh(app, tokens["refresh_token"], resource="http://testserver/sse")
    assert response.json()["error"] == "invalid_target"


def test_resource_smuggled_into_the_consent_form_is_refused_without_redirect(oauth, app, pkce):
    page = oauth.authorize_get(app, pkce)
    response = oauth.consent_post(page, resource="https://evil.example/mcp")
    assert response.status_code == 400 and "Location" not in response
    assert not get_grant_model().objects.exists()


@pytest.mark.parametrize("grant_type", ["client_credentials", "password",
                                        "urn:ietf:params:oauth:grant-type:device_code"])
def test_other_grants_are_unsupported(oauth, app, grant_type):
    response = oauth.token(grant_type=grant_type, client_id=app["client_id"])
    assert (response.status_code, response.json()["error"]) == (400, "unsupported_grant_type")


def test_unknown_scope_is_invalid_scope(oauth, app, pkce):
    response = oauth.authorize_get(app, pkce, scope="sql:read admin")
    assert params_of(response["Location"])["error"] == "invalid_scope"


# --- sign-in and consent ------------------------------------------------------------------------

def test_anonymous_user_is_sent_to_sign_in_and_back(anonymous, app, pkce, user):
    response = anonymous.authorize_get(app, pkce)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=/authorize")
    login = anonymous.client.get(response["Location"])
    assert login.status_code == 200 and b'<label for="id_username">Username</label>' in login.content
    signed_in = anonymous.client.post(response["Location"], {"username": "analyst", "password": PASSWORD,
                                                              "next": params_of(response["Location"])["next"]})
    assert signed_in.status_code == 302 and signed_in["Location"].startswith("/authorize?")
    assert anonymous.client.get(signed_in["Location"]).status_code == 200


def test_broken_request_is_refused_before_sign_in(anonymous, app, pkce):
    response = anonymous.authorize_get(app, pkce, redirect_uri="https://evil.example/cb")
    assert response.status_code == 400


def test_consent_page_says_who_what_where_and_which_database(oauth, app, pkce):
    page = oauth.authorize_get(app, pkce, scope="sql:read sql:write")
    html = page.content.decode()
    assert "Claude" in html and "claude.ai" in html and "analyst" in html
    assert escape(database_label(settings.SQLTOOLS["ALIAS"])) in html
    assert "read data with queries that change nothing" in html and "read-only mode" in html
    assert 'name="csrfmiddlewaretoken"' in html and "<script" not in html
    assert page["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in page["Content-Security-Policy"]
    assert page["Cache-Control"] == "no-store"


def test_deny_returns_access_denied_to_the_client(oauth, app, pkce):
    response = oauth.consent_post(oauth.authorize_get(app, pkce), allow=False)
    params = params_of(response["Location"])
    assert response["Location"].startswith(CLAUDE_REDIRECT)
    assert params["error"] == "access_denied" and params["state"] == "xyz" and params["iss"] == ISSUER


def test_consent_without_csrf_token_is_forbidden(user, app, pkce):
    browser = OAuthHelper(Client(enforce_csrf_checks=True))
    browser.client.force_login(user)
    page = browser.authorize_get(app, pkce)
    data = {name: value for name, value in page.context["form"].initial.items() if value is not None}
    assert browser.client.post("/authorize", {**data, "allow": "true"}).status_code == 403


def test_oauth_activity_is_counted_for_the_metrics(oauth, pkce):
    """Registrations, consents and tokens as mcp_oauth_events_total counts them (telemetry.metrics)."""
    from prometheus_client import REGISTRY

    def counts() -> dict[str, float]:
        return {event: REGISTRY.get_sample_value("mcp_oauth_events_total", {"event": event}) or 0.0
                for event in ("registered", "registration_refused", "authorization_granted", "authorization_denied",
                              "token_issued", "token_refreshed", "token_revoked")}

    before = counts()
    app = oauth.register()
    assert oauth.register_response(redirect_uris=["https://evil.example/cb"]).status_code == 400
    tokens = oauth.tokens(app, pkce)
    refreshed = oauth.refresh(app, tokens["refresh_token"]).json()
    oauth.client.post("/revoke", {"token": refreshed["access_token"], "client_id": app["client_id"]})
    for token in (refreshed["access_token"], "no-such-token"):  # answered 200, nothing revoked: not counted
        assert oauth.client.post("/revoke", {"token": token, "client_id": app["client_id"]}).status_code == 200
    denied = oauth.consent_post(oauth.authorize_get(app, Pkce.make()), allow=False)
    assert params_of(denied["Location"])["error"] == "access_denied"
    after = counts()
    assert {event: after[event] - before[event] for event in after} == {
        "registered": 1, "registration_refused": 1, "authorization_granted": 1, "authorization_denied": 1,
        "token_issued": 1, "token_refreshed": 1, "token_revoked": 1}
