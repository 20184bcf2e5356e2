"""Fixtures for the OAuth tests: a signed-in browser, a registered client, PKCE pairs."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.test import Client

from tests.oauth_ext.oauth_testing import PASSWORD, OAuthHelper, Pkce


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def user(django_user_model):
    """An analyst who may be granted sql:write (oauth_ext.write_sql); `reader` may not."""
    analyst = django_user_model.objects.create_user(username="analyst", password=PASSWORD)
    analyst.user_permissions.add(Permission.objects.get(codename="write_sql", content_type__app_label="oauth_ext"))
    return analyst


@pytest.fixture
def reader(django_user_model):
    return django_user_model.objects.create_user(username="reader", password=PASSWORD)


@pytest.fixture
def oauth(client: Client, user) -> OAuthHelper:
    """An OAuth helper whose browser is signed in as `user`."""
    client.force_login(user)
    return OAuthHelper(client)


@pytest.fixture
def anonymous() -> OAuthHelper:
    """A browser nobody has signed in to."""
    return OAuthHelper(Client())


@pytest.fixture
def app(oauth) -> dict:
    """A public client registered as Claude registers."""
    return oauth.register()


@pytest.fixture
def pkce() -> Pkce:
    return Pkce.make()


@pytest.fixture
def public_url(settings):
    """Set PUBLIC_URL the way the settings module does: the issuer follows it everywhere."""

    def apply(url: str) -> None:
        settings.PUBLIC_URL = url
        settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_ISS_ENDPOINT": url}

    return apply
