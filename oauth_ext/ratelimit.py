"""A fixed-window rate limit per client address, kept in Django's cache (Redis in production)."""

from __future__ import annotations

import hashlib
import logging
import time

from django.core.cache import cache

from oauth_ext.errors import RateLimited

logger = logging.getLogger(__name__)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def rate_parse(rate: str) -> tuple[int, int] | None:
    """"30/h" -> (30, 3600); "" or "0" -> None (no limit)."""
    if not rate or rate.strip() in ("0", "off"):
        return None
    count, _, unit = rate.strip().partition("/")
    if not count.isdigit() or unit not in _PERIODS:
        raise ValueError(f"rate {rate!r} must look like 30/h (a count per s, m, h or d)")
    return int(count), _PERIODS[unit]


def _hit(key: str, period: int) -> int:
    if cache.add(key, 1, timeout=period + 1):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # the window expired between add() and incr()
        cache.set(key, 1, timeout=period + 1)
        return 1


def rate_limit_hit(*, bucket: str, address: str, rate: str) -> None:
    """Count one request from `address`; raise RateLimited (with Retry-After) past the limit."""
    limit = rate_parse(rate)
    if limit is None:
        return
    count, period = limit
    now = int(time.time())
    digest = hashlib.sha256(address.encode()).hexdigest()[:32]
    key = f"oauth_ext:ratelimit:{bucket}:{digest}:{now // period}"
    try:
        hits = _hit(key, period)
    except Exception:  # a cache outage must not take registration down with it
        logger.warning("Rate limit cache unavailable; allowing %s request", bucket, exc_info=True)
        return
    if hits > count:
        retry_after = period - now % period
        raise RateLimited(f"Too many requests from this address; try again in {retry_after} s.",
                          retry_after=retry_after)
