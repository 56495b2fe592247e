"""Rate limit per API key: a fixed window counter in Redis, one round trip per request.

The limit is ``settings.API_RATE_LIMIT`` (``"<requests>/<second|minute|hour>"``, default
``1200/minute``), read per request so tests and deployments can change it. Over the limit the
API answers 429 with ``Retry-After`` (seconds until the window ends). Every response carries
``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset``. When Redis is unreachable
the limit is not enforced for a few seconds (fail open) rather than failing the request; each such
window is logged (``api_rate_limit_unavailable``) and counted (``crm_api_rate_limit_unavailable_total``
in ``/metrics``).
"""

from __future__ import annotations

import logging
import time
from functools import cache
from typing import Any

from django.conf import settings
from django.core.cache import caches
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from crm import counters
from dealers.models import ApiKey

logger = logging.getLogger(__name__)

DEFAULT_RATE = "1200/minute"
PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
_BACKOFF_SECONDS = 5.0
_redis_down_until = 0.0


def parse_rate(rate: str) -> tuple[int, int]:
    count, _sep, period = rate.partition("/")
    return int(count), PERIODS[period.strip().lower()]


def current_rate() -> tuple[int, int]:
    return parse_rate(getattr(settings, "API_RATE_LIMIT", DEFAULT_RATE))


@cache
def _redis_client() -> Any:
    """The cache's Redis client (its connection pool), made once per process; None for other backends."""
    redis_cache = getattr(caches["default"], "_cache", None)
    if redis_cache is None or not hasattr(redis_cache, "get_client"):
        return None
    return redis_cache.get_client(None, write=True)


def _count(cache_key: str, period: int) -> int:
    """Create the window's counter with its expiry if new, then INCR it: one pipeline on the cache's Redis.

    SET NX EX and INCR work on every Redis the product runs on (6.x, 7.x, the embedded 6.2); EXPIRE's
    NX option, used before, needs 7.0, and on 6.2 it failed every request, so the limit failed open.
    """
    cache_backend = caches["default"]
    client = _redis_client()
    if client is not None:
        key = cache_backend.make_and_validate_key(cache_key)
        pipe = client.pipeline(transaction=False)
        pipe.set(key, 0, ex=period + 1, nx=True)
        pipe.incr(key)
        _created, count = pipe.execute()
        return int(count)
    cache_backend.add(cache_key, 0, period + 1)  # other cache backends (not used in production)
    return int(cache_backend.incr(cache_key))


class ApiKeyRateThrottle(BaseThrottle):
    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        global _redis_down_until
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return True
        now = time.time()
        if now < _redis_down_until:
            return True
        limit, period = current_rate()
        window = int(now // period)
        reset = (window + 1) * period - now
        try:
            # The prefix, not the pk: unique for good, even across a restored or recreated database.
            count = _count(f"api-rate:{api_key.prefix}:{period}:{window}", period)
        except Exception:
            # Once per process per back-off window: logged and counted (/metrics), then requests pass unlimited.
            _redis_down_until = now + _BACKOFF_SECONDS
            logger.warning("api_rate_limit_unavailable", extra={"api_key_id": api_key.pk}, exc_info=True)
            counters.increment(counters.API_RATE_LIMIT_UNAVAILABLE)
            return True
        request._rate_limit = (limit, max(0, limit - count), reset)  # type: ignore[attr-defined]
        if count > limit:
            self._wait = reset
            return False
        return True

    def wait(self) -> float | None:
        return self._wait


def rate_limit_headers(request: Request) -> dict[str, str]:
    info = getattr(request, "_rate_limit", None)
    if info is None:
        return {}
    limit, remaining, reset = info
    return {
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(remaining),
        "RateLimit-Reset": str(int(reset) + 1),
    }
