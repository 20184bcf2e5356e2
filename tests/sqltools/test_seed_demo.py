"""manage.py seed_demo: the demo sales database, built deterministically on any alias; every target holds it."""

from __future__ import annotations

import hashlib
import io
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connections

from sqltools.catalog import tables_list

DEMO_COUNTS = {"customers": 1000, "products": 200, "employees": 50, "orders": 12500, "order_lines": 50000}
DEMO_OBJECTS = [*DEMO_COUNTS, "sales_by_customer"]


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
