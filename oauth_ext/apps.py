from django.apps import AppConfig, apps


class OAuthExtConfig(AppConfig):
    name = "oauth_ext"
    verbose_name = "OAuth"

    def ready(self) -> None:
        from oauth_ext import checks  # noqa: F401  (registers the system checks)

        if apps.is_installed("django.contrib.admin"):  # its ready() ran first (INSTALLED_APPS order): autodiscovered
            from django.contrib import admin

            from oauth_ext.admin_users import admin_site_adjust

            admin_site_adjust(admin.site)
