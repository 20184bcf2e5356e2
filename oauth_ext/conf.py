"""oauth_ext's own settings, read through one object from settings.OAUTH_EXT.

Everything DOT itself understands lives in OAUTH2_PROVIDER and is read through DOT's
`oauth2_settings`; this object holds only the policy DOT has no setting for.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache

from django.conf import settings
from django.core.signals import setting_changed


@dataclass(frozen=True)
class OAuthExtSettings:
    ALLOWED_REDIRECT_HOSTS: tuple[str, ...] = ("chatgpt.com", "openai.com", "claude.ai", "anthropic.com", "claude.com")
    ALLOW_LOOPBACK_REDIRECTS: bool = False
    REGISTRATION_RATE_LIMIT: str = "30/h"
    REGISTRATION_MAX_BYTES: int = 16 * 1024
    CONNECT_REQUIRES: str = ""
    WRITE_REQUIRES: str = "perm:oauth_ext.write_sql"


@lru_cache(maxsize=1)
def oauth_ext_settings() -> OAuthExtSettings:
    known = {f.name for f in fields(OAuthExtSettings)}
    values = {k: v for k, v in getattr(settings, "OAUTH_EXT", {}).items() if k in known}
    if "ALLOWED_REDIRECT_HOSTS" in values:
        hosts = values["ALLOWED_REDIRECT_HOSTS"]
        values["ALLOWED_REDIRECT_HOSTS"] = tuple(host.strip().lower() for host in hosts if host.strip())
    return OAuthExtSettings(**values)


def _reset(*, setting: str, **kwargs: object) -> None:
    if setting == "OAUTH_EXT":
        oauth_ext_settings.cache_clear()


setting_changed.connect(_reset)
