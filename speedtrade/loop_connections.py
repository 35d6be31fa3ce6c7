"""The event loop's own connections, for work the lean request path does without a thread: an async psycopg pool
to the default database and an async Redis client.

Both belong to the event loop that made them (their sockets and the pool's workers run on it), so each running
loop gets its own, made on first use: a uvicorn worker forks before its loop starts, so nothing is shared across
processes, and a test's `async_to_sync` (a new loop per call) closes them with `loop_connections_close` before
its loop ends. The pool is small (`LEAN_DB_POOL_MAX_SIZE`) and autocommit: the order writer's call is its own
transaction, one statement. `loop_connections_close` is the server's shutdown hook (an ASGI lifespan shutdown).
"""

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import OperationalError, connections
from redis import asyncio as aioredis

if TYPE_CHECKING:  # imported when a pool is made: SQLite-only installs have no psycopg
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool


@dataclass
class LoopConnections:
    pool: "AsyncConnectionPool"
    redis: aioredis.Redis

    async def close(self) -> None:
        await self.pool.close()
        await self.redis.aclose()


# A request holds a Redis connection for one round trip; past this many at once, requests wait for one (redis-py's
# plain pool would open a connection per concurrent request, thousands under a burst).
REDIS_MAX_CONNECTIONS = 32

_BY_LOOP: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopConnections]" = weakref.WeakKeyDictionary()


def loop_connections() -> LoopConnections:
    """This event loop's connections (made, not yet connected, on first use)."""
    loop = asyncio.get_running_loop()
    made = _BY_LOOP.get(loop)
    if made is None:
        redis_pool = aioredis.BlockingConnectionPool.from_url(settings.REDIS_URL, max_connections=REDIS_MAX_CONNECTIONS)
        redis = aioredis.Redis.from_pool(redis_pool)  # closes its pool when closed
        made = _BY_LOOP[loop] = LoopConnections(pool=_pool(), redis=redis)
    return made


async def loop_connections_close() -> None:
    made = _BY_LOOP.pop(asyncio.get_running_loop(), None)
    if made is not None:
        await made.close()


@asynccontextmanager
async def database_connection() -> AsyncIterator["AsyncConnection"]:
    """A connection of this loop's pool. Waiting past the pool's timeout is Django's OperationalError from psycopg's
    PoolTimeout, as with Django's own pool, so the API answers it alike (503 `overloaded`)."""
    from psycopg_pool import PoolTimeout

    pool = loop_connections().pool
    if pool.closed:
        await pool.open(wait=False)
    try:
        connection = await pool.getconn()
    except PoolTimeout as timeout:
        raise OperationalError(str(timeout)) from timeout
    try:
        yield connection
    finally:
        await pool.putconn(connection)


_DJANGO_ONLY = {"context", "cursor_factory"}  # Django's adapters and cursor class for its own connections


def _pool() -> "AsyncConnectionPool":
    """Connecting as Django does (its parameters: the test database's name in tests; statements prepared only
    where asked, as the order writer asks unless behind a transaction pooler), in autocommit."""
    from psycopg_pool import AsyncConnectionPool

    params = connections["default"].get_connection_params()
    kwargs = {name: value for name, value in params.items() if name not in _DJANGO_ONLY}
    kwargs["autocommit"] = True
    timeout = settings.DATABASES["default"]["OPTIONS"].get("pool", {}).get("timeout", 10.0)
    return AsyncConnectionPool(
        kwargs=kwargs, min_size=1, max_size=settings.LEAN_DB_POOL_MAX_SIZE, timeout=timeout, open=False
    )
