"""A realistic, deterministic sales database for demos and tests, on any supported target.

customers, products, employees (with a manager foreign key), orders, order_lines (~50k rows
at scale 1) and the view sales_by_customer. The same seed gives the same rows everywhere.

The seeder lists what it creates in its own table (seed_demo_objects) and drops only what is listed
there; it refuses a database that holds any table or view it did not create. `make run` seeds only
the embedded SQLite file (demo_embedded_path); anything else takes `seed_demo --database-url ... --yes`.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections, transaction

from sqltools.vendors import vendor_for

_TYPES = {
    "sqlite": {"text": "VARCHAR({n})", "ts": "TIMESTAMP", "bool": "BOOLEAN"},
    "postgresql": {"text": "VARCHAR({n})", "ts": "TIMESTAMP", "bool": "BOOLEAN"},
    "mysql": {"text": "VARCHAR({n})", "ts": "DATETIME(6)", "bool": "BOOLEAN"},
    "mssql": {"text": "NVARCHAR({n})", "ts": "DATETIME2", "bool": "BIT"},
}
_TABLES = ["order_lines", "orders", "customers", "products", "employees"]
_DDL = [
    """CREATE TABLE employees (employee_id INTEGER PRIMARY KEY, first_name {text:40} NOT NULL,
       last_name {text:40} NOT NULL, title {text:60} NOT NULL,
       manager_id INTEGER NULL REFERENCES employees (employee_id), hired_on DATE NOT NULL,
       salary DECIMAL(10, 2) NOT NULL)""",
    """CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, name {text:100} NOT NULL,
       email {text:120} NOT NULL UNIQUE, country {text:40} NOT NULL, city {text:60} NOT NULL, created_at {ts} NOT NULL,
       credit_limit DECIMAL(12, 2) NOT NULL, notes {text:200} NULL)""",
    """CREATE TABLE products (product_id INTEGER PRIMARY KEY, sku {text:20} NOT NULL UNIQUE,
       name {text:100} NOT NULL, category {text:40} NOT NULL, unit_price DECIMAL(10, 2) NOT NULL,
       discontinued {bool} NOT NULL)""",
    """CREATE TABLE orders (order_id INTEGER PRIMARY KEY,
       customer_id INTEGER NOT NULL REFERENCES customers (customer_id),
       employee_id INTEGER NOT NULL REFERENCES employees (employee_id), ordered_at {ts} NOT NULL,
       status {text:20} NOT NULL, shipped_on DATE NULL)""",
    """CREATE TABLE order_lines (order_line_id INTEGER PRIMARY KEY,
       order_id INTEGER NOT NULL REFERENCES orders (order_id),
       product_id INTEGER NOT NULL REFERENCES products (product_id), quantity INTEGER NOT NULL,
       unit_price DECIMAL(10, 2) NOT NULL, discount DECIMAL(4, 2) NOT NULL)""",
    "CREATE INDEX ix_orders_customer ON orders (customer_id)",
    "CREATE INDEX ix_orders_ordered_at ON orders (ordered_at)",
    "CREATE INDEX ix_order_lines_order ON order_lines (order_id)",
    """CREATE VIEW sales_by_customer AS
       SELECT c.customer_id, c.name, c.country, COUNT(DISTINCT o.order_id) AS orders,
              SUM(l.quantity * l.unit_price * (1 - l.discount)) AS revenue
       FROM customers c JOIN orders o ON o.customer_id = c.customer_id JOIN order_lines l ON l.order_id = o.order_id
       GROUP BY c.customer_id, c.name, c.country""",
]
_FIRST = (
    "Ada Alan Grace Edsger Barbara Donald Frances Ken Dennis Margaret Linus Guido Anders Bjarne Radia Sophie".split()
)
_LAST = ("Lovelace Turing Hopper Dijkstra Liskov Knuth Allen Thompson Ritchie Hamilton Torvalds Rossum Hejlsberg "
         "Stroustrup Perlman Wilson").split()
_PLACES = [
    ("Germany", "Berlin"),
    ("France", "Paris"),
    ("USA", "Seattle"),
    ("USA", "Austin"),
    ("Japan", "Osaka"),
    ("Brazil", "Recife"),
    ("Kenya", "Nairobi"),
    ("India", "Pune"),
    ("Canada", "Toronto"),
    ("Spain", "Sevilla"),
]
_CATEGORIES = ["Beverages", "Condiments", "Confections", "Dairy", "Grains", "Meat", "Produce", "Seafood"]
_STATUSES = ["shipped"] * 6 + ["pending", "cancelled", "returned"]


MARKER = "seed_demo_objects"  # the seeder's own list of what it created: nothing else is ever dropped
_VIEWS = ["sales_by_customer"]
# Django's migration bookkeeping, which `migrate` creates on every database it is pointed at (the test
# runner does, on each target); it holds no data of anyone's and the seeder never touches it.
_BOOKKEEPING = frozenset({"django_migrations"})


class DemoRefused(Exception):
    """The database holds tables the seeder did not create: it builds nothing there and drops nothing."""


@dataclass(frozen=True)
class DemoState:
    owned: frozenset[str]  # objects the seeder created (listed in its marker table)
    foreign: frozenset[str]  # tables and views it did not create

    @property
    def present(self) -> bool:
        """Every demo object exists (an embedded file built before the seeder marked its objects counts)."""
        return set(_TABLES + _VIEWS) <= self.owned | self.foreign


def demo_state(*, alias: str) -> DemoState:
    """What the database holds, split into the seeder's objects and everyone else's (lowercase names)."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        names = {t.name.lower() for t in connection.introspection.get_table_list(cursor)}
        owned: set[str] = set()
        if MARKER in names:
            cursor.execute(f"SELECT name FROM {MARKER}")
            owned = {row[0].lower() for row in cursor.fetchall()} & names
    return DemoState(frozenset(owned), frozenset(names - owned - {MARKER} - _BOOKKEEPING))


def demo_seed(*, alias: str, scale: float = 1.0, seed: int = 42) -> dict[str, int]:
    """Build the demo tables on `alias`, replacing only its own earlier build; return each table's row count.

    Refuses (DemoRefused, before any statement that changes something) when the database holds a table
    or view it did not create: a company database with its own `customers` must never lose it.
    """
    state = demo_state(alias=alias)
    if state.foreign:
        shown = ", ".join(sorted(state.foreign)[:8]) + (", ..." if len(state.foreign) > 8 else "")
        raise DemoRefused(f"The database holds {len(state.foreign)} table(s) or view(s) the demo seeder did not create "
                          f"({shown}); it builds the demo only in an empty database or over its own earlier build.")
    connection = connections[alias]
    types = _TYPES[vendor_for(connection).name]
    rows = _rows(random.Random(seed), scale)
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        if MARKER not in {t.name.lower() for t in connection.introspection.get_table_list(cursor)}:
            cursor.execute(f"CREATE TABLE {MARKER} (name {types['text'].format(n=60)} NOT NULL PRIMARY KEY)")
        for view in _VIEWS:
            if view in state.owned:
                cursor.execute(f"DROP VIEW {view}")
        for table in _TABLES:
            if table in state.owned:
                cursor.execute(f"DROP TABLE {table}")
        cursor.execute(f"DELETE FROM {MARKER}")
        for ddl in _DDL:
            cursor.execute(_render(ddl, types))
        _insert(cursor, MARKER, [{"name": name} for name in _TABLES + _VIEWS])
        for table in reversed(_TABLES):
            _insert(cursor, table, rows[table])
    return {table: len(rows[table]) for table in _TABLES}


def _insert(cursor: Any, table: str, rows: list[dict[str, Any]]) -> None:
    """Multi-row INSERTs: one round trip per batch, within SQL Server's 2,100-parameter limit."""
    columns = list(rows[0])
    batch = min(500, 2000 // len(columns))
    row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
    for start in range(0, len(rows), batch):
        chunk = rows[start:start + batch]
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES " + ", ".join([row_sql] * len(chunk))
        cursor.execute(sql, [value for row in chunk for value in row.values()])


def _render(ddl: str, types: dict[str, str]) -> str:
    for name in ("ts", "bool"):
        ddl = ddl.replace("{%s}" % name, types[name])
    while "{text:" in ddl:
        start = ddl.index("{text:")
        end = ddl.index("}", start)
        ddl = ddl[:start] + types["text"].format(n=ddl[start + 6:end]) + ddl[end + 1:]
    return ddl


def _rows(rng: random.Random, scale: float) -> dict[str, list[dict[str, Any]]]:
    epoch = datetime.datetime(2023, 1, 1, 8, 0, 0)
    employees = []
    for i in range(1, 51):
        employees.append(
            {
                "employee_id": i,
                "first_name": rng.choice(_FIRST),
                "last_name": rng.choice(_LAST),
                "title": "CEO" if i == 1 else ("Sales Manager" if i <= 6 else "Sales Representative"),
                "manager_id": None if i == 1 else (1 if i <= 6 else rng.randint(2, 6)),
                "hired_on": (epoch - datetime.timedelta(days=rng.randint(30, 3000))).date(),
                "salary": Decimal(rng.randint(40_000, 160_000)).quantize(Decimal("0.01")),
            }
        )
    customers = []
    for i in range(1, int(1000 * scale) + 1):
        country, city = rng.choice(_PLACES)
        customers.append(
            {
                "customer_id": i,
                "name": f"{rng.choice(_FIRST)} {rng.choice(_LAST)} & Co {i}",
                "email": f"buyer{i}@example.com",
                "country": country,
                "city": city,
                "created_at": epoch + datetime.timedelta(minutes=rng.randint(0, 900_000)),
                "credit_limit": Decimal(rng.randint(1_000, 500_000)) / 100,
                "notes": None if i % 3 else f"Account note {i}",
            }
        )
    products = []
    for i in range(1, 201):
        products.append(
            {
                "product_id": i,
                "sku": f"SKU-{i:05d}",
                "name": f"{rng.choice(_CATEGORIES)} item {i}",
                "category": rng.choice(_CATEGORIES),
                "unit_price": Decimal(rng.randint(150, 25_000)) / 100,
                "discontinued": i % 17 == 0,
            }
        )
    orders, lines = [], []
    for i in range(1, int(12_500 * scale) + 1):
        ordered_at = epoch + datetime.timedelta(minutes=rng.randint(0, 1_000_000))
        status = rng.choice(_STATUSES)
        orders.append(
            {
                "order_id": i,
                "customer_id": rng.randint(1, len(customers)),
                "employee_id": rng.randint(2, 50),
                "ordered_at": ordered_at,
                "status": status,
                "shipped_on": (ordered_at + datetime.timedelta(days=rng.randint(1, 9))).date()
                if status == "shipped"
                else None,
            }
        )
        for _ in range(4):
            product = products[rng.randint(0, len(products) - 1)]
            lines.append(
                {
                    "order_line_id": len(lines) + 1,
                    "order_id": i,
                    "product_id": product["product_id"],
                    "quantity": rng.randint(1, 40),
                    "unit_price": product["unit_price"],
                    "discount": rng.choice([Decimal("0.00")] * 4 + [Decimal("0.05"), Decimal("0.10"), Decimal("0.25")]),
                }
            )
    return {
        "employees": employees,
        "customers": customers,
        "products": products,
        "orders": orders,
        "order_lines": lines,
    }


def demo_embedded_path() -> Path:
    """The embedded demo database: the SQL target when no TARGET_DATABASE_URL or MSSQL_HOST is set."""
    return Path(settings.VAR_DIR) / "demo.sqlite3"


def demo_is_embedded(*, alias: str) -> bool:
    """Whether `alias` is the embedded demo file (the only database `make run` may seed)."""
    config = connections[alias].settings_dict
    return (
        config["ENGINE"].endswith("sqlite3") and Path(str(config["NAME"])).resolve() == demo_embedded_path().resolve()
    )
