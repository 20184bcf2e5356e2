"""`make run`'s preparation in one process: migrate, build the embedded demo if missing, ensure an admin.

It seeds only the embedded SQLite demo database. A target named by TARGET_DATABASE_URL or MSSQL_HOST
is never written: this step does not even connect to it, so an unreachable or read-only target
cannot keep the server from starting (the startup log and /health then say what is wrong).
"""

from __future__ import annotations

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from sqltools.conf import sqltools_settings
from sqltools.demo import demo_is_embedded


class Command(BaseCommand):
    help = (
        "Migrate Django's database, build the embedded demo database if missing, create the local admin if none exists."
    )

    def handle(self, *args, **options):
        call_command("migrate", interactive=False, verbosity=0)
        if demo_is_embedded(alias=sqltools_settings().ALIAS):
            try:
                call_command("seed_demo", if_missing=True, stdout=self.stdout)
            except CommandError as error:  # e.g. a demo file holding tables of someone else's: serve it as it is
                self.stderr.write(f"{error}")
        else:
            self.stdout.write("The SQL target is a database of your own (TARGET_DATABASE_URL or MSSQL_HOST): it is "
                              "served as it is, and no demo data is written to it.")
        call_command("ensure_admin", stdout=self.stdout)
