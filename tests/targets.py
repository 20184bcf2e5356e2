"""The target aliases the tests run against, and pytest params for them that skip a server that is down.

In CI every server must be up (tests/settings.py refuses to start otherwise), so nothing skips there.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import pytest
from django.conf import settings
from django.db import connections

from tests.services import missing

ALL_TARGETS = {"target": "sqlite", "target_pg": "postgresql", "target_mysql": "mysql"}


def target_params(*aliases: str) -> list:
    """pytest params for `aliases` (default: all), for `target_alias` directly or with indirect=True."""
    params = []
    for alias in aliases or ALL_TARGETS:
        vendor = ALL_TARGETS[alias]
        marks = [] if alias in settings.DATABASES else [pytest.mark.skip(reason=missing(vendor))]
        params.append(pytest.param(alias, id=vendor, marks=marks))
    return params


@contextlib.contextmanager
def statements_sent(alias: str) -> Iterator[list[str]]:
    """Every statement the server sends to `alias` within the block, as written before the driver's placeholders;
    not the backend's own connect-time statements (the connection is made first), nor SQLite's bare BEGIN (the
    embedded file's transaction, which no one else sees)."""
    connection = connections[alias]
    connection.ensure_connection()
    sent: list[str] = []

    def wrapper(execute, sql, params, many, context):
        if not (connection.vendor == "sqlite" and sql == "BEGIN"):
            sent.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield sent
