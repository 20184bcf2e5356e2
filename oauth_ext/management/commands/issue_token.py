"""Print a fresh access token for a user: for operators and smoke tests of a deployment.

stdout carries the token and nothing else, so `TOKEN=$(manage.py issue_token …)` works: log
lines, which settings.LOGGING sends to stdout, go to stderr while the command runs.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from oauth2_provider.models import get_application_model
from oauth2_provider.scopes import get_scopes_backend
from oauth2_provider.settings import oauth2_settings

from oauth_ext.access import user_is_blocked
from oauth_ext.clients import client_is_disabled
from oauth_ext.grants import token_issue
from oauth_ext.scopes import SCOPE_READ

DEFAULT_CLIENT = "issue_token (operator)"


class Command(BaseCommand):
    help = "Print a new access token for --username (stdout holds only the token). Revoke it in the admin."

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument("--scope", default=SCOPE_READ, help=f'space-separated scopes (default "{SCOPE_READ}")')
        parser.add_argument("--client", default=DEFAULT_CLIENT, help="application name, created if missing")
        parser.add_argument("--expires", type=int, default=None,
                            help="lifetime in seconds (default: ACCESS_TOKEN_EXPIRE_SECONDS)")

    def execute(self, *args, **options):
        with _logging_to_stderr():
            return super().execute(*args, **options)

    def handle(self, *args, username: str, scope: str, client: str, expires: int | None, **options):
        user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {username!r}: create one with `python manage.py createsuperuser`.")
        if user_is_blocked(user):
            raise CommandError(f"{username!r} is blocked from OAuth access: "
                               "unblock them in the admin (Users, then OAuth access).")
        unknown = set(scope.split()) - set(get_scopes_backend().get_available_scopes())
        if unknown or not scope.split():
            raise CommandError(f"Unknown scope {' '.join(sorted(unknown)) or scope!r}; use sql:read and/or sql:write.")
        expires = expires if expires is not None else oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS
        if expires <= 0:
            raise CommandError("--expires must be a positive number of seconds.")
        application = self._application(client)
        scope = " ".join(scope.split())
        self.stdout.write(token_issue(user=user, application=application, scope=scope, expires_in=expires))
        if options["verbosity"] > 0:
            self.stderr.write(f"Access token for {username} via {application.name!r}, scope {scope!r}, "
                              f"expires in {expires} s. Revoke it in the admin (Access tokens).")

    def _application(self, name: str):
        Application = get_application_model()
        application = Application.objects.filter(name=name).order_by("pk").first()
        if application is None:
            return Application.objects.create(
                name=name, client_type=Application.CLIENT_CONFIDENTIAL,
                authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE, redirect_uris="",
            )
        if client_is_disabled(application.client_id):
            raise CommandError(f"The client {name!r} is disabled: re-enable it in the admin or pass another --client.")
        return application


@contextmanager
def _logging_to_stderr() -> Iterator[None]:
    """Point every logging handler that writes to stdout at stderr, and back afterwards."""
    moved = [handler for handler in _stream_handlers() if handler.stream is sys.stdout]
    for handler in moved:
        handler.setStream(sys.stderr)
    try:
        yield
    finally:
        for handler in moved:
            handler.setStream(sys.stdout)


def _stream_handlers() -> list[logging.StreamHandler]:
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in list(logging.root.manager.loggerDict))]
    handlers = {handler for logger in loggers for handler in logger.handlers}
    return [handler for handler in handlers if isinstance(handler, logging.StreamHandler)]
