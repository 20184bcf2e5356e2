"""Keep Django's own tables and migrations off the SQL target."""

from __future__ import annotations

from typing import Any

from django.conf import settings


def _target_aliases() -> set[str]:
    return {alias for alias in settings.DATABASES if alias != "default"}


class TargetRouter:
    """The target databases belong to the customer: Django never migrates or writes models there."""

    def db_for_read(self, model: type, **hints: Any) -> str:
        return "default"

    def db_for_write(self, model: type, **hints: Any) -> str:
        return "default"

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db not in _target_aliases()
