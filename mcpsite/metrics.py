"""/metrics: the Prometheus text of every worker (telemetry.metrics), for scrapers the operator named.

Off (404) unless METRICS_TOKEN or METRICS_ALLOWED_IPS is set. A request needs `Authorization: Bearer
<METRICS_TOKEN>` (compared in constant time) or an address in METRICS_ALLOWED_IPS, which is read the
way every other address check of the server reads it (oauth_ext.discovery.client_address: the hop
our trusted proxy appended, else the peer).
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import logging

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from oauth_ext.discovery import client_address
from telemetry.metrics import metrics_exposition

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token, allowed = settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS
    if not token and not allowed:
        raise Http404("metrics are off")
    if not (_address_allowed(client_address(request), tuple(allowed)) or _token_matches(request, token)):
        given = request.headers.get("Authorization", "")
        error = ', error="invalid_token"' if given else ""
        return JsonResponse({"error": "invalid_token" if given else "invalid_request",
                             "error_description": "/metrics needs the METRICS_TOKEN as a bearer token."},
                            status=401, headers={"WWW-Authenticate": f'Bearer realm="metrics"{error}'})
    body, content_type = metrics_exposition()
    return HttpResponse(body, content_type=content_type)


def _token_matches(request: HttpRequest, token: str) -> bool:
    kind, _, given = request.headers.get("Authorization", "").partition(" ")
    return bool(token) and kind.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def _address_allowed(address: str, allowed: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(allowed))


@functools.lru_cache(maxsize=4)
def _networks(allowed: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in allowed)
