"""Request budgets counted in fixed windows: one INCR (with its EXPIRE) per budget, in one Redis round trip.

DRF's own throttles keep the time of every request of the last window in one cached list, read and written back
whole on each request: at the user budget of 6,000 a minute that is a pickled list of up to 6,000 floats loaded
and stored twice per request, in two round trips, the CPU growing with the rate it is meant to bound. Fixed
windows (as Alpaca counts its 200 requests a minute) cost the same at any rate; a client may spend a budget at
the end of one window and again at the start of the next, which the budgets allow for.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

if TYPE_CHECKING:  # DRF's views import this module (DEFAULT_THROTTLE_CLASSES): only for the types
    from rest_framework.request import Request
    from rest_framework.views import APIView


def window_hits(cache_keys: list[str], *, seconds: int) -> list[int]:
    """Count one hit on each window (keys naming their window), in one round trip; the counts after it."""
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        # Django's cache API has no atomic "increment or create with expiry"; its Redis client does.
        # `_cache` (Django's private client wrapper) is not in the stubs.
        client = cache._cache.get_client(cache_keys[0], write=True)  # type: ignore[attr-defined]
        pipeline = client.pipeline(transaction=False)
        read_counts = window_hits_queue(pipeline, cache_keys, seconds=seconds)
        return read_counts(pipeline.execute())
    counts = []
    for cache_key in cache_keys:  # embedded default: local memory
        cache.add(cache_key, 0, timeout=seconds + 1)
        counts.append(cache.incr(cache_key))
    return counts


def window_hits_queue(pipeline, cache_keys: list[str], *, seconds: int) -> Callable[[list], list[int]]:
    """`window_hits`' commands queued on a Redis pipeline (an asyncio one too: the lean path sends them with its
    other reads); returns what reads the counts from the pipeline's results."""
    start = len(pipeline)
    for cache_key in cache_keys:
        pipeline.incr(cache_key)
        pipeline.expire(cache_key, seconds + 1)
    return lambda results: results[start : start + 2 * len(cache_keys) : 2]


class FixedWindowThrottle(SimpleRateThrottle):
    """DRF's rate and cache key (scope and user or address); the count in the current window of `duration`."""

    num_requests: int  # set from the rate by SimpleRateThrottle.__init__ (not in the stubs)
    duration: int
    window_ends_at = 0.0

    def allow_request(self, request: "Request", view: "APIView") -> bool:
        cache_key = self.window_key(request, view)
        if cache_key is None:
            return True
        [used] = window_hits([cache_key], seconds=self.duration)
        return self.allows(used)

    def window_key(self, request: "Request", view: "APIView | None") -> str | None:
        """The cache key of the request's current window (None: not throttled); counted by `window_hits`."""
        if self.rate is None:
            return None
        key = self.get_cache_key(request, view)  # type: ignore[arg-type]  # the user throttle reads no view
        if key is None:
            return None
        window_start = int(self.timer()) // self.duration * self.duration
        self.window_ends_at = window_start + self.duration
        return caches["default"].make_and_validate_key(f"{key}:{window_start}")

    def allows(self, used: int) -> bool:
        """Whether the window's count after this request's hit is within the rate."""
        return used <= self.num_requests

    def wait(self) -> float:
        return max(self.window_ends_at - self.timer(), 0.0)


class UserRateFixedWindowThrottle(FixedWindowThrottle, UserRateThrottle):
    pass


class AnonRateFixedWindowThrottle(FixedWindowThrottle, AnonRateThrottle):
    pass
