"""Build the demo sales database: in the embedded SQLite file by default, elsewhere only when asked twice."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

import environ
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connections

from sqltools.demo import DemoRefused, demo_embedded_path, demo_is_embedded, demo_seed, demo_state

_URL_ALIAS = "seed_demo_url"


class Command(BaseCommand):
    help = (
        "Create the demo sales tables (customers, products, employees, orders, order_lines, a view) and fill them. "
        "Without options: in the embedded SQLite demo database. Any other database needs --yes, and is refused "
        "when it holds tables the seeder did not create."
    )

    def add_arguments(self, parser):
        where = parser.add_mutually_exclusive_group()
        where.add_argument(
            "--database-url", default=None, help="A database URL (postgres://..., mysql://..., mssql://...)."
        )
        where.add_argument("--database", default=None, help="A database alias of the settings.")
        parser.add_argument(
            "--yes", action="store_true", help="Really seed a database other than the embedded demo file."
        )
        parser.add_argument("--if-missing", action="store_true", help="Do nothing when the demo tables exist.")
        parser.add_argument("--scale", type=float, default=1.0, help="1.0 gives ~50k order lines.")

    def handle(self, *args, database_url=None, database=None, yes=False, if_missing=False, scale=1.0, **options):
        with _destination(database_url=database_url, alias=database) as alias:
            label = _label(alias, database_url)
            if not demo_is_embedded(alias=alias) and not yes:
                raise CommandError(
                    f"Not seeding {label}: it is not the embedded demo database ({demo_embedded_path()}). "
                    "Add --yes to build the demo tables there; nothing was changed."
                )
            try:
                if if_missing and demo_state(alias=alias).present:
                    self.stdout.write(f"Demo data already present on {label}.")
                    return
                started = time.perf_counter()
                counts = demo_seed(alias=alias, scale=scale)
            except DemoRefused as refused:
                raise CommandError(f"Not seeding {label}: {refused} Nothing was changed.") from None
            except DatabaseError as error:
                raise CommandError(f"Could not build the demo database on {label}: {error}") from None
        summary = ", ".join(f"{table} {n}" for table, n in counts.items())
        self.stdout.write(
            self.style.SUCCESS(f"Demo data on {label} in {time.perf_counter() - started:.1f}s: {summary}.")
        )


@contextmanager
def _destination(*, database_url: str | None, alias: str | None) -> Iterator[str]:
    """The alias to seed: a named one, one made for --database-url (removed afterwards), or the embedded file."""
    if database_url is None and alias is not None:
        yield alias
        return
    try:
        config = environ.Env.db_url_config(database_url) if database_url else {
            "ENGINE": "django.db.backends.sqlite3", "NAME": str(demo_embedded_path())}
    except Exception as error:  # django-environ raises plain exceptions for unknown schemes
        raise CommandError(f"--database-url is not a database URL environ can read: {error}") from None
    connections.settings[_URL_ALIAS] = connections.configure_settings({"default": connections.settings["default"],
                                                                       _URL_ALIAS: config})[_URL_ALIAS]
    try:
        yield _URL_ALIAS
    finally:
        connections[_URL_ALIAS].close()
        del connections[_URL_ALIAS]
        del connections.settings[_URL_ALIAS]


def _label(alias: str, database_url: str | None) -> str:
    """How the destination is named in messages: never a password."""
    config = connections[alias].settings_dict
    if demo_is_embedded(alias=alias):
        return "the embedded demo database"
    where = f" on {config['HOST']}" if config.get("HOST") else ""
    return f"database '{config.get('NAME')}'{where}" if database_url else f"'{alias}'"
