"""Delete old audit entries (the admin cannot): `manage.py audit_prune --older-than 90d`."""

from __future__ import annotations

import getpass
import re
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from sqltools.audit import audit_prune

_AGE = re.compile(r"^\s*(\d+)\s*([dh])\s*$", re.IGNORECASE)
_UNITS = {"d": "days", "h": "hours"}


def age_parse(text: str) -> timedelta:
    match = _AGE.match(text)
    if match is None:
        raise CommandError(f"--older-than {text!r} is not an age: write a number of days or hours, like 90d or 36h.")
    age = timedelta(**{_UNITS[match[2].lower()]: int(match[1])})
    if not age:
        raise CommandError("--older-than must be more than zero: 0 would delete the whole audit log.")
    return age


class Command(BaseCommand):
    help = "Delete audit entries older than --older-than (e.g. 90d, 36h); the pruning itself is recorded in the log."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", required=True, help="age such as 90d (days) or 36h (hours)")

    def handle(self, *args, older_than: str, **options):
        deleted = audit_prune(older_than=age_parse(older_than), by=_operator())
        self.stdout.write(f"Deleted {deleted} audit entr{'y' if deleted == 1 else 'ies'} older than {older_than}.")


def _operator() -> str:
    """Who ran it, as the operating system knows them (recorded in the entry); empty when it cannot tell."""
    try:
        return getpass.getuser()[:150]
    except Exception:  # no login name in a container without a passwd entry
        return ""
