from django.apps import AppConfig


class SqlToolsConfig(AppConfig):
    name = "sqltools"
    verbose_name = "SQL tools"

    def ready(self) -> None:
        from sqltools import checks  # noqa: F401  (registers the system checks)
        from sqltools.connections import watch_connections

        watch_connections()
