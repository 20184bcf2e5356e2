"""A blocked user stays blocked: a new client (anonymous DCR), an old refresh token, a token check."""

from __future__ import annotations

import pytest

from mcp_bridge.tokens import token_check
from oauth_ext.access import user_block, user_unblock

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
