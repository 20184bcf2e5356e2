"""The one URL parser of oauth_ext: redirect URIs (redirects.py) and resource indicators (resources.py)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class UriParts:
    scheme: str  # lower case
    host: str  # lower case, without the brackets of an IPv6 address; "" when there is none
    port: int | None  # as written (None: not written)
    path: str
    query: str
    credentials: bool  # user or password before the host
    fragment: bool  # a '#' anywhere

    def place(self) -> tuple[str, str, int | None, str]:
        """(scheme, host, port, path) with the default port filled in and a trailing slash folded."""
        return self.scheme, self.host, self.port or DEFAULT_PORTS.get(self.scheme), self.path.rstrip("/")


def uri_parts(uri: str) -> UriParts | None:
    """The parts of `uri`, or None when its port is not a number in range."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    return UriParts(parts.scheme.lower(), (parts.hostname or "").lower(), port, parts.path, parts.query,
                    "@" in parts.netloc, "#" in uri)
