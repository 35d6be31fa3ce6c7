"""Per-key and per-user request budgets: fixed one-minute windows counted in Redis (Alpaca's 200/min per key;
API_USER_RATE_LIMIT_PER_MINUTE for all of a user's keys together, so ten keys are not ten budgets).

One round trip per request: both INCRs and EXPIREs in one pipeline. The window's count, the
limit and its reset time travel on the request so that every key-authenticated response
carries `X-RateLimit-Limit`, `-Remaining` and `-Reset` (see ApiKeyRateLimitHeadersMiddleware).
"""

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from rest_framework.exceptions import Throttled

from speedtrade.api.throttling import window_hits

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
    default_detail = "Rate limit exceeded for this API key, or for all of your API keys together."
    default_code = "rate_limited"


def rate_limit_hit(*, key_id: str, user_id) -> RateWindow:
    """Count one request against the key's window and its owner's (all their keys together).

    Returns the window closer to its limit: the one the headers describe and the 429 follows.
    """
    window_start = int(time.time()) // WINDOW_SECONDS * WINDOW_SECONDS
    cache = caches["default"]
    key_used, user_used = window_hits(
        [
            cache.make_and_validate_key(f"api-key-rate:{key_id}:{window_start}"),
            cache.make_and_validate_key(f"api-user-rate:{user_id}:{window_start}"),
        ],
        seconds=WINDOW_SECONDS,
    )
    reset = window_start + WINDOW_SECONDS
    windows = (
        RateWindow(limit=settings.API_KEY_RATE_LIMIT_PER_MINUTE, used=key_used, reset=reset),
        RateWindow(limit=settings.API_USER_RATE_LIMIT_PER_MINUTE, used=user_used, reset=reset),
    )
    return min(windows, key=lambda window: window.limit - window.used)


def rate_limit_enforce(request, *, key_id: str, user_id) -> None:
    """Count the request, remember the window for the response headers, refuse beyond the limit."""
    window = rate_limit_hit(key_id=key_id, user_id=user_id)
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
