"""Per-process quote fan-out: every consumer that follows live quotes subscribes here.

The feed publishes each batch once, to one group (`QUOTES_BROADCAST_GROUP`). Each web
process (each event loop) joins that group with a single channel and hands every quote to
the local subscribers of its symbol: `/ws/quotes` and Alpaca's data streams (through
`marketdata.consumers.QuoteFanOut`) and the live account figures of `/ws/trades`
(`portfolios.consumers.AccountStreamConsumer`). One channel-layer message per batch per
process, instead of one per tick per subscriber (1,000 clients × 10 symbols at 2,000 ticks/s
would be 200,000 Redis deliveries a second); the connections then conflate (see consumers).
"""

import asyncio
import logging
import weakref
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol, cast

import orjson
from channels.layers import get_channel_layer
from django.conf import settings

from marketdata.quotes import Quote, quote_from_dict, quote_message

logger = logging.getLogger(__name__)

QUOTES_BROADCAST_GROUP = "quotes.broadcast"
QUOTE_BATCH_EVENT_TYPE = "quote.batch"
# channels-redis forgets group members after a day (group_expiry): the hub joins again well before.
REJOIN_SECONDS = 3600


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
        """Called in the hub's loop when the window it asked for (`QuoteHub.flush_soon`) is over: hand what is
        pending to the socket's own writer and return, never wait."""


class QuoteHub:
    def __init__(self) -> None:
        self.subscribers: dict[str, set[QuoteSubscriber]] = defaultdict(set)
        self._listening: asyncio.Task | None = None
        self._joined = asyncio.Event()
        # One conflation window for every socket of the process: one timer per window, not one task per socket.
        self._due: set[FlushedSubscriber] = set()
        self._flush_timer: asyncio.TimerHandle | None = None
        self._flushed_at = float("-inf")

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

    def flush_soon(self, subscriber: FlushedSubscriber) -> None:
        """Flush `subscriber` at the end of the current window: at once (after the batch being dispatched) when
        the last flush is a window old, else when the window is over, so no socket gets more than one frame
        per QUOTES_WS_FLUSH_SECONDS and an idle stream's first tick is not held back."""
        self._due.add(subscriber)
        if self._flush_timer is None:
            loop = asyncio.get_running_loop()
            at = max(loop.time(), self._flushed_at + settings.QUOTES_WS_FLUSH_SECONDS)
            self._flush_timer = loop.call_at(at, self._flush)

    def _flush(self) -> None:
        self._flush_timer = None
        self._flushed_at = asyncio.get_running_loop().time()
        due, self._due = self._due, set()
        for subscriber in due:
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
        layer = get_channel_layer()
        # The default prefix on purpose: channels-redis serves all of a process's "specific." channels from one
        # shared receive loop; a channel of another prefix would wait for the consumers' receive lock.
        channel = await layer.new_channel()
        loop = asyncio.get_running_loop()
        joined_at = None
        while True:
            try:
                if joined_at is None or loop.time() - joined_at > REJOIN_SECONDS:
                    await layer.group_add(QUOTES_BROADCAST_GROUP, channel)
                    joined_at = loop.time()
                    self._joined.set()
                    _stop_if_cancelled()
                message = await layer.receive(channel)
                _stop_if_cancelled()
            except asyncio.CancelledError:
                raise
            except Exception:
                # Redis went away: keep serving the sockets and join again once it is back.
                logger.exception("Quote hub lost the channel layer; retrying.")
                joined_at = None
                self._joined.set()  # subscribers are not held up: updates resume once the hub has joined again
                await asyncio.sleep(1)
                continue
            if message.get("type") == QUOTE_BATCH_EVENT_TYPE:
                self.dispatch(message["quotes"])


def _stop_if_cancelled() -> None:
    """Raise the cancellation that redis-py's `wait_for` may have swallowed (Python 3.11, see
    speedtrade/cancellation.py): the task still counts the request, and the hub must end on it."""
    # Only ever called from the hub's own task, so there is a current task.
    if cast(asyncio.Task, asyncio.current_task()).cancelling():
        raise asyncio.CancelledError


_HUBS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, QuoteHub]" = weakref.WeakKeyDictionary()


def quote_hub() -> QuoteHub:
    """This event loop's hub (a server worker runs one loop; tests start a loop per test)."""
    loop = asyncio.get_running_loop()
    hub = _HUBS.get(loop)
    if hub is None:
        hub = _HUBS[loop] = QuoteHub()
    return hub
