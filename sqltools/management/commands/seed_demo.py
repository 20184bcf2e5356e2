"""Build the demo sales database on the SQL target (or any alias)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from sqltools.conf import sqltools_settings
from sqltools.demo import demo_exists, demo_seed


class Command(BaseCommand):
    help = "Create the demo sales tables (customers, products, employees, orders, order_lines, a view) and fill them."

    def add_arguments(self, parser):
        parser.add_argument("--database", default=None, help="Database alias (default: the SQL target).")
        parser.add_argument("--if-missing", action="store_true", help="Do nothing when the demo tables exist.")
        parser.add_argument("--scale", type=float, default=1.0, help="1.0 gives ~50k order lines.")

    def handle(self, *args, database=None, if_missing=False, scale=1.0, **options):
        alias = database or sqltools_settings().ALIAS
        try:
            if if_missing and demo_exists(alias=alias):
                self.stdout.write(f"Demo data already present on '{alias}'.")
                return
            started = time.perf_counter()
            counts = demo_seed(alias=alias, scale=scale)
        except DatabaseError as error:
            raise CommandError(f"Could not build the demo database on '{alias}': {error}") from None
        summary = ", ".join(f"{table} {n}" for table, n in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Demo data on '{alias}' in {time.perf_counter() - started:.1f}s: {summary}."))
