"""Per-key request budget: a fixed one-minute window counted in Redis (Alpaca's 200/min).

One round trip per request: INCR and EXPIRE in one pipeline. The window's count, the
limit and its reset time travel on the request so that every key-authenticated response
carries `X-RateLimit-Limit`, `-Remaining` and `-Reset` (see ApiKeyRateLimitHeadersMiddleware).
"""

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.exceptions import Throttled

WINDOW_SECONDS = 60
REQUEST_ATTRIBUTE = "api_key_rate_window"


@dataclass(frozen=True)
class RateWindow:
    limit: int
    used: int
    reset: int  # Unix time at which the window ends

    @property
    def exceeded(self) -> bool:
        return self.used > self.limit

    @property
    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - self.used)),
            "X-RateLimit-Reset": str(self.reset),
        }


class ApiKeyRateLimited(Throttled):
    default_detail = "Rate limit exceeded for this API key."
    default_code = "rate_limited"


def _count(cache_key: str) -> int:
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        # Django's cache API has no atomic "increment or create with expiry"; its Redis client does.
        client = cache._cache.get_client(cache_key, write=True)
        pipeline = client.pipeline(transaction=False)
        pipeline.incr(cache_key)
        pipeline.expire(cache_key, WINDOW_SECONDS + 1)
        used, _ = pipeline.execute()
        return used
    cache.add(cache_key, 0, timeout=WINDOW_SECONDS + 1)  # embedded default: local memory
    return cache.incr(cache_key)


def rate_limit_hit(*, key_id: str) -> RateWindow:
    """Count one request against the key's current window."""
    window_start = int(time.time()) // WINDOW_SECONDS * WINDOW_SECONDS
    used = _count(caches["default"].make_and_validate_key(f"api-key-rate:{key_id}:{window_start}"))
    return RateWindow(limit=settings.API_KEY_RATE_LIMIT_PER_MINUTE, used=used, reset=window_start + WINDOW_SECONDS)


def rate_limit_enforce(request, *, key_id: str) -> None:
    """Count the request, remember the window for the response headers, refuse beyond the limit."""
    window = rate_limit_hit(key_id=key_id)
    setattr(getattr(request, "_request", request), REQUEST_ATTRIBUTE, window)
    if window.exceeded:
        raise ApiKeyRateLimited(wait=max(1, window.reset - int(time.time())))


class ApiKeyRateLimitHeadersMiddleware:
    """Adds the key's rate-limit headers to every response of a key-authenticated request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        window = getattr(request, REQUEST_ATTRIBUTE, None)
        if window is not None:
            for name, value in window.headers.items():
                response[name] = value
        return response
