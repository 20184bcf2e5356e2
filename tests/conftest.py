"""Shared fixtures: the demo data on every target alias, and a parametrised `target_alias`."""

from __future__ import annotations

import pytest
from django.conf import settings

from tests.services import require
from tests.targets import target_params


def pytest_configure(config):
    config.addinivalue_line("markers", "requires(service): tests.services.require(service) before the test's fixtures")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """`@pytest.mark.requires("redis")`: fail in CI, skip elsewhere, before any fixture starts a server."""
    for mark in item.iter_markers("requires"):
        for service in mark.args:
            require(service)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """After pytest-django made the test databases, load the demo data into every target."""
    from django.db import connections

    from sqltools.demo import demo_seed

    with django_db_blocker.unblock():
        for alias in settings.TARGET_ALIASES:
            connection = connections[alias]
            # pytest-django creates only the databases the selected tests ask for.
            if connection.settings_dict["NAME"] == connection.creation._get_test_db_name():
                demo_seed(alias=alias)


@pytest.fixture(params=target_params())
def target_alias(request) -> str:
    """Each target database in turn: SQLite, PostgreSQL, MariaDB."""
    return request.param


@pytest.fixture(autouse=True)
def _fresh_parse_memo():
    """sqltools remembers parses: a test that patches the parser must not leave its answers to the next."""
    from sqltools.policy import _COLUMNS, _ENFORCED, _catalog_statement, _remembered_statement

    yield
    _remembered_statement.cache_clear()
    _catalog_statement.cache_clear()
    _ENFORCED.clear()
    _COLUMNS.clear()


@pytest.fixture
def sqltools_config(settings):
    """Change sqltools settings for one test: sqltools_config(MAX_ROWS=5)."""

    def apply(**changes):
        settings.SQLTOOLS = {**settings.SQLTOOLS, **changes}

    return apply


# Every variable mcpsite.targetdb reads to build the target's DATABASES entry.
TARGET_VARS = ["TARGET_DATABASE_URL", "MSSQL_HOST", "MSSQL_PORT", "MSSQL_USER", "MSSQL_PASSWORD", "MSSQL_DATABASE",
               "MSSQL_DRIVER", "TrustServerCertificate", "Trusted_Connection", "Encrypt", "TARGET_CONN_MAX_AGE",
               "MSSQL_PYTHON_DRIVER"]


@pytest.fixture
def clean_env(monkeypatch):
    """None of the target's variables set (monkeypatch, returned, sets the ones a test wants)."""
    for name in TARGET_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def alias_for(django_db_blocker):
    """alias_for(config, name=None) registers a database alias for this test only and returns its name.

    Django caches DATABASES in `connections`, so the alias goes there; the test may use it without a
    django_db mark (Django's test case would refuse an alias it did not create), and it is closed and
    removed afterwards.
    """
    from django.db import connections

    added: list[str] = []

    def add(config: dict, *, name: str | None = None) -> str:
        alias = name or f"temporary_{len(added)}"
        configured = connections.configure_settings({"default": connections.settings["default"], alias: config})
        connections.settings[alias] = configured[alias]
        added.append(alias)
        return alias

    with django_db_blocker.unblock():
        yield add
        for alias in added:
            connections[alias].close()
            del connections[alias]
            del connections.settings[alias]


@pytest.fixture
def access_token(django_user_model):
    """access_token(username="carol", scope="sql:read", expires_in=3600): a new user with a client of their
    own, and the raw value of an access token issued to them by the product's token_issue."""
    from oauth2_provider.models import get_application_model

    from oauth_ext.grants import token_issue

    def issue(*, username: str = "carol", scope: str = "sql:read", expires_in: int = 3600) -> str:
        user = django_user_model.objects.create_user(username=username)
        application = get_application_model().objects.create(
            name=f"{username}-client", user=user, client_type="public",
            authorization_grant_type="authorization-code", redirect_uris="http://127.0.0.1/cb")
        return token_issue(user=user, application=application, scope=scope, expires_in=expires_in)

    return issue


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never says a word; yields its port."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield server.getsockname()[1]
    server.close()
