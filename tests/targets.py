"""The target aliases the tests run against, and pytest params for them that skip a server that is down.

In CI every server must be up (tests/settings.py refuses to start otherwise), so nothing skips there.
"""

from __future__ import annotations

import pytest
from django.conf import settings

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
