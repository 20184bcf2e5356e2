"""The operator's console as a non-superuser staff member: clients told apart, a user's access, the block."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_refresh_token_model,
)

from mcp_bridge.verifier import token_check
from oauth_ext.models import BlockedUser
from tests.oauth_ext.oauth_testing import stored_token

pytestmark = pytest.mark.django_db

CLIENTS = "/admin/oauth2_provider/application/"
USERS = "/admin/auth/user/"
VIEW = ["view_application", "view_accesstoken", "view_refreshtoken", "view_grant", "view_user"]


def _staff(django_user_model, username: str, codenames: list[str]) -> Client:
    user = django_user_model.objects.create_user(username=username, password="x" * 12, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    browser = Client()
    browser.force_login(user)
    return browser


@pytest.fixture
def viewer(django_user_model) -> Client:
    return _staff(django_user_model, "viewer", VIEW)


@pytest.fixture
def blocker(django_user_model) -> Client:
    return _staff(django_user_model, "blocker", [*VIEW, "block_user"])


def _application(app: dict):
    return get_application_model().objects.get(client_id=app["client_id"])


def test_three_claude_rows_are_told_apart_by_owner_id_and_last_use(viewer, oauth, anonymous, django_user_model):
    used, unused = anonymous.register(), anonymous.register()  # as Claude registers: nobody signed in
    oauth.tokens(used)
    other = django_user_model.objects.create_user(username="bea", password="x" * 12)
    oauth.client.force_login(other)
    third = oauth.register()
    oauth.tokens(third)
    changelist = viewer.get(CLIENTS)
    assert changelist.status_code == 200
    rows = {row.client_id: row for row in changelist.context["cl"].result_list}
    assert (rows[used["client_id"]].owner_name, rows[third["client_id"]].owner_name) == ("analyst", "bea")
    assert rows[unused["client_id"]].owner_name is None and rows[unused["client_id"]].last_used_at is None
    assert rows[used["client_id"]].last_used_at is not None
    html = changelist.content.decode()
    for app in (used, unused, third):
        assert f"{app['client_id'][:10]}…" in html
    assert "column-owner" in html and "column-last_used" in html and "column-short_client_id" in html
    assert changelist.context["cl"].queryset.order_by("-last_used_at").first().client_id in {
        used["client_id"],
        third["client_id"],
    }


def test_a_client_page_shows_only_fields_that_apply(viewer, oauth, app):
    application = _application(app)
    page = viewer.get(f"{CLIENTS}{application.pk}/change/")
    assert page.status_code == 200
    fields = {name for fieldset in page.context["adminform"].fieldsets for name in fieldset[1]["fields"]}
    assert {"name", "client_id", "redirect_uris", "owner", "last_used", "enabled"} <= fields
    assert not fields & {"algorithm", "authorization_grant_type", "post_logout_redirect_uris", "allowed_origins",
                         "client_secret", "hash_client_secret"}
    confidential = _application(oauth.register(token_endpoint_auth_method="client_secret_post"))
    page = viewer.get(f"{CLIENTS}{confidential.pk}/change/")
    fields = {name for fieldset in page.context["adminform"].fieldsets for name in fieldset[1]["fields"]}
    assert "client_secret" in fields and "algorithm" not in fields


def test_a_superuser_adds_a_client_without_choosing_a_grant_type(admin_client):
    response = admin_client.post(
        f"{CLIENTS}add/",
        {
            "name": "Pre-registered",
            "client_id": "pre-registered-1",
            "client_type": "public",
            "redirect_uris": "https://claude.ai/api/mcp/auth_callback",
            "client_secret": "",
            "hash_client_secret": "on",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    assert (
        get_application_model().objects.get(client_id="pre-registered-1").authorization_grant_type
        == "authorization-code"
    )


def test_id_tokens_are_not_in_the_admin_when_oidc_is_off(admin_client):
    index = admin_client.get("/admin/").content.decode()
    assert "Access tokens" in index and "Id tokens" not in index and "ID tokens" not in index
    assert admin_client.get("/admin/oauth2_provider/idtoken/").status_code == 404


def test_a_viewer_sees_a_users_clients_and_tokens_with_last_use(viewer, oauth, app, user):
    oauth.tokens(app)
    oauth.tokens(oauth.register(client_name="ChatGPT"))
    page = viewer.get(f"{USERS}{user.pk}/oauth-access/")
    assert page.status_code == 200
    names = [connection.application.name for connection in page.context["connections"]]
    assert sorted(names) == ["ChatGPT", "Claude"] and all(c.last_used_at for c in page.context["connections"])
    assert all(c.scopes == ("sql:read",) for c in page.context["connections"])
    assert len(page.context["tokens"]) == 2
    html = page.content.decode()
    assert "Revoke all access and block" not in html  # no permission to block
    assert f"{USERS}{user.pk}/oauth-access/" in viewer.get(f"{USERS}{user.pk}/change/").content.decode()


def test_a_viewer_cannot_block_by_action_or_by_the_users_page(viewer, oauth, app, user):
    tokens = oauth.tokens(app)
    viewer.post(USERS, {"action": "revoke_and_block", "_selected_action": [user.pk]})
    assert viewer.post(f"{USERS}{user.pk}/oauth-access/", {"block": "1"}).status_code == 403
    assert not BlockedUser.objects.exists() and stored_token(tokens["access_token"]) is not None
    assert "revoke_and_block" not in viewer.get(USERS).content.decode()


def test_the_block_permission_revokes_everything_and_blocks(blocker, oauth, app, user, pkce):
    tokens = oauth.tokens(app)
    code = oauth.code(app, pkce)  # a pending authorization code
    page = blocker.post(USERS, {"action": "revoke_and_block", "_selected_action": [user.pk]}, follow=True)
    assert "Blocked 1 user; revoked 1 access tokens." in page.content.decode()
    assert stored_token(tokens["access_token"]) is None and token_check(tokens["access_token"]) is None
    assert not get_refresh_token_model().objects.filter(user=user, revoked__isnull=True).exists()
    assert not get_grant_model().objects.filter(user=user).exists()
    assert oauth.exchange(app, code, pkce).json()["error"] == "invalid_grant"
    assert blocker.get(USERS, {"oauth": "blocked"}).context["cl"].result_count == 1
    blocker.post(USERS, {"action": "unblock", "_selected_action": [user.pk]})
    assert not BlockedUser.objects.exists() and oauth.tokens(app)["access_token"]


def test_block_and_unblock_from_the_users_page(blocker, oauth, app, user):
    oauth.tokens(app)
    page = blocker.post(f"{USERS}{user.pk}/oauth-access/", {"block": "1"}, follow=True)
    html = page.content.decode()
    assert "Blocked analyst and revoked 1 access token(s)." in html and "Unblock" in html
    assert page.context["connections"] == [] and BlockedUser.objects.get().user == user
    blocker.post(f"{USERS}{user.pk}/oauth-access/", {"unblock": "1"})
    assert not BlockedUser.objects.exists()


def test_a_token_that_outlived_the_block_is_refused_by_the_mcp_check(oauth, app, user):
    """Blocking deletes every token; a token written by other means afterwards is refused all the same."""
    from oauth_ext.access import user_block
    from oauth_ext.grants import token_issue

    user_block(user=user)
    raw = token_issue(user=user, application=_application(app), scope="sql:read", expires_in=600)
    assert stored_token(raw) is not None and token_check(raw) is None
    get_access_token_model().objects.filter(user=user).update(expires=timezone.now() + timedelta(hours=1))
    BlockedUser.objects.all().delete()
    assert token_check(raw) is not None
