"""`/ws/quotes`: live quotes for the symbols a client subscribes to.

Protocol (client → server): `{"action": "subscribe", "symbols": ["AAPL", "BTC/USD"]}`
and `{"action": "unsubscribe", "symbols": [...]}`. The server answers each with
`{"type": "subscribed", "symbols": [every current symbol]}`; a subscribe is followed by
one frame holding a snapshot message per newly subscribed symbol. Updates then arrive
as frames that are JSON arrays of quote messages, at most one frame per
QUOTES_WS_FLUSH_SECONDS per connection (the first tick after a quiet window at once),
holding only the newest quote of each symbol that changed (conflation: a slow client
skips intermediate quotes instead of queueing them). Errors are `{"type": "error", "code", "message"}` and never close
the connection.
"""

import asyncio

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings

from marketdata.fanout import FannedQuote, quote_hub
from marketdata.quotes import Quote, latest_quotes, quote_message
from marketdata.selectors import assets_by_symbols
from speedtrade.consumers import AuthenticatedJsonConsumer


def snapshot_message(symbol: str, quote: Quote | None) -> dict:
    if quote is not None:
        return quote_message(quote, message_type="snapshot")
    empty = dict.fromkeys(("bid", "ask", "bid_size", "ask_size", "last", "last_size", "timestamp"))
    return {"type": "snapshot", "symbol": symbol, **empty, "stale": True}


class QuoteFanOut:
    """Live quotes for a consumer's symbols, conflated per connection.

    Mixed into every consumer that streams quotes (`/ws/quotes`, the Alpaca data streams);
    each says how a batch is written by implementing `send_quotes`. Ticks come from this
    process's quote hub (marketdata/fanout.py), not from one channel-layer group per symbol;
    each socket's window starts at its own last frame (a tick after a quiet window goes out at
    once), the hub says when windows end (one timer for all the sockets due together), and each
    socket's own writer task sends what is pending. A socket still writing (a slow client: the server's
    send waits while its buffer is full) holds up nobody else: its pending ticks keep only
    the newest quote of each symbol, and it gets those when its write completes.
    """

    def quotes_setup(self) -> None:
        self.symbols: set[str] = set()
        self.pending: dict[str, FannedQuote] = {}  # symbol -> newest tick not yet sent
        self.quotes_flush_asked = False  # the hub will call quotes_flush at the end of this socket's window
        self.quotes_flushed_at = float("-inf")  # loop time of the last flush: its window starts there
        self.quotes_due = asyncio.Event()
        self.quotes_writer = asyncio.create_task(self._write_quotes())

    async def quotes_follow(self, symbols) -> list[str]:
        """Follow `symbols` not followed yet; returns those new symbols."""
        new = [symbol for symbol in symbols if symbol not in self.symbols]
        await quote_hub().subscribe(self, new)
        self.symbols.update(new)
        return new

    async def quotes_unfollow(self, symbols) -> None:
        leaving = self.symbols.intersection(symbols)
        quote_hub().unsubscribe(self, leaving)
        for symbol in leaving:
            self.symbols.discard(symbol)
            self.pending.pop(symbol, None)

    async def quotes_teardown(self) -> None:
        writer = getattr(self, "quotes_writer", None)
        if writer is not None:
            writer.cancel()
        quote_hub().unsubscribe(self, getattr(self, "symbols", ()))

    def quote_received(self, tick: FannedQuote) -> None:
        """A tick from this process's quote hub: keep only the newest per symbol until the window is over."""
        if tick.quote.symbol not in self.symbols:
            return  # an update already in flight when the client unsubscribed
        self.pending[tick.quote.symbol] = tick
        if not self.quotes_flush_asked:
            self.quotes_flush_asked = True
            quote_hub().flush_soon(self, self.quotes_flushed_at)

    def quotes_flush(self) -> None:
        self.quotes_flush_asked = False
        self.quotes_flushed_at = asyncio.get_running_loop().time()
        self.quotes_due.set()

    async def _write_quotes(self) -> None:
        while True:
            await self.quotes_due.wait()
            self.quotes_due.clear()
            pending, self.pending = self.pending, {}
            if pending:
                await self.send_quotes(list(pending.values()))

    async def send_quotes(self, ticks: list[FannedQuote]) -> None:
        raise NotImplementedError


class QuoteStreamConsumer(QuoteFanOut, AuthenticatedJsonConsumer):
    async def on_authenticated(self) -> None:
        self.quotes_setup()

    async def disconnect(self, code):
        await self.quotes_teardown()

    async def _requested_symbols(self, message) -> list[str] | None:
        symbols = message.get("symbols")
        if not isinstance(symbols, list) or not symbols or not all(isinstance(s, str) and s for s in symbols):
            await self.send_error("bad_frame", '"symbols" must be a non-empty list of symbol strings.')
            return None
        if len(symbols) > settings.QUOTES_WS_MAX_SYMBOLS:
            await self.send_error("symbol_limit", f"At most {settings.QUOTES_WS_MAX_SYMBOLS} symbols per connection.")
            return None
        found, unknown = await database_sync_to_async(assets_by_symbols)(symbols)
        if unknown:
            await self.send_error("unknown_symbol", f"Unknown symbols: {', '.join(unknown)}.")
        return sorted({asset.symbol for asset in found.values()})

    async def action_subscribe(self, message) -> None:
        symbols = await self._requested_symbols(message)
        if symbols is None:
            return
        new = [symbol for symbol in symbols if symbol not in self.symbols]
        if len(self.symbols) + len(new) > settings.QUOTES_WS_MAX_SYMBOLS:
            await self.send_error(
                "symbol_limit",
                f"At most {settings.QUOTES_WS_MAX_SYMBOLS} symbols per connection; "
                f"{len(self.symbols)} subscribed, {len(new)} more requested.",
            )
            return
        await self.quotes_follow(new)
        await self.send_json({"type": "subscribed", "symbols": sorted(self.symbols)})
        if new:
            quotes = await sync_to_async(latest_quotes, thread_sensitive=False)(new)
            await self.send_json([snapshot_message(symbol, quotes.get(symbol)) for symbol in new])

    async def action_unsubscribe(self, message) -> None:
        symbols = await self._requested_symbols(message)
        if symbols is None:
            return
        await self.quotes_unfollow(symbols)
        await self.send_json({"type": "subscribed", "symbols": sorted(self.symbols)})

    async def send_quotes(self, ticks: list[FannedQuote]) -> None:
        await self.send_frame("[" + ",".join(tick.json for tick in ticks) + "]")  # each encoded once per process
