"""Management commands (seed_demo, ensure_admin), the sqltools system checks, and the target's settings."""

from __future__ import annotations

import hashlib
import io
import time
from pathlib import Path

import environ
import pytest
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.core.management import CommandError, call_command
from django.db import connections

from mcpsite.targetdb import target_database
from sqltools.catalog import tables_list
from sqltools.checks import check_target

DEMO_COUNTS = {"customers": 1000, "products": 200, "employees": 50, "orders": 12500, "order_lines": 50000}
DEMO_OBJECTS = [*DEMO_COUNTS, "sales_by_customer"]


# --- seed_demo ---------------------------------------------------------------------------------------------------

@pytest.fixture
def sqlite_alias(tmp_path, alias_for):
    """A temporary alias on a fresh SQLite file: sqlite_alias("name") registers and returns it."""

    def add(name: str, path: Path | None = None) -> str:
        return alias_for({"ENGINE": "django.db.backends.sqlite3", "NAME": str(path or tmp_path / f"{name}.sqlite3")})

    return add


def _seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, "--yes", stdout=out)
    return out.getvalue()


def _checksum(alias: str) -> str:
    digest = hashlib.sha256()
    with connections[alias].cursor() as cursor:
        for table in DEMO_OBJECTS:
            cursor.execute(f"SELECT * FROM {table} ORDER BY 1")
            digest.update(repr(cursor.fetchall()).encode())
    return digest.hexdigest()


def _counts(alias: str) -> dict[str, int]:
    with connections[alias].cursor() as cursor:
        counts = {}
        for table in DEMO_COUNTS:
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            counts[table] = cursor.fetchone()[0]
    return counts


def test_seed_demo_builds_the_sales_database(sqlite_alias):
    alias = sqlite_alias("demo")
    started = time.perf_counter()
    output = _seed("--database", alias)
    assert time.perf_counter() - started < 20
    assert f"Demo data on '{alias}'" in output and "order_lines 50000" in output
    assert _counts(alias) == DEMO_COUNTS
    assert {(t.name, t.kind) for t in tables_list(alias=alias)} >= {("sales_by_customer", "view"), ("orders", "table")}
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM employees WHERE manager_id IS NULL")
        assert cursor.fetchone()[0] == 1  # one CEO; everyone else has a manager
        cursor.execute("SELECT COUNT(*) FROM employees e JOIN employees m ON m.employee_id = e.manager_id")
        assert cursor.fetchone()[0] == 49


def test_seed_demo_is_deterministic(sqlite_alias):
    first, second = sqlite_alias("first"), sqlite_alias("second")
    _seed("--database", first)
    _seed("--database", second)
    assert _checksum(first) == _checksum(second)
    _seed("--database", first)  # rebuilding drops and recreates: the same rows again
    assert _checksum(first) == _checksum(second)


def test_seed_demo_if_missing_builds_once(sqlite_alias):
    alias = sqlite_alias("once")
    assert "Demo data on" in _seed("--database", alias, "--if-missing")
    before = _checksum(alias)
    with connections[alias].cursor() as cursor:
        cursor.execute("UPDATE customers SET name = 'changed by hand' WHERE customer_id = 1")
    started = time.perf_counter()
    assert _seed("--database", alias, "--if-missing").strip() == f"Demo data already present on '{alias}'."
    assert time.perf_counter() - started < 2
    assert _checksum(alias) != before  # untouched: the hand edit survived


def test_seed_demo_scale(sqlite_alias):
    alias = sqlite_alias("small")
    _seed("--database", alias, "--scale", "0.1")
    assert _counts(alias) == {"customers": 100, "products": 200, "employees": 50, "orders": 1250, "order_lines": 5000}


def test_seed_demo_on_a_broken_database_is_a_command_error(sqlite_alias, tmp_path):
    alias = sqlite_alias("broken", tmp_path / "no" / "such" / "dir" / "demo.sqlite3")
    with pytest.raises(CommandError, match=f"Could not build the demo database on '{alias}'"):
        _seed("--database", alias)


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_every_target_holds_the_demo(target_alias):
    assert _counts(target_alias) == DEMO_COUNTS
    kinds = {t.name.lower(): t.kind for t in tables_list(alias=target_alias)}
    assert {name: kinds.get(name) for name in DEMO_OBJECTS} == {**{t: "table" for t in DEMO_COUNTS},
                                                                "sales_by_customer": "view"}


# --- system checks -----------------------------------------------------------------------------------------------

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


# --- the target's settings ---------------------------------------------------------------------------------------

TARGET_VARS = ["TARGET_DATABASE_URL", "MSSQL_HOST", "MSSQL_PORT", "MSSQL_USER", "MSSQL_PASSWORD", "MSSQL_DATABASE",
               "MSSQL_DRIVER", "TrustServerCertificate", "Trusted_Connection", "Encrypt", "TARGET_CONN_MAX_AGE",
               "MSSQL_PYTHON_DRIVER"]


@pytest.fixture
def clean_env(monkeypatch):
    for name in TARGET_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


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


# --- ensure_admin ------------------------------------------------------------------------------------------------

def _ensure_admin() -> str:
    out = io.StringIO()
    call_command("ensure_admin", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_ensure_admin_creates_one_admin_with_a_printed_password():
    output = _ensure_admin()
    password = output.split("password: ", 1)[1].split()[0]
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.check_password(password)
    assert len(password) >= 16
    assert _ensure_admin() == ""  # the second run does nothing and prints nothing
    assert get_user_model().objects.filter(is_superuser=True).count() == 1
    assert get_user_model().objects.get(username="admin").check_password(password)


@pytest.mark.django_db
def test_ensure_admin_does_nothing_when_a_superuser_exists(django_user_model):
    django_user_model.objects.create_superuser(username="dba", password="x" * 20)
    assert _ensure_admin() == ""
    assert not django_user_model.objects.filter(username="admin").exists()


@pytest.mark.django_db
def test_ensure_admin_never_invents_a_password_off_the_embedded_default(settings, django_user_model):
    settings.DJANGO_ENV = "production"
    assert "createsuperuser" in _ensure_admin()
    assert not django_user_model.objects.exists()
