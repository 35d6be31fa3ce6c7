"""Per-process quote fan-out: every consumer that follows live quotes subscribes here.

The feed publishes each batch once (`publish_quote_batch`). Each web process (each event loop) receives it once
and hands every quote to the local subscribers of its symbol: `/ws/quotes` and Alpaca's data streams (through
`marketdata.consumers.QuoteFanOut`) and the live account figures of `/ws/trades`
(`portfolios.consumers.AccountStreamConsumer`). One message per batch per process, instead of one per tick per
subscriber (1,000 clients × 10 symbols at 2,000 ticks/s would be 200,000 Redis deliveries a second); the
connections then conflate (see consumers).

With Redis the batch is one PUBLISH on a Redis pub/sub channel (`quotes_channel`), which each hub reads on a
connection of its own: Redis pushes it as it arrives. It was a channel-layer group: four round trips to send, a
sorted-set key per process written per batch (and still written for a day after a process died without leaving
the group), and the hub's batches waited in channels-redis's receive loop shared with every socket of the process
(p99 0.8–1.1 s there against 110 ms for a bare listener: docs/notes/bench.md). A process that is not subscribed —
Redis unreachable, or between a reconnect and its SUBSCRIBE — misses those batches, as a group's member missed
them; the next batch carries each symbol's newest quote again. Without Redis (the embedded single process) the
feed hands the batch to the hubs of its own process.
"""

import asyncio
import logging
import math
import weakref
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol, cast

import orjson
from django.conf import settings
from redis.connection import parse_url

from marketdata.quotes import Quote, quote_from_dict, quote_message
from speedtrade.loop_connections import loop_connections

logger = logging.getLogger(__name__)

# After losing Redis, the hub subscribes again this long after.
RESUBSCRIBE_SECONDS = 1.0
# Window ends are rounded up to this: a few timers for all the sockets of a process, each at most this late.
FLUSH_STEP_SECONDS = 0.005


@dataclass(frozen=True)
class FannedQuote:
    """One tick as every local subscriber of its symbol gets it.

    Subscribers that price or re-encode the quote (the account figures, Alpaca's msgpack) read
    `quote`; `/ws/quotes` sockets send `json`, encoded on first use and then shared by all of them.
    """

    quote: Quote

    @cached_property
    def json(self) -> str:
        return orjson.dumps(quote_message(self.quote)).decode()


class QuoteSubscriber(Protocol):
    def quote_received(self, tick: FannedQuote) -> None:
        """Called in the hub's loop for each tick of a subscribed symbol: note it and return, never wait."""


class FlushedSubscriber(Protocol):
    def quotes_flush(self) -> None:
        """Called in the hub's loop when the window it asked for (`QuoteHub.flush_soon`) is over: note the time
        (the next window starts now), hand what is pending to the socket's own writer and return, never wait."""


class QuoteHub:
    def __init__(self) -> None:
        self.subscribers: dict[str, set[QuoteSubscriber]] = defaultdict(set)
        self._listening: asyncio.Task | None = None
        self._joined = asyncio.Event()
        # Sockets waiting for the end of their window, by the timer step it ends in: one timer per step for all
        # the sockets due then, not one per socket (the key 0: right after the batch being dispatched).
        self._due: dict[int, set[FlushedSubscriber]] = {}

    async def subscribe(self, subscriber: QuoteSubscriber, symbols) -> None:
        for symbol in symbols:
            self.subscribers[symbol].add(subscriber)
        if self._listening is None or self._listening.done():
            self._joined.clear()
            self._listening = asyncio.create_task(self._listen(), name="quote-hub")
        await self._joined.wait()

    def unsubscribe(self, subscriber: QuoteSubscriber, symbols) -> None:
        for symbol in symbols:
            members = self.subscribers.get(symbol)
            if members is not None:
                members.discard(subscriber)
                if not members:
                    del self.subscribers[symbol]

    def flush_soon(self, subscriber: FlushedSubscriber, last_flushed_at: float) -> None:
        """Flush `subscriber` when its own window — QUOTES_WS_FLUSH_SECONDS since its last flush, `last_flushed_at`
        (loop time) — is over: right after the batch being dispatched when that is past, so a tick for a socket that
        has had no frame for a window goes out at once; else at the end of the window (rounded up to the next
        FLUSH_STEP_SECONDS). No socket gets more than one frame per window, and none waits for another's."""
        loop = asyncio.get_running_loop()
        window_end = last_flushed_at + settings.QUOTES_WS_FLUSH_SECONDS
        step = 0 if window_end <= loop.time() else math.ceil(window_end / FLUSH_STEP_SECONDS)
        due = self._due.get(step)
        if due is None:
            due = self._due[step] = set()
            if step:
                loop.call_at(step * FLUSH_STEP_SECONDS, self._flush, step)
            else:
                loop.call_soon(self._flush, step)
        due.add(subscriber)

    def _flush(self, step: int) -> None:
        for subscriber in self._due.pop(step):
            subscriber.quotes_flush()

    def dispatch(self, quotes: list[dict]) -> None:
        for quote in quotes:
            subscribers = self.subscribers.get(quote["symbol"])
            if not subscribers:
                continue
            tick = FannedQuote(quote=quote_from_dict(quote))
            for subscriber in list(subscribers):
                subscriber.quote_received(tick)

    async def _listen(self) -> None:
        if not settings.REDIS_URL:
            self._joined.set()  # the embedded feed hands its batches to this process's hubs (publish_quote_batch)
            return
        while True:
            # A connection of its own, held while subscribed (the loop's pool lends it).
            pubsub = loop_connections().redis.pubsub()
            try:
                await pubsub.subscribe(quotes_channel())
                _stop_if_cancelled()
                while True:
                    message = await pubsub.get_message(timeout=None)
                    _stop_if_cancelled()
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        # Redis has taken the SUBSCRIBE: a quote stored after this is published to this hub, so
                        # a subscriber's snapshot read from here on misses no update.
                        self._joined.set()
                    elif message["type"] == "message":
                        self.dispatch(orjson.loads(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                # Redis went away: keep serving the sockets and subscribe again once it is back.
                logger.exception("Quote hub lost Redis; subscribing again.")
                self._joined.set()  # subscribers are not held up: updates resume once the hub has subscribed again
            finally:
                await asyncio.shield(pubsub.aclose())
            await asyncio.sleep(RESUBSCRIBE_SECONDS)


def _stop_if_cancelled() -> None:
    """Raise the cancellation that redis-py's `wait_for` may have swallowed (Python 3.11, see
    speedtrade/cancellation.py): the task still counts the request, and the hub must end on it."""
    # Only ever called from the hub's own task, so there is a current task.
    if cast(asyncio.Task, asyncio.current_task()).cancelling():
        raise asyncio.CancelledError


_HUBS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, QuoteHub]" = weakref.WeakKeyDictionary()


def quotes_channel() -> str:
    """The Redis pub/sub channel of quote batches. Pub/sub channels are server-wide, not per database: the name
    carries the channel layer's prefix and the database number, so deployments (and test runs) sharing a Redis
    server keep their quotes apart."""
    prefix = cast(dict, settings.CHANNEL_LAYERS["default"])["CONFIG"]["prefix"]  # the Redis layer's, with REDIS_URL
    return f"{prefix}.quotes.db{parse_url(settings.REDIS_URL).get('db', 0)}"


async def publish_quote_batch(quotes: list[dict]) -> None:
    """Hand every hub a batch of quotes (`quote_to_dict`'s shape, at most one per symbol): one PUBLISH with Redis,
    else straight to the hubs of this process."""
    if settings.REDIS_URL:
        await loop_connections().redis.publish(quotes_channel(), orjson.dumps(quotes))
        return
    for loop, hub in list(_HUBS.items()):
        if loop is asyncio.get_running_loop():
            hub.dispatch(quotes)
        elif not loop.is_closed():
            loop.call_soon_threadsafe(hub.dispatch, quotes)


def quote_hub() -> QuoteHub:
    """This event loop's hub (a server worker runs one loop; tests start a loop per test)."""
    loop = asyncio.get_running_loop()
    hub = _HUBS.get(loop)
    if hub is None:
        hub = _HUBS[loop] = QuoteHub()
    return hub
