"""The demo seeder never touches a database that is not its own: same-named tables stay byte-identical.

`make run`'s preparation (prepare_local) seeds only the embedded SQLite file; `seed_demo` needs
--database-url/--database and --yes for anything else, and refuses any database holding tables it did
not create, before changing anything.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import connections

from mcpsite.liveserver import ROOT
from sqltools.demo import MARKER, DemoRefused, demo_seed, demo_state

PG = django_settings.DATABASES.get("target_pg")
needs_pg = pytest.mark.requires("postgresql")


def _seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _company_sqlite(path: Path) -> Path:
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, total NUMERIC)")
        db.executemany("INSERT INTO customers VALUES (?, ?)", [(1, "Real customer"), (2, "Another")])
        db.execute("INSERT INTO orders VALUES (1, 1, 99.5)")
    return path


def _prepare_local(var_dir: Path, target_url: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TARGET_", "MSSQL_", "DATABASE_URL"))}
    env.update(DJANGO_SETTINGS_MODULE="mcpsite.settings", DJANGO_ENV="local", VAR_DIR=str(var_dir),
               TARGET_DATABASE_URL=target_url)
    return subprocess.run([sys.executable, "manage.py", "prepare_local"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def embedded(settings, tmp_path):
    """VAR_DIR in a temporary directory: the embedded demo file is tmp_path/demo.sqlite3."""
    settings.VAR_DIR = tmp_path
    return tmp_path / "demo.sqlite3"


def test_seed_demo_without_options_builds_only_the_embedded_file(embedded, django_db_blocker):
    with django_db_blocker.unblock():
        assert "Demo data on the embedded demo database" in _seed("--scale", "0.01")
        assert "already present" in _seed("--if-missing")
    assert embedded.exists()


def test_a_company_sqlite_file_is_left_byte_identical(tmp_path, django_db_blocker):
    company = _company_sqlite(tmp_path / "company.sqlite3")
    before = _sha(company)
    with django_db_blocker.unblock():
        with pytest.raises(CommandError, match="Add --yes.*nothing was changed"):
            _seed("--database-url", f"sqlite:///{company}")
        with pytest.raises(CommandError, match=r"did not create \(customers, orders\).*Nothing was changed"):
            _seed("--database-url", f"sqlite:///{company}", "--yes")
    assert _sha(company) == before


def test_make_run_preparation_never_writes_a_configured_target(tmp_path):
    company = _company_sqlite(tmp_path / "company.sqlite3")
    before = _sha(company)
    done = _prepare_local(tmp_path / "var", f"sqlite:///{company}")
    assert done.returncode == 0, done.stderr
    assert "no demo data is written to it" in done.stdout
    assert _sha(company) == before
    assert not (tmp_path / "var" / "demo.sqlite3").exists()


def test_make_run_preparation_starts_even_when_the_target_is_unreachable(tmp_path):
    done = _prepare_local(tmp_path / "var", "postgres://nobody:secret@127.0.0.1:1/nothing")
    assert done.returncode == 0, done.stderr


def test_the_seeder_drops_only_what_it_listed_as_its_own(tmp_path, django_db_blocker):
    path = tmp_path / "mixed.sqlite3"
    with django_db_blocker.unblock():
        _seed("--database-url", f"sqlite:///{path}", "--yes", "--scale", "0.01")
        import sqlite3

        with sqlite3.connect(path) as db:
            assert {r[0] for r in db.execute(f"SELECT name FROM {MARKER}")} >= {"customers", "sales_by_customer"}
            db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")  # someone else's, added later
            db.execute("INSERT INTO invoices VALUES (7)")
        before = _sha(path)
        with pytest.raises(CommandError, match=r"did not create \(invoices\)"):
            _seed("--database-url", f"sqlite:///{path}", "--yes")
    assert _sha(path) == before


@pytest.fixture
def company_pg(django_db_blocker):
    """A PostgreSQL database of a company: its own customers and orders (and a view), no demo marker."""
    import psycopg

    name = f"company_{uuid.uuid4().hex[:8]}"
    admin = dict(host="127.0.0.1", port=5432, user=PG["USER"], dbname="postgres", autocommit=True)
    with psycopg.connect(**admin) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(**{**admin, "dbname": name}) as db:
        db.execute("CREATE TABLE customers (customer_id int PRIMARY KEY, name text NOT NULL, vip boolean)")
        db.execute(
            "CREATE TABLE orders (order_id int PRIMARY KEY, customer_id int REFERENCES customers, total numeric)"
        )
        db.execute("INSERT INTO customers VALUES (1, 'ACME', true), (2, 'Globex', false)")
        db.execute("INSERT INTO orders VALUES (10, 1, 1200.50), (11, 2, 15)")
        db.execute("CREATE VIEW sales_by_customer AS SELECT customer_id, sum(total) AS revenue FROM orders GROUP BY 1")
    url = f"postgres://{PG['USER']}@127.0.0.1:5432/{name}"
    with django_db_blocker.unblock():
        yield name, url
    with psycopg.connect(**admin) as db:
        db.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _pg_dump(name: str) -> str:
    done = subprocess.run(["pg_dump", "-h", "127.0.0.1", "-U", PG["USER"], "--no-comments", name],
                          capture_output=True, text=True, check=True, timeout=60)
    # pg_dump 15.14+ frames the dump with \restrict <random key>: the only line that differs between two dumps.
    return "\n".join(line for line in done.stdout.splitlines() if not line.startswith(("\\restrict", "\\unrestrict")))


@needs_pg
def test_a_company_postgresql_database_is_left_byte_identical(company_pg, tmp_path):
    name, url = company_pg
    before = _pg_dump(name)
    assert "customers" in before and "ACME" in before
    with pytest.raises(CommandError, match="Add --yes"):
        _seed("--database-url", url)
    with pytest.raises(CommandError, match=r"did not create \(customers, orders, sales_by_customer\)"):
        _seed("--database-url", url, "--yes")
    done = _prepare_local(tmp_path / "var", url)
    assert done.returncode == 0, done.stderr
    assert _pg_dump(name) == before


@needs_pg
def test_seed_demo_builds_and_rebuilds_its_own_postgresql_database(company_pg):
    import psycopg

    name, url = company_pg
    with psycopg.connect(host="127.0.0.1", user=PG["USER"], dbname=name, autocommit=True) as db:
        db.execute("DROP VIEW sales_by_customer")
        db.execute("DROP TABLE orders, customers")
    assert "Demo data on database" in _seed("--database-url", url, "--yes", "--scale", "0.01")
    assert "Demo data on database" in _seed("--database-url", url, "--yes", "--scale", "0.01")  # over its own build
    with psycopg.connect(host="127.0.0.1", user=PG["USER"], dbname=name) as db:
        assert db.execute("SELECT count(*) FROM customers").fetchone()[0] == 10


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_the_test_targets_are_the_seeders_own(target_alias):
    state = demo_state(alias=target_alias)
    assert state.present and not state.foreign
    with connections[target_alias].cursor() as cursor:
        cursor.execute("CREATE TABLE someone_elses (id INTEGER)")
    try:
        with pytest.raises(DemoRefused, match="someone_elses"):
            demo_seed(alias=target_alias)
    finally:
        with connections[target_alias].cursor() as cursor:
            cursor.execute("DROP TABLE someone_elses")
