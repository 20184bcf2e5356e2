"""The target's settings: TARGET_DATABASE_URL, the original README's MSSQL_* variables, the SQLite demo by default."""

from __future__ import annotations

from pathlib import Path

import environ
import pytest

from mcpsite.targetdb import target_database


def _target(tmp_path: Path) -> dict:
    return target_database(environ.Env(), var_dir=tmp_path)


def test_default_target_is_the_sqlite_demo(clean_env, tmp_path):
    config = _target(tmp_path)
    assert (config["ENGINE"], config["NAME"]) == ("django.db.backends.sqlite3", str(tmp_path / "demo.sqlite3"))
    assert config["CONN_HEALTH_CHECKS"] is True


@pytest.mark.parametrize("url, engine, port", [
    ("postgres://reader:pw@db.example:5433/sales", "django.db.backends.postgresql", 5433),
    ("postgresql://reader:pw@db.example:5433/sales", "django.db.backends.postgresql", 5433),
    ("mysql://reader:pw@db.example:3307/sales", "django.db.backends.mysql", 3307),
])
def test_target_database_url(clean_env, tmp_path, url, engine, port):
    clean_env.setenv("TARGET_DATABASE_URL", url)
    config = _target(tmp_path)
    assert {k: config[k] for k in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT")} == {
        "ENGINE": engine, "NAME": "sales", "USER": "reader", "PASSWORD": "pw", "HOST": "db.example", "PORT": port}


def test_mssql_url_moves_driver_keywords_into_options(clean_env, tmp_path):
    clean_env.setenv("TARGET_DATABASE_URL", "mssql://sa:pw@sql.example:1433/sales"
                     "?driver=ODBC+Driver+18+for+SQL+Server&TrustServerCertificate=yes")
    config = _target(tmp_path)
    assert (config["ENGINE"], config["NAME"], config["HOST"], config["PORT"]) == ("mssql", "sales", "sql.example", 1433)
    assert config["OPTIONS"]["driver"] == "ODBC Driver 18 for SQL Server"
    assert config["OPTIONS"]["extra_params"] == "TrustServerCertificate=yes"
    assert (config["OPTIONS"]["connection_timeout"], config["OPTIONS"]["connection_retries"]) == (10, 0)


def test_mssql_url_with_freetds_pins_the_tds_version(clean_env, tmp_path):
    clean_env.setenv("TARGET_DATABASE_URL", "mssql://sa:pw@sql.example:1433/sales?driver=FreeTDS")
    options = _target(tmp_path)["OPTIONS"]
    assert "TDS_Version=7.4" in options["extra_params"] and options["host_is_server"] is True


def test_original_readme_mssql_variables(clean_env, tmp_path):
    variables = {"MSSQL_HOST": "sql.example", "MSSQL_PORT": "1433", "MSSQL_USER": "reader", "MSSQL_PASSWORD": "pw",
                 "MSSQL_DATABASE": "sales", "MSSQL_DRIVER": "ODBC Driver 17 for SQL Server",
                 "TrustServerCertificate": "yes"}
    for name, value in variables.items():
        clean_env.setenv(name, value)
    config = _target(tmp_path)
    assert {k: config[k] for k in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT", "Trusted_Connection")} == {
        "ENGINE": "mssql", "NAME": "sales", "USER": "reader", "PASSWORD": "pw", "HOST": "sql.example", "PORT": "1433",
        "Trusted_Connection": "no"}
    assert config["OPTIONS"]["driver"] == "ODBC Driver 17 for SQL Server"
    assert config["OPTIONS"]["extra_params"] == "TrustServerCertificate=yes"


def test_mssql_variables_defaults(clean_env, tmp_path):
    clean_env.setenv("MSSQL_HOST", "sql.example")
    clean_env.setenv("Trusted_Connection", "yes")
    config = _target(tmp_path)
    assert (config["ENGINE"], config["NAME"], config["Trusted_Connection"]) == ("mssql", "master", "yes")
    assert "TrustServerCertificate" not in config["OPTIONS"].get("extra_params", "")


def test_target_database_url_wins_over_mssql_variables(clean_env, tmp_path):
    clean_env.setenv("MSSQL_HOST", "sql.example")
    clean_env.setenv("TARGET_DATABASE_URL", "postgres://reader:pw@db.example:5432/sales")
    clean_env.setenv("TARGET_CONN_MAX_AGE", "0")
    config = _target(tmp_path)
    assert (config["ENGINE"], config["CONN_MAX_AGE"]) == ("django.db.backends.postgresql", 0)
