"""Which redirect URIs a client may register (RFC 7591 dynamic registration and CIMD).

Policy: https to a host listed in ALLOWED_REDIRECT_HOSTS, matched exactly (a subdomain must be
listed itself: `chatgpt.com` does not admit `www.chatgpt.com`). When ALLOW_LOOPBACK_REDIRECTS is
on (local development), also http or https to 127.0.0.1, [::1] or localhost on any port, for
the MCP Inspector, mcp-remote and other native clients (RFC 8252 §7.3). At /authorize, DOT
matches the registered URI exactly, except the port of a loopback URI (RFC 8252).

DOT stores the array as one string joined with spaces and reads it back with str.split(), so a
URI holding whitespace would be stored as two: no URI may hold whitespace or a control character,
and the list checked is the list DOT will store.
"""

from __future__ import annotations

import unicodedata

from oauth_ext.conf import oauth_ext_settings
from oauth_ext.errors import InvalidRedirectURI
from oauth_ext.uris import uri_parts

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
MAX_URI_LENGTH = 2000
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"})  # controls, format, surrogates, spaces


def uri_characters_safe(uri: str) -> bool:
    """False if `uri` holds whitespace (anything str.split() splits on) or a control or format character."""
    return not any(char.isspace() or unicodedata.category(char) in UNSAFE_CATEGORIES for char in uri)


def _host_and_port(uri: str) -> tuple[str, str, int | None]:
    parts = uri_parts(uri)
    if parts is None:
        raise InvalidRedirectURI(f"Redirect URI {uri!r} has an invalid port.")
    if not parts.host:
        raise InvalidRedirectURI(f"Redirect URI {uri!r} must be an absolute URL with a host.")
    if parts.credentials or parts.fragment:
        raise InvalidRedirectURI(f"Redirect URI {uri!r} must not contain credentials or a fragment.")
    return parts.scheme, parts.host, parts.port


def redirect_uri_check(uri: object) -> None:
    """Raise InvalidRedirectURI unless `uri` is allowed by the registration policy."""
    if not isinstance(uri, str) or not uri or len(uri) > MAX_URI_LENGTH:
        raise InvalidRedirectURI("Each redirect URI must be a non-empty string of at most 2000 characters.")
    if not uri_characters_safe(uri):
        raise InvalidRedirectURI(f"Redirect URI {uri!r} must not contain whitespace or control characters.")
    conf = oauth_ext_settings()
    scheme, host, port = _host_and_port(uri)
    if host in LOOPBACK_HOSTS and scheme in ("http", "https"):
        if conf.ALLOW_LOOPBACK_REDIRECTS:
            return
        raise InvalidRedirectURI(f"Loopback redirect URI {uri!r} is not allowed on this server.")
    if scheme != "https":
        raise InvalidRedirectURI(f"Redirect URI {uri!r} must use https.")
    if host not in conf.ALLOWED_REDIRECT_HOSTS or port not in (None, 443):
        raise InvalidRedirectURI(f"Redirect URI host {host!r} is not in this server's ALLOWED_REDIRECT_HOSTS.")


def redirect_uris_stored(uris: list[str]) -> list[str]:
    """The redirect URIs DOT keeps for this array (its DCR view and CIMD both join with spaces; /authorize splits)."""
    return " ".join(uris).split()


def redirect_uris_check(uris: object) -> None:
    """Raise InvalidRedirectURI unless every URI DOT will store from `uris` is allowed, and it stores them as sent."""
    if not isinstance(uris, list) or not uris:
        raise InvalidRedirectURI("redirect_uris must be a non-empty array of URLs.")
    for uri in uris:
        redirect_uri_check(uri)
    if redirect_uris_stored(uris) != uris:  # unreachable after the character check; the invariant that matters
        raise InvalidRedirectURI("Each redirect URI must be stored exactly as sent.")
