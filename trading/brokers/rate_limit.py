"""A token bucket shared by every process that talks to one venue account.

Alpaca allows 200 requests a minute per account; all our workers, the stream command
and reconciliation share that budget, so the bucket lives in Redis (one Lua script:
refill by elapsed time, take a token or say how long to wait). Without Redis (the
embedded default, one process) it lives in memory. Waiting here is cheaper and kinder
than collecting 429s.
"""

import threading
import time

import redis
from django.conf import settings

from trading.brokers.base import VenueUnavailable

# KEYS[1] bucket; ARGV capacity, tokens per second. Returns 0 (took one) or the ms to wait.
_TAKE = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now_ms
tokens = math.min(capacity, tokens + (now_ms - at) * rate / 1000)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now_ms)
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity * 1000 / rate) + 1000)
return wait
"""


class TokenBucket:
    def __init__(self, name: str, *, per_minute: int, max_wait_seconds: float = 30.0) -> None:
        self.key = f"trading:rate-limit:{name}"
        self.capacity = per_minute
        self.rate = per_minute / 60.0
        self.max_wait_seconds = max_wait_seconds
        self._redis = redis.Redis.from_url(settings.REDIS_URL) if settings.REDIS_URL else None
        self._script = self._redis.register_script(_TAKE) if self._redis else None
        self._lock = threading.Lock()
        self._tokens, self._at = float(per_minute), time.monotonic()

    def _take(self) -> float:
        """Take a token now (0) or return the seconds until one is available."""
        if self._script is not None:
            return int(self._script(keys=[self.key], args=[self.capacity, self.rate])) / 1000
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) / self.rate

    def acquire(self) -> None:
        """Block until a request may be sent; VenueUnavailable (nothing sent) if that takes too long."""
        deadline = time.monotonic() + self.max_wait_seconds
        while (wait := self._take()) > 0:
            if time.monotonic() + wait > deadline:
                raise VenueUnavailable(f"request budget for {self.key} exhausted; nothing was sent")
            time.sleep(wait)
