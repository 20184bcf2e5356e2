"""What the consent page tells the person signing in, and the headers that protect it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.http import HttpResponse
from django.urls import reverse

from oauth_ext.scopes import scope_descriptions
from sqltools.conf import sqltools_settings
from sqltools.target import database_label

# No scripts, no framing, styles only from our own origin. No form-action: browsers apply it
# to the redirect that follows Allow/Deny, which goes to the client's own host.
PAGE_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'"


def consent_context(*, scopes: list[str], redirect_uri: str | None, base_url: str) -> dict[str, Any]:
    conf = sqltools_settings()
    return {
        "connections_url": f"{base_url}{reverse('connections')}",
        "redirect_host": urlsplit(redirect_uri or "").netloc,
        "scope_items": scope_descriptions(scopes),
        "database_name": database_label(conf.ALIAS),
        "read_only": conf.READ_ONLY,
    }


def page_protect(response: HttpResponse) -> HttpResponse:
    """No framing, no caching of a page that carries a CSRF token and the user's name."""
    response.setdefault("Content-Security-Policy", PAGE_CSP)
    response["Cache-Control"] = "no-store"
    return response
