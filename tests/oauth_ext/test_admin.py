"""The admin console (revoke, disable, delete, filters), issue_token and DOT's cleartokens."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model, get_refresh_token_model

from oauth_ext.checks import check_oauth
from tests.oauth_ext.oauth_testing import Pkce, stored_token

pytestmark = pytest.mark.django_db

CLIENTS = "/admin/oauth2_provider/application/"
ACCESS_TOKENS = "/admin/oauth2_provider/accesstoken/"


@pytest.fixture
def staff(django_user_model) -> Client:
    admin_user = django_user_model.objects.create_superuser(username="dba", password="x" * 12)
    browser = Client()
    browser.force_login(admin_user)
    return browser


def _act(staff: Client, changelist: str, action: str, pks: list[int]):
    return staff.post(changelist, {"action": action, "_selected_action": pks}, follow=True)


def _pk(app: dict) -> int:
    return get_application_model().objects.get(client_id=app["client_id"]).pk


def test_client_list_shows_source_created_and_status(staff, app):
    page = staff.get(CLIENTS)
    html = page.content.decode()
    assert page.status_code == 200 and "Dynamic Client Registration" in html
    assert "column-created" in html and "column-enabled" in html
    assert staff.get(CLIENTS, {"status": "disabled"}).context["cl"].result_count == 0
    assert staff.get(CLIENTS, {"status": "enabled"}).context["cl"].result_count == 1


def test_revoke_every_token_of_selected_clients(staff, oauth, app):
    first, second = oauth.tokens(app), oauth.tokens(app)
    page = _act(staff, CLIENTS, "revoke_tokens", [_pk(app)])
    assert "Revoked 2 access tokens." in page.content.decode()
    assert stored_token(first["access_token"]) is None and stored_token(second["access_token"]) is None
    assert not get_refresh_token_model().objects.filter(revoked__isnull=True).exists()
    assert oauth.refresh(app, second["refresh_token"]).json()["error"] == "invalid_grant"


def test_disabled_client_loses_its_tokens_and_cannot_get_new_ones(staff, oauth, app, pkce):
    tokens = oauth.tokens(app)
    _act(staff, CLIENTS, "disable_clients", [_pk(app)])
    assert stored_token(tokens["access_token"]) is None
    assert staff.get(CLIENTS, {"status": "disabled"}).context["cl"].result_count == 1
    assert oauth.authorize_get(app, pkce).status_code == 400
    response = oauth.refresh(app, tokens["refresh_token"])
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
    _act(staff, CLIENTS, "enable_clients", [_pk(app)])
    assert oauth.tokens(app)["access_token"]


def test_code_issued_before_disable_is_refused(staff, oauth, app, pkce):
    code = oauth.code(app, pkce)
    _act(staff, CLIENTS, "disable_clients", [_pk(app)])
    assert oauth.exchange(app, code, pkce).json()["error"] == "invalid_client"


def test_a_disabled_confidential_client_is_refused_with_its_secret(staff, oauth, pkce):
    app = oauth.register(client_name="ChatGPT", token_endpoint_auth_method="client_secret_post")
    code = oauth.code(app, pkce)
    _act(staff, CLIENTS, "disable_clients", [_pk(app)])
    response = oauth.exchange(app, code, pkce, client_secret=app["client_secret"])
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")


def test_deleting_a_client_deletes_its_tokens(staff, oauth, app):
    tokens = oauth.tokens(app)
    staff.post(CLIENTS, {"action": "delete_selected", "_selected_action": [_pk(app)], "post": "yes"})
    assert not get_application_model().objects.exists() and stored_token(tokens["access_token"]) is None


def test_staff_allowed_to_delete_clients_delete_them_with_their_tokens_not_with_pending_grants(
    django_user_model, oauth, app
):
    """DOT's token admins forbid deleting token rows by hand; that must not stop deleting a client.
    A grant (a pending authorization code) keeps the ordinary permission check."""
    from django.contrib.auth.models import Permission
    from oauth2_provider.models import get_grant_model

    clerk = django_user_model.objects.create_user(username="clerk", password="x" * 12, is_staff=True)
    clerk.user_permissions.set(Permission.objects.filter(codename__in=["view_application", "delete_application"]))
    browser = Client()
    browser.force_login(clerk)
    application = get_application_model().objects.get(client_id=app["client_id"])
    grant = get_grant_model().objects.create(
        application=application,
        user=clerk,
        code="c" * 20,
        redirect_uri="https://claude.ai/cb",
        expires=timezone.now() + timedelta(seconds=60),
        code_challenge="x" * 43,
        code_challenge_method="S256",
    )
    refused = browser.post(CLIENTS, {"action": "delete_selected", "_selected_action": [application.pk], "post": "yes"})
    assert refused.status_code == 403  # Django's answer when the deletion needs a permission the user lacks
    assert get_application_model().objects.filter(pk=application.pk).exists()
    grant.delete()
    token = oauth.tokens(app)["access_token"]
    browser.post(CLIENTS, {"action": "delete_selected", "_selected_action": [application.pk], "post": "yes"})
    assert not get_application_model().objects.filter(pk=application.pk).exists() and stored_token(token) is None


def test_revoke_selected_tokens_revokes_access_and_refresh(staff, oauth, app):
    kept, revoked = oauth.tokens(app), oauth.tokens(app)
    _act(staff, ACCESS_TOKENS, "revoke_tokens", [stored_token(revoked["access_token"]).pk])
    assert stored_token(revoked["access_token"]) is None and stored_token(kept["access_token"]) is not None
    assert oauth.refresh(app, revoked["refresh_token"]).json()["error"] == "invalid_grant"


def test_tokens_filter_by_user_client_and_expiry(staff, oauth, app, user):
    oauth.tokens(app)
    expired = stored_token(oauth.tokens(app)["access_token"])
    get_access_token_model().objects.filter(pk=expired.pk).update(expires=timezone.now() - timedelta(minutes=1))
    count = lambda **query: staff.get(ACCESS_TOKENS, query).context["cl"].result_count  # noqa: E731
    assert count() == 2 and count(user__id__exact=user.pk) == 2 and count(application__id__exact=_pk(app)) == 2
    assert count(expiry="active") == 1 and count(expiry="expired") == 1
    assert count(user__id__exact=user.pk + 100) == 0


def test_refresh_token_and_grant_lists_render(staff, oauth, app):
    oauth.tokens(app)
    oauth.code(app, Pkce.make())
    for path in ("/admin/oauth2_provider/refreshtoken/", "/admin/oauth2_provider/grant/",
                 f"{CLIENTS}{_pk(app)}/change/"):
        assert staff.get(path).status_code == 200, path


# --- issue_token -------------------------------------------------------------------------------

def _issue(*args: str) -> str:
    out = StringIO()
    call_command("issue_token", *args, stdout=out)
    return out.getvalue().strip()


def test_issue_token_prints_a_working_token(user):
    raw = _issue("--username", "analyst")
    row = stored_token(raw)
    assert row.user == user and row.scope == "sql:read" and row.resource == []
    assert 3590 < (row.expires - timezone.now()).total_seconds() <= 3600
    assert row.application.name == "issue_token (operator)"


def test_issue_token_reuses_the_named_client_and_honours_scope_and_expiry(user):
    first = stored_token(_issue("--username", "analyst", "--client", "smoke test", "--scope", "sql:read sql:write",
                                "--expires", "60"))
    second = stored_token(_issue("--username", "analyst", "--client", "smoke test"))
    assert first.application == second.application and first.scope == "sql:read sql:write"
    assert (first.expires - timezone.now()).total_seconds() <= 60
    assert get_application_model().objects.filter(name="smoke test").count() == 1


@pytest.mark.parametrize(("args", "message"), [
    (["--username", "nobody"], "No active user"),
    (["--username", "analyst", "--scope", "admin"], "Unknown scope"),
    (["--username", "analyst", "--expires", "0"], "positive"),
])
def test_issue_token_explains_what_is_wrong(user, args, message):
    with pytest.raises(CommandError, match=message):
        _issue(*args)


def test_issue_token_refuses_a_disabled_client(staff, user):
    _issue("--username", "analyst", "--client", "ops")
    application = get_application_model().objects.get(name="ops")
    _act(staff, CLIENTS, "disable_clients", [application.pk])
    with pytest.raises(CommandError, match="disabled"):
        _issue("--username", "analyst", "--client", "ops")


def test_cleartokens_still_works(user):
    raw = _issue("--username", "analyst")
    get_access_token_model().objects.update(expires=timezone.now() - timedelta(days=1))
    call_command("cleartokens")
    assert stored_token(raw) is None


def test_system_checks_pass_and_catch_issuer_drift(settings):
    assert check_oauth() == []
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_ISS_ENDPOINT": "https://elsewhere.example"}
    assert [message.id for message in check_oauth()] == ["oauth_ext.E001"]
