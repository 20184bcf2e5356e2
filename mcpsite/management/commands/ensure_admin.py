"""Create a local admin account on the embedded default, printing its random password once."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "On the embedded default (local, SQLite), create user 'admin' with a random password if no superuser exists."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str = "admin", **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            return
        embedded = settings.DJANGO_ENV == "local" and settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
        if not embedded:
            self.stdout.write("No superuser exists: create one with `python manage.py createsuperuser`.")
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(self.style.WARNING(
            f"Created the admin account '{username}' with password: {password}\n"
            f"This is shown once; change it in the admin (or `python manage.py changepassword {username}`)."
        ))
