"""The sqltools system checks: a missing or unsupported alias, writes allowed, bad limits, an unverified certificate."""

from __future__ import annotations

from pathlib import Path

import environ
import pytest
from django.core.checks import run_checks

from mcpsite.targetdb import target_database
from sqltools.checks import check_target


def _ids(messages) -> list[str]:
    return sorted(m.id for m in messages if m.id.startswith("sqltools."))


def test_default_configuration_passes_the_checks():
    assert _ids(check_target()) == []


def test_missing_alias_is_e001(sqltools_config):
    sqltools_config(ALIAS="warehouse")
    [error] = check_target()
    assert error.id == "sqltools.E001" and "'warehouse' is not in DATABASES" in error.msg
    assert "sqltools.E001" in _ids(run_checks())  # registered, so `manage.py check` reports it


def test_unsupported_engine_is_e002(sqltools_config, settings, monkeypatch):
    monkeypatch.setitem(settings.DATABASES, "legacy", {"ENGINE": "django.db.backends.oracle", "NAME": "orcl"})
    sqltools_config(ALIAS="legacy")
    [error] = check_target()
    assert error.id == "sqltools.E002" and "django.db.backends.oracle" in error.msg


def test_read_only_off_is_w001(sqltools_config):
    sqltools_config(READ_ONLY=False)
    assert _ids(check_target()) == ["sqltools.W001"]
    sqltools_config(READ_ONLY=False, ALLOW_DDL=True)
    assert _ids(check_target()) == ["sqltools.W001", "sqltools.W002"]


def test_non_positive_limits_are_e003(sqltools_config):
    sqltools_config(MAX_ROWS=0)
    assert _ids(check_target()) == ["sqltools.E003"]


@pytest.mark.parametrize("changes", [{"WRITE_APPROVAL": "requried"}, {"OVER_LIMIT": "ask"}, {"APPROVAL_TTL_SECONDS": 0},
                                     {"MAX_ESTIMATED_ROWS": -1}])
def test_approval_settings_out_of_range_are_e004(sqltools_config, changes):
    sqltools_config(**changes)
    assert _ids(check_target()) == ["sqltools.E004"]


def test_unverified_sql_server_certificate_is_w003(sqltools_config, settings, monkeypatch, clean_env):
    clean_env.setenv("TARGET_DATABASE_URL", "mssql://sa:pw@sql.example:1433/sales?TrustServerCertificate=yes")
    monkeypatch.setitem(settings.DATABASES, "sqlserver", target_database(environ.Env(), var_dir=Path("/nonexistent")))
    sqltools_config(ALIAS="sqlserver")
    assert _ids(check_target()) == ["sqltools.W003"]
