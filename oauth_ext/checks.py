"""System checks that tell an operator what is wrong with the OAuth configuration."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from oauth2_provider.settings import oauth2_settings

from oauth_ext.conf import oauth_ext_settings
from oauth_ext.discovery import public_url
from oauth_ext.ratelimit import rate_parse


@register(Tags.security)
def check_oauth(app_configs=None, **kwargs) -> list:
    errors: list = []
    if oauth2_settings.PKCE_REQUIRED is not True or not oauth2_settings.COMPLIANT_BCP_RFC9700_PKCE_METHOD:
        errors.append(Warning("PKCE with S256 is not required for every client.",
                              hint='Set OAUTH2_PROVIDER["PKCE_REQUIRED"] and '
                                   '["COMPLIANT_BCP_RFC9700_PKCE_METHOD"] to True.',
                              id="oauth_ext.W001"))
    if oauth2_settings.OIDC_ISS_ENDPOINT.rstrip("/") != public_url():
        errors.append(Error("OAUTH2_PROVIDER['OIDC_ISS_ENDPOINT'] differs from PUBLIC_URL: the issuer would drift.",
                            hint="Leave OIDC_ISS_ENDPOINT as the settings set it (equal to PUBLIC_URL).",
                            id="oauth_ext.E001"))
    conf = oauth_ext_settings()
    try:
        rate_parse(conf.REGISTRATION_RATE_LIMIT)
    except ValueError as error:
        errors.append(Error(f"REGISTRATION_RATE_LIMIT: {error}.", id="oauth_ext.E002"))
    if not conf.ALLOWED_REDIRECT_HOSTS and not conf.ALLOW_LOOPBACK_REDIRECTS:
        errors.append(Warning("ALLOWED_REDIRECT_HOSTS is empty: no client can register.", id="oauth_ext.W002"))
    if conf.ALLOW_LOOPBACK_REDIRECTS and getattr(settings, "PRODUCTION", False):
        errors.append(Warning("ALLOW_LOOPBACK_REDIRECTS is on in production: any local program can register.",
                              hint="Unset ALLOW_LOOPBACK_REDIRECTS unless you really serve desktop clients.",
                              id="oauth_ext.W003"))
    return errors
