"""`make run`'s preparation in one process: migrate, build the demo target if missing, ensure an admin."""

from __future__ import annotations

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Migrate Django's database, build the demo database if missing, create the local admin if none exists."

    def handle(self, *args, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("seed_demo", if_missing=True, stdout=self.stdout)
        call_command("ensure_admin", stdout=self.stdout)
