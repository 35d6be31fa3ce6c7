"""Polygon.io (now Massive) through its official client `massive` (formerly polygon-api-client):
live stock quotes and trades over its WebSocket, aggregates for bars, reference tickers for
the asset master.

Live: one `WebSocketClient` on the stocks cluster subscribed to `Q.<symbol>` (NBBO quotes)
and `T.<symbol>` (trades). A symbol's Quote combines its latest bid/ask with its latest trade,
exactly as the Alpaca feed does (`_Book`): `last` is the mid until the first trade, and a trade
before the first quote only remembers the price. Crypto symbols are not served (Polygon's
crypto cluster is another product): `run_feed` asks this provider for stocks only.

Reconnecting: massive reconnects a connection closed with an error and resubscribes (up to
`POLYGON_MAX_RECONNECTS` in a row); each reconnect is logged as a gap. When it gives up, or
the server refuses the key, `stream()` raises and `run_feed` reopens it with its backoff.

Settings: POLYGON_API_KEY (required), POLYGON_STREAM_HOST (cluster host, default massive's
real-time `socket.massive.com`; `delayed.massive.com` on delayed plans), POLYGON_API_URL
(REST base override), POLYGON_STREAM_SECURE (wss; false only for local test servers).
"""

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ImproperlyConfigured
from massive import RESTClient, WebSocketClient
from massive.websocket.models import EquityQuote, EquityTrade, Feed, Market

from marketdata.feeds.alpaca import _Book
from marketdata.feeds.base import BarRecord
from marketdata.models import Asset, Timeframe
from marketdata.quotes import Quote
from speedtrade.cancellation import cancel_and_wait
from speedtrade.money import to_stored
from venues.wire import decimal_from_wire

logger = logging.getLogger(__name__)

POLYGON_TIMESPANS: dict[str, tuple[int, str]] = {
    Timeframe.MINUTE: (1, "minute"),
    Timeframe.FIVE_MINUTES: (5, "minute"),
    Timeframe.HOUR: (1, "hour"),
    Timeframe.DAY: (1, "day"),
}
# Reference ticker types we list as tradable stocks/ETFs (Polygon's /v3/reference/tickers/types).
STOCK_TYPES = {"CS", "ADRC", "ETF", "ETN", "ETV", "PFD", "REIT", "UNIT", "FUND"}


def polygon_api_key(settings) -> str:
    if not settings.POLYGON_API_KEY:
        raise ImproperlyConfigured("The polygon provider needs POLYGON_API_KEY (Polygon/Massive API key).")
    return settings.POLYGON_API_KEY


def _from_millis(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


class _GapLoggingClient(WebSocketClient):
    """massive's client, logging each reconnect as a gap. It has no connect callback; every
    (re)connection's first server message ("connected") passes `_log_server_statuses`
    (pinned massive 2.9.1; recheck on upgrade)."""

    connections = 0
    last_message_at: datetime | None = None

    def _log_server_statuses(self, msgs) -> None:
        for message in msgs if isinstance(msgs, list) else []:
            if message.get("ev") == "status" and message.get("status") == "connected":
                self.connections += 1
                if self.connections > 1:
                    since = self.last_message_at.isoformat() if self.last_message_at else "the first connection"
                    logger.warning("Polygon stocks stream reconnected: gap in data since %s.", since)
        super()._log_server_statuses(msgs)


class PolygonStreamEnded(RuntimeError):
    """massive's stream stopped on its own (key refused, too many reconnects)."""


class PolygonFeed:
    name = "polygon"

    def __init__(
        self,
        *,
        api_key: str,
        stream_host: str = Feed.RealTime.value,
        secure: bool = True,
        rest_url: str | None = None,
        max_reconnects: int = 5,
    ) -> None:
        self._api_key = api_key
        self.stream_host = stream_host
        self.secure = secure
        self.rest_url = rest_url.rstrip("/") if rest_url else None
        self.max_reconnects = max_reconnects

    def __repr__(self) -> str:  # never show the key
        return f"<PolygonFeed stream={self.stream_host!r} rest={self.rest_url or 'default'!r}>"

    def rest_client(self) -> RESTClient:
        return RESTClient(self._api_key, **({"base": self.rest_url} if self.rest_url else {}))

    # --- live -------------------------------------------------------------------
    async def stream(self, symbols: list[str]) -> AsyncIterator[list[Quote]]:
        stocks = [symbol for symbol in symbols if "/" not in symbol]
        books: dict[str, _Book] = {}
        pending: asyncio.Queue[Quote] = asyncio.Queue()  # unbounded: every trade carries volume
        client = _GapLoggingClient(
            api_key=self._api_key,
            feed=self.stream_host,
            market=Market.Stocks,
            secure=self.secure,
            subscriptions=[f"{channel}.{symbol}" for symbol in stocks for channel in ("Q", "T")],
            max_reconnects=self.max_reconnects,
        )

        async def process(messages) -> None:
            client.last_message_at = datetime.now(UTC)
            for message in messages:
                if isinstance(message, EquityQuote) and message.bid_price and message.ask_price:
                    book = books.setdefault(message.symbol, _Book())
                    book.bid, book.ask = decimal_from_wire(message.bid_price), decimal_from_wire(message.ask_price)
                    book.bid_size = decimal_from_wire(message.bid_size or 0)
                    book.ask_size = decimal_from_wire(message.ask_size or 0)
                    pending.put_nowait(book.quote(message.symbol, _from_millis(message.timestamp)))
                elif isinstance(message, EquityTrade) and message.price:
                    book = books.setdefault(message.symbol, _Book())
                    book.last = decimal_from_wire(message.price)
                    if book.bid is not None:
                        size = decimal_from_wire(message.size or 0)
                        pending.put_nowait(book.quote(message.symbol, _from_millis(message.timestamp), last_size=size))

        runner = asyncio.create_task(client.connect(process))
        next_quote: asyncio.Task | None = None
        try:
            while True:
                next_quote = asyncio.create_task(pending.get())
                done, _ = await asyncio.wait({next_quote, runner}, return_when=asyncio.FIRST_COMPLETED)
                if next_quote not in done:
                    error = runner.exception()
                    raise PolygonStreamEnded(f"The Polygon stocks stream stopped: {error or 'closed'}") from error
                batch = [next_quote.result()]
                while not pending.empty():
                    batch.append(pending.get_nowait())
                yield batch
        finally:
            await cancel_and_wait([runner, next_quote] if next_quote else [runner])
            await client.close()

    # --- historical -------------------------------------------------------------
    async def bars(
        self, symbol: str, *, timeframe: str, start: datetime, end: datetime | None = None, limit: int | None = None
    ) -> list[BarRecord]:
        """Aggregates of one stock, oldest first (massive follows `next_url` pages); its REST
        client blocks (urllib3), so it runs in a thread."""
        return await asyncio.to_thread(self._bars, symbol, timeframe=timeframe, start=start, end=end, limit=limit)

    def _bars(
        self, symbol: str, *, timeframe: str, start: datetime, end: datetime | None, limit: int | None
    ) -> list[BarRecord]:
        multiplier, timespan = POLYGON_TIMESPANS[timeframe]
        aggs = self.rest_client().list_aggs(
            symbol, multiplier, timespan, start, end or datetime.now(UTC), adjusted=True, sort="asc", limit=50000
        )
        return [bar_record(agg) for agg in itertools.islice(aggs, limit)]


def bar_record(agg) -> BarRecord:
    return BarRecord(
        timestamp=_from_millis(agg.timestamp),
        open=decimal_from_wire(agg.open),
        high=decimal_from_wire(agg.high),
        low=decimal_from_wire(agg.low),
        close=decimal_from_wire(agg.close),
        volume=decimal_from_wire(agg.volume or 0),
        trade_count=int(agg.transactions) if agg.transactions is not None else None,
        vwap=decimal_from_wire(agg.vwap) if agg.vwap is not None else None,
    )


def build_feed(settings) -> PolygonFeed:
    """Registry factory for provider "polygon"."""
    return PolygonFeed(
        api_key=polygon_api_key(settings),
        stream_host=settings.POLYGON_STREAM_HOST,
        secure=settings.POLYGON_STREAM_SECURE,
        rest_url=settings.POLYGON_API_URL or None,
        max_reconnects=settings.POLYGON_MAX_RECONNECTS,
    )


# --- asset universe (sync_assets) -----------------------------------------------------
def asset_rows(settings, *, today: date | None = None) -> list[dict]:
    """Polygon's active stock tickers (name, primary exchange, type) as `assets_sync` rows,
    priced by the close of the latest session's grouped daily aggregates."""
    client = build_feed(settings).rest_client()
    prices = _latest_closes(client, today or datetime.now(UTC).date())
    rows = []
    for ticker in client.list_tickers(market="stocks", active=True, limit=1000):
        if ticker.type not in STOCK_TYPES:
            continue
        rows.append(
            {
                "symbol": ticker.ticker,
                "name": (ticker.name or ticker.ticker)[:200],
                "asset_class": Asset.AssetClass.US_EQUITY,
                "exchange": (ticker.primary_exchange or "")[:16],
                "security_type": ticker.type[:16],
                "status": Asset.Status.ACTIVE,
                "tradable": True,
                "reference_price": to_stored(prices[ticker.ticker]) if ticker.ticker in prices else None,
            }
        )
    return rows


def _latest_closes(client: RESTClient, today: date) -> dict[str, Decimal]:
    """Closes from the most recent day (looking back a week) with grouped daily results."""
    for days_back in range(1, 8):
        day = today - timedelta(days=days_back)
        aggs = client.get_grouped_daily_aggs(day.isoformat(), adjusted=True)
        if aggs:
            return {agg.ticker: decimal_from_wire(agg.close) for agg in aggs if agg.close}
    return {}
