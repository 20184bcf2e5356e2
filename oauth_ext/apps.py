from django.apps import AppConfig


class OAuthExtConfig(AppConfig):
    name = "oauth_ext"
    verbose_name = "OAuth"
