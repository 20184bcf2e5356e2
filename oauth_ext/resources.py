"""RFC 8707 resource indicators: which `resource` values name this server.

A token is for this server when its resource is the base URL or one of the MCP endpoint
URLs. A request without `resource` is accepted too (many clients never send it); its grant
and tokens carry an empty resource list and are valid for every endpoint of this server.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from oauth_ext.discovery import MCP_ENDPOINT_PATHS
from oauth_ext.errors import InvalidTarget
from oauth_ext.uris import uri_parts


def _normalise(uri: str) -> tuple[str, str, int | None, str] | None:
    """(scheme, host, port, path) with case, default port and trailing slash folded; None if unusable."""
    parts = uri_parts(uri)
    if parts is None or not parts.scheme or not parts.host or parts.query or parts.fragment or parts.credentials:
        return None
    return parts.place()


@functools.lru_cache(maxsize=256)  # asked on every MCP request, with the same few answers
def resource_allowed(resource: str | None, *, base: str) -> bool:
    """True for no resource, the base URL, or the base URL plus one of MCP_ENDPOINT_PATHS."""
    if not resource:
        return True
    wanted = _normalise(resource)
    return wanted is not None and any(wanted == _normalise(base + path) for path in ("", *MCP_ENDPOINT_PATHS))


def resources_check(resources: Iterable[str], *, base: str) -> None:
    """Raise InvalidTarget naming the first resource that is not this server."""
    for resource in resources:
        if not resource_allowed(resource, base=base):
            raise InvalidTarget(f"The resource {resource!r} is not served by this server ({base}).")
