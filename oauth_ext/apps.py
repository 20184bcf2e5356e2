from django.apps import AppConfig


class OAuthExtConfig(AppConfig):
    name = "oauth_ext"
    verbose_name = "OAuth"

    def ready(self) -> None:
        from oauth_ext import checks  # noqa: F401  (registers the system checks)
