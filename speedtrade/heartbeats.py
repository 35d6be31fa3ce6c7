"""Heartbeats of the singleton processes (feed, beat, order engine, broker streams), read by `manage.py healthcheck`.

Each process writes `speedtrade:heartbeat:<name>` in Redis when it has done its job (the feed received
quotes, beat ticked, the order engine took its inbox, every broker stream is still running) with the state
it is in; the key expires on its own, so a process that hangs or dies goes quiet and its container's
healthcheck fails. In the embedded default (no Redis) nothing is written: everything runs in the web process
there.
"""

import json
import logging
import time

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

KEY_PREFIX = "speedtrade:heartbeat:"
# How old a heartbeat may be before its process counts as dead (the feed: how old its newest quotes may be).
MAX_AGE_SECONDS = {"feed": 60.0, "beat": 60.0, "engine": 60.0, "broker-streams": 60.0}


def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)


class Heartbeat:
    """Writes one process's heartbeat, at most once per `every` seconds (callers may beat on every loop)."""

    def __init__(self, name: str, *, every: float = 5.0) -> None:
        self.name = name
        self.every = every
        self._last_written = float("-inf")

    def beat(self, **state) -> bool:
        """Record that the process is alive now; returns whether it was written (False: too soon, or no Redis).

        A blocking write of a few bytes at most every `every` seconds, so callable from an event loop; a
        heartbeat that cannot be written is logged and never harms the process it reports on."""
        now = time.monotonic()
        if not settings.REDIS_URL or now - self._last_written < self.every:
            return False
        self._last_written = now
        value = json.dumps({"at": time.time(), **state})
        # Kept a little longer than any reader waits, then gone: a dead process leaves no stale "ok".
        client = _client()
        try:
            client.set(KEY_PREFIX + self.name, value, ex=int(max(MAX_AGE_SECONDS.values()) * 10))
        except redis.RedisError as exc:
            logger.warning("heartbeat %s not written (%s)", self.name, exc.__class__.__name__)
            return False
        finally:
            client.close()
        return True


def heartbeat_read(name: str) -> dict | None:
    """The last heartbeat of `name` ({"at": epoch seconds, **state}), or None when it never beat."""
    client = _client()
    try:
        value = client.get(KEY_PREFIX + name)
    finally:
        client.close()
    return None if value is None else json.loads(value)


def heartbeat_problem(name: str, *, max_age: float | None = None) -> str | None:
    """Why `name` is not healthy, or None when its heartbeat is fresh (and its state is not a failure)."""
    max_age = MAX_AGE_SECONDS[name] if max_age is None else max_age
    last = heartbeat_read(name)
    if last is None:
        return f"{name}: no heartbeat yet"
    age = time.time() - last["at"]
    if age > max_age:
        return f"{name}: last heartbeat {age:.0f}s ago (more than {max_age:.0f}s)"
    if last.get("failing"):
        return f"{name}: {last['failing']}"
    return None
