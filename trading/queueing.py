"""How trading's services hand work on after commit: to the order engine, or to Celery tasks by name.

Tasks import services, never the reverse: `trading.tasks` imports the services (and
reconciliation, which imports them too), so a service that imported the tasks module would
close an import cycle. The task is looked up by its dotted name when the message is sent,
after commit; run eagerly (embedded default, tests) it executes in process as before.

A `new` order is the engine's work (trading/engine.py): the paper venue's inbox, or the outbox
its relay hands to `submit_order` for the other venues. Once the placing transaction commits,
one message wakes the engine; where no engine runs (TRADING_ENGINE_INLINE) the order is
submitted in process instead.
"""

import logging
import weakref
from functools import cache, partial

import redis
from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string
from redis import asyncio as aioredis

from speedtrade.task_queue import task_queue_or_leave_to_sweep

logger = logging.getLogger(__name__)

SUBMIT_ORDER = "trading.tasks.submit_order"
CANCEL_ORDER = "trading.tasks.cancel_order"
ENGINE_WAKE_CHANNEL = "trading:engine:wake"


def order_submit_after_commit(order_id) -> None:
    """Called in the transaction that makes an order `new`: once it commits, the order is submitted."""
    transaction.on_commit(partial(_order_handed_on, order_id))


def _order_handed_on(order_id) -> None:
    if settings.TRADING_ENGINE_INLINE:
        order_submit_queue(order_id)  # run eagerly here: the paper venue's batch for this one order, or the venue
    else:
        engine_wake()


async def order_handed_on_async(
    order_id, *, redis_client: aioredis.Redis, in_thread, with_commands: aioredis.client.Pipeline | None = None
) -> list | None:
    """`order_submit_after_commit`'s work for an order committed on an event loop: the wake on the loop's Redis
    client (`EngineWaker`); where no engine runs, the in-process submission through `in_thread` (it reads and
    writes through Django), after `with_commands`. `with_commands`, a pipeline of the caller's on that client (the
    order's trade update), goes out with the wake in one round trip; its replies are returned, its error raised."""
    if settings.TRADING_ENGINE_INLINE:
        try:
            return None if with_commands is None else await with_commands.execute()
        finally:  # submitted even when the commands failed (Redis away), as the update's failure never stopped it
            await in_thread(order_submit_queue, order_id)
    return await _engine_waker(redis_client).wake(redis_client, with_commands=with_commands)


class EngineWaker:
    """The engine's wake from one event loop, at most one message on its way at a time. What each order needs is a
    wake sent after its commit; an order committed while one is on its way (possibly sent before that commit) is
    covered by one more sent once it has gone, for however many orders committed meanwhile — so under load one
    message wakes the engine for many orders instead of one each (a Redis round trip of the web worker's and one
    message for the engine to read per order). A request whose wake is left to the one on its way answers without
    waiting for it; a lost wake (Redis unreachable, the sending request cancelled) costs only the engine's poll.

    A caller's own commands (`with_commands`, a pipeline) go out in one round trip with the wake, or alone when
    the wake is left to the one on its way; their replies are returned and their error raised (a wake lost with
    them is the caller's to log)."""

    def __init__(self) -> None:
        self.sending = False
        self.again = False

    async def wake(
        self, redis_client: aioredis.Redis, *, with_commands: aioredis.client.Pipeline | None = None
    ) -> list | None:
        if self.sending:
            self.again = True
            return None if with_commands is None else await with_commands.execute()
        self.sending = True
        try:
            replies = None
            if with_commands is not None:
                self.again = False
                with_commands.publish(ENGINE_WAKE_CHANNEL, b"")
                replies = (await with_commands.execute())[:-1]
            else:
                self.again = True
            while self.again:
                self.again = False
                try:
                    await redis_client.publish(ENGINE_WAKE_CHANNEL, b"")
                except redis.RedisError as unreachable:
                    logger.warning(
                        "Could not wake the order engine (%s); it finds orders at its next poll.", unreachable
                    )
                    break
            return replies
        finally:
            self.sending = False


_WAKERS: "weakref.WeakKeyDictionary[aioredis.Redis, EngineWaker]" = weakref.WeakKeyDictionary()


def _engine_waker(redis_client: aioredis.Redis) -> EngineWaker:
    """One waker per Redis client (the lean path's: one per event loop, `speedtrade.loop_connections`), gone with
    it."""
    waker = _WAKERS.get(redis_client)
    if waker is None:
        waker = _WAKERS[redis_client] = EngineWaker()
    return waker


def order_submit_queue(order_id) -> bool:
    # A `new` order whose message never reached the broker is queued again by `reconcile_orders`.
    return task_queue_or_leave_to_sweep(import_string(SUBMIT_ORDER), str(order_id))


def order_cancel_queue(order_id) -> None:
    import_string(CANCEL_ORDER).delay(str(order_id))


@cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


def engine_wake() -> None:
    """One message: the engine takes its inbox now rather than at its next poll (TRADING_ENGINE_POLL_SECONDS).
    A lost wake only costs that poll's delay, so failing to send it is logged, never raised."""
    try:
        _redis(settings.REDIS_URL).publish(ENGINE_WAKE_CHANNEL, b"")
    except redis.RedisError as unreachable:
        logger.warning("Could not wake the order engine (%s); it finds the order at its next poll.", unreachable)
