"""One active process of each singleton kind (beat, feed, order engine, broker streams); the others wait as
hot standbys.

The active process holds a session-level PostgreSQL advisory lock (`speedtrade.locks.AdvisoryLock`)
on a connection of its own, outside Django's pool, for as long as it runs. A standby polls
`pg_try_advisory_lock` every SINGLETON_POLL_SECONDS and takes over as soon as the lock is free:
PostgreSQL frees it the moment the holder's session ends — at once when the process dies
(SIGKILL included: the kernel closes its socket), within the TCP keepalive window set below when
its machine vanishes.

The active process checks its lock connection every SINGLETON_POLL_SECONDS too; if the connection
is gone, PostgreSQL has freed (or will free) the lock and a standby may already be active, so the
process stops itself with SIGTERM (the restart policy brings it back as a standby).

Session locks need a session: behind PgBouncer in transaction mode this connection must go to
PostgreSQL directly (DATABASE_DIRECT_URL).
"""

import asyncio
import contextlib
import logging
import os
import signal
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import environ
import psycopg
from django.conf import settings
from django.db import connections

from speedtrade.locks import AdvisoryLock
from speedtrade.process_metrics import metrics_endpoint_start
from speedtrade.process_metrics import singleton_active as singleton_active_gauge

logger = logging.getLogger(__name__)

# Server side: drop a silent holder's session (and so its lock) within ~11 s; client side the same.
_KEEPALIVE_OPTIONS = "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3"


def _direct_database() -> dict[str, Any]:
    """PostgreSQL itself, never a transaction pooler: DATABASE_DIRECT_URL, else the default database."""
    database: dict[str, Any] = (
        environ.Env.db_url_config(settings.DATABASE_DIRECT_URL)
        if settings.DATABASE_DIRECT_URL
        else connections["default"].settings_dict
    )
    return database


def _lock_connection(name: str) -> psycopg.Connection:
    db = _direct_database()
    fields = {"dbname": "NAME", "user": "USER", "password": "PASSWORD", "host": "HOST", "port": "PORT"}
    return psycopg.connect(
        **{param: db[field] for param, field in fields.items() if db.get(field) not in (None, "")},
        autocommit=True,
        application_name=f"speedtrade singleton {name}"[:63],
        connect_timeout=5,
        keepalives=1,
        keepalives_idle=5,
        keepalives_interval=2,
        keepalives_count=3,
        tcp_user_timeout=10_000,
        options=_KEEPALIVE_OPTIONS,
    )


class Singleton:
    """`Singleton(AdvisoryLock.MARKET_DATA_FEED, "simulated")`: `wait_until_active()`, then run; `release()` at exit."""

    def __init__(self, lock: AdvisoryLock, instance: str = "") -> None:
        self.lock = lock
        self.instance = instance
        self.name = f"{lock.name.lower()}{':' + instance if instance else ''}"
        self.poll_seconds = settings.SINGLETON_POLL_SECONDS
        self._connection: psycopg.Connection | None = None
        self._stopped = threading.Event()

    def try_acquire(self) -> bool:
        try:
            if self._connection is None or self._connection.closed:
                self._connection = _lock_connection(self.name)
            key = self.lock.key(self.instance)
            row = self._connection.execute("SELECT pg_try_advisory_lock(%s, %s)", key).fetchone()
        except psycopg.OperationalError as unreachable:
            logger.warning("Singleton %s: database unreachable (%s); retrying.", self.name, unreachable)
            self._close()
            return False
        return bool(row and row[0])

    def wait_until_active(self, stop: threading.Event | None = None) -> bool:
        """Block until this process holds the lock (True) or `stop` is set (False)."""
        if connections["default"].vendor != "postgresql":
            return True  # the embedded default (SQLite) runs everything in one process
        stop = stop or threading.Event()
        announced = False
        singleton_active_gauge.labels(self.name).set(0)
        while not stop.is_set():
            if self.try_acquire():
                singleton_active_gauge.labels(self.name).set(1)
                logger.warning("Singleton %s: active (pid %d).", self.name, os.getpid())
                self._watch()
                return True
            if not announced:
                logger.warning("Singleton %s: standby (pid %d); another process is active.", self.name, os.getpid())
                announced = True
            stop.wait(self.poll_seconds)
        return False

    def _watch(self) -> None:
        threading.Thread(target=self._watch_connection, name=f"singleton-{self.name}", daemon=True).start()

    def _watch_connection(self) -> None:
        while not self._stopped.wait(self.poll_seconds):
            try:
                assert self._connection is not None
                self._connection.execute("SELECT 1")
            except Exception as lost:  # noqa: BLE001 - any failure means the lock may be gone
                if self._stopped.is_set():
                    return
                logger.critical("Singleton %s: lock connection lost (%s); stopping for a standby.", self.name, lost)
                os.kill(os.getpid(), signal.SIGTERM)
                return

    def release(self) -> None:
        singleton_active_gauge.labels(self.name).set(0)
        self._stopped.set()
        self._close()

    def _close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(psycopg.Error):
                self._connection.close()  # ends the session: PostgreSQL frees the lock
            self._connection = None


@contextlib.asynccontextmanager
async def singleton_active(lock: AdvisoryLock, instance: str, stop: asyncio.Event) -> AsyncIterator[bool]:
    """For asyncio commands: yields True once this process leads, False if `stop` came first; releases at exit."""
    singleton = Singleton(lock, instance)
    stopping = threading.Event()
    relay = asyncio.create_task(_relay(stop, stopping))
    try:
        active = await asyncio.to_thread(singleton.wait_until_active, stopping)
        yield active
    finally:
        relay.cancel()
        singleton.release()


async def _relay(stop: asyncio.Event, stopping: threading.Event) -> None:
    await stop.wait()
    stopping.set()


def singleton_process_run(kind: str, main: Callable[[asyncio.Event], Awaitable[object]]) -> None:
    """The body of an asyncio singleton command (`run_feed`, `run_engine`, `run_broker_streams`): its metrics
    endpoint (METRICS_PORT), then `main(stop)` until SIGTERM or SIGINT sets `stop` (a clean stop: `main` returns)."""
    asyncio.run(_until_signalled(kind, main))


async def _until_signalled(kind: str, main: Callable[[asyncio.Event], Awaitable[object]]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    metrics_endpoint_start(kind)
    await main(stop)
