"""Shared fixtures: the demo data on every target alias, and a parametrised `target_alias`."""

from __future__ import annotations

import pytest
from django.conf import settings

ALL_TARGETS = {"target": "sqlite", "target_pg": "postgresql", "target_mysql": "mysql"}


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """After pytest-django made the test databases, load the demo data into every target."""
    from sqltools.demo import demo_seed

    from django.db import connections

    with django_db_blocker.unblock():
        for alias in settings.TARGET_ALIASES:
            connection = connections[alias]
            # pytest-django creates only the databases the selected tests ask for.
            if connection.settings_dict["NAME"] == connection.creation._get_test_db_name():
                demo_seed(alias=alias)


def _target_params():
    for alias, vendor in ALL_TARGETS.items():
        marks = []
        if alias not in settings.DATABASES:
            marks.append(pytest.mark.skip(reason=f"{vendor} is not listening on 127.0.0.1 (start it to run these tests)"))
        yield pytest.param(alias, id=vendor, marks=marks)


@pytest.fixture(params=list(_target_params()))
def target_alias(request) -> str:
    """Each target database in turn: SQLite, PostgreSQL, MariaDB."""
    return request.param


@pytest.fixture
def sqltools_config(settings):
    """Change sqltools settings for one test: sqltools_config(MAX_ROWS=5)."""

    def apply(**changes):
        settings.SQLTOOLS = {**settings.SQLTOOLS, **changes}

    return apply
