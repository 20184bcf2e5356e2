"""A blocked user stays blocked: a new client (anonymous DCR), an old refresh token, a token check, a connections
page."""

from __future__ import annotations

import pytest
from django.test import Client
from oauth2_provider.models import get_application_model

from mcp_bridge.verifier import token_check
from oauth_ext.access import user_block, user_unblock
from tests.oauth_ext.oauth_testing import OAuthHelper, stored_token

pytestmark = pytest.mark.django_db


def test_registering_a_new_client_does_not_get_around_the_block(oauth, anonymous, app, user, pkce):
    tokens = oauth.tokens(app)
    user_block(user=user)
    fresh = anonymous.register()  # anonymous DCR hands out a new client_id
    page = oauth.authorize_get(fresh, pkce)
    assert page.status_code == 403 and "blocked your account" in page.content.decode()
    assert "Location" not in page and page["Cache-Control"] == "no-store"
    assert oauth.client.post("/authorize", {"client_id": fresh["client_id"], "allow": "true"}).status_code == 403
    response = oauth.refresh(app, tokens["refresh_token"])
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")
    assert token_check(tokens["access_token"]) is None


def test_a_deactivated_user_cannot_refresh(oauth, app, user):
    tokens = oauth.tokens(app)
    user.is_active = False
    user.save()
    assert oauth.refresh(app, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert token_check(tokens["access_token"]) is None


def test_signing_in_again_meets_the_block(anonymous, user, app, pkce):
    user_block(user=user)
    browser = anonymous.client
    assert browser.login(username="analyst", password="correct horse battery staple")
    assert anonymous.authorize_get(app, pkce).status_code == 403


def test_unblocking_lets_the_user_authorize_again(oauth, anonymous, user):
    user_block(user=user)
    user_unblock(user=user)
    assert token_check(oauth.tokens(anonymous.register())["access_token"]) is not None


def test_issue_token_refuses_a_blocked_user(user):
    from django.core.management import CommandError, call_command

    user_block(user=user)
    with pytest.raises(CommandError, match="blocked"):
        call_command("issue_token", "--username", "analyst")


# --- /connections/ without a browser --------------------------------------------------------------

def test_connections_needs_a_signed_in_user(anonymous):
    response = anonymous.client.get("/connections/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=/connections/")


def test_connections_lists_the_users_clients(oauth, app):
    oauth.tokens(app, scope="sql:read sql:write")
    page = oauth.client.get("/connections/")
    html = page.content.decode()
    assert page.status_code == 200 and "Claude" in html and "can change data" in html and "Revoke access" in html
    assert page["Content-Security-Policy"].startswith("default-src 'none'") and page["Cache-Control"] == "no-store"


def test_revoking_needs_a_post_with_the_csrf_token(oauth, app, user):
    tokens = oauth.tokens(app)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post("/connections/revoke", {"client_id": app["client_id"]}).status_code == 403
    assert strict.get("/connections/revoke", {"client_id": app["client_id"]}).status_code == 405
    assert stored_token(tokens["access_token"]) is not None


def test_revoking_one_client_leaves_other_clients_and_other_users(oauth, app, user, django_user_model):
    mine, other_client = oauth.tokens(app), oauth.tokens(oauth.register(client_name="ChatGPT"))
    colleague = django_user_model.objects.create_user(username="bea", password="x" * 12)
    theirs = OAuthHelper(Client())
    theirs.client.force_login(colleague)
    their_tokens = theirs.tokens(app)  # the same client, another user
    response = oauth.client.post("/connections/revoke", {"client_id": app["client_id"]}, follow=True)
    assert "Claude can no longer access the database for you." in response.content.decode()
    assert token_check(mine["access_token"]) is None
    assert oauth.refresh(app, mine["refresh_token"]).json()["error"] == "invalid_grant"
    assert (
        token_check(other_client["access_token"]) is not None and token_check(their_tokens["access_token"]) is not None
    )
    assert [c.application.name for c in response.context["connections"]] == ["ChatGPT"]
    assert get_application_model().objects.filter(client_id=app["client_id"]).exists()  # the client stays
    assert oauth.client.post("/connections/revoke", {"client_id": "no-such-client"}).status_code == 404
