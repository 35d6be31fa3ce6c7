"""Alpaca market data through alpaca-py: live quotes and trades, historical bars.

Live: one `StockDataStream` for equities and one `CryptoDataStream` for crypto
(Alpaca writes crypto pairs with a slash, "BTC/USD", exactly as SpeedTrade does, so
a slash is what routes a symbol to the crypto stream). Each stream subscribes to
quotes (bid/ask and sizes) and trades (last price and size). A symbol's Quote
combines its latest bid/ask with its latest trade; until the first trade arrives,
`last` is the mid price. A trade that arrives before the symbol's first quote only
remembers the price, since a Quote without a real bid/ask would mislead the venue.

Reconnecting: alpaca-py reconnects a dropped data stream itself, with exponential
backoff and jitter, and resubscribes; the streams `venues.alpaca` builds log every
reconnect as a gap (from the last message before the drop to the first after). If a
stream gives up for good (Alpaca refuses the subscription), `stream()` raises and
`run_feed` reopens it with its own backoff.

Settings (the credentials and clients come from `venues.alpaca`, shared with trading's
Alpaca venue): ALPACA_API_KEY / ALPACA_SECRET_KEY (required), ALPACA_DATA_FEED (iex|sip),
ALPACA_DATA_STREAM_URL (base of the websocket endpoints; the stock path
"/v2/<feed>" and the crypto path "/v1beta3/crypto/us" are appended) and
ALPACA_DATA_URL (base of the historical REST API), both optional overrides.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import cast

from alpaca.common.enums import BaseURL
from alpaca.data.enums import DataFeed
from alpaca.data.live import CryptoDataStream, StockDataStream
from alpaca.data.models import Bar as AlpacaBar
from alpaca.data.models import BarSet
from alpaca.data.models import Quote as AlpacaQuote
from alpaca.data.models import Trade as AlpacaTrade
from alpaca.data.requests import (
    CryptoBarsRequest,
    CryptoLatestTradeRequest,
    StockBarsRequest,
    StockLatestTradeRequest,
)
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit
from alpaca.trading.enums import AssetClass, AssetStatus
from alpaca.trading.models import Asset as AlpacaAsset
from alpaca.trading.requests import GetAssetsRequest

from marketdata.feeds.base import BarRecord
from marketdata.models import Asset, Timeframe
from marketdata.quotes import Quote
from speedtrade.cancellation import cancel_and_wait
from speedtrade.money import to_stored, to_stored_increment
from venues import alpaca
from venues.wire import decimal_from_wire

logger = logging.getLogger(__name__)

LATEST_TRADES_CHUNK = 200  # symbols per latest-trades request (keeps URLs short)
ALPACA_TIMEFRAMES: dict[str, TimeFrame] = {
    Timeframe.MINUTE: TimeFrame(1, TimeFrameUnit.Minute),
    Timeframe.FIVE_MINUTES: TimeFrame(5, TimeFrameUnit.Minute),
    Timeframe.HOUR: TimeFrame(1, TimeFrameUnit.Hour),
    Timeframe.DAY: TimeFrame(1, TimeFrameUnit.Day),
}


def is_crypto_symbol(symbol: str) -> bool:
    return "/" in symbol


@dataclass
class _Book:
    """What we know of one symbol so far: its last bid/ask and last trade price."""

    bid: Decimal | None = None
    ask: Decimal | None = None
    bid_size: Decimal = Decimal("0")
    ask_size: Decimal = Decimal("0")
    last: Decimal | None = None

    def quote(self, symbol: str, timestamp: datetime, *, last_size: Decimal = Decimal("0")) -> Quote:
        # Asked for only once a quote has set both sides (on_quote; on_trade checks the bid).
        bid, ask = cast(Decimal, self.bid), cast(Decimal, self.ask)
        return Quote(
            symbol=symbol,
            bid=bid,
            ask=ask,
            bid_size=self.bid_size,
            ask_size=self.ask_size,
            last=self.last if self.last is not None else (bid + ask) / 2,
            last_size=last_size,
            timestamp=timestamp.astimezone(UTC),
        )


class AlpacaStreamEnded(RuntimeError):
    """An alpaca-py data stream stopped on its own (e.g. subscription refused)."""


class AlpacaFeed:
    name = "alpaca"

    def __init__(
        self,
        *,
        api_key: str,
        secret_key: str,
        stock_feed: DataFeed = DataFeed.IEX,
        stream_url: str | None = None,
        data_url: str | None = None,
    ) -> None:
        self._api_key = api_key
        self._secret_key = secret_key
        self.stock_feed = stock_feed
        self.stream_url = (stream_url or BaseURL.MARKET_DATA_STREAM.value).rstrip("/")
        self.data_url = data_url.rstrip("/") if data_url else None

    def __repr__(self) -> str:  # never show the keys
        return f"<AlpacaFeed stream={self.stream_url!r} data={self.data_url or BaseURL.DATA.value!r}>"

    # --- live -------------------------------------------------------------------
    def _data_streams(self, symbols: list[str]) -> list[tuple[StockDataStream | CryptoDataStream, list[str]]]:
        stocks = [symbol for symbol in symbols if not is_crypto_symbol(symbol)]
        cryptos = [symbol for symbol in symbols if is_crypto_symbol(symbol)]
        keys = (self._api_key, self._secret_key)
        streams: list[tuple[StockDataStream | CryptoDataStream, list[str]]] = []
        if stocks:
            streams.append((alpaca.stock_data_stream(*keys, feed=self.stock_feed, stream_url=self.stream_url), stocks))
        if cryptos:
            streams.append((alpaca.crypto_data_stream(*keys, stream_url=self.stream_url), cryptos))
        return streams

    async def stream(self, symbols: list[str]) -> AsyncIterator[list[Quote]]:
        books: dict[str, _Book] = {}
        # Unbounded on purpose: every trade carries volume the bar aggregation needs,
        # so ticks are not conflated here (the WebSocket consumers conflate per client).
        pending: asyncio.Queue[Quote] = asyncio.Queue()

        async def on_quote(alpaca_quote: AlpacaQuote) -> None:
            book = books.setdefault(alpaca_quote.symbol, _Book())
            book.bid = decimal_from_wire(alpaca_quote.bid_price)
            book.ask = decimal_from_wire(alpaca_quote.ask_price)
            book.bid_size = decimal_from_wire(alpaca_quote.bid_size)
            book.ask_size = decimal_from_wire(alpaca_quote.ask_size)
            pending.put_nowait(book.quote(alpaca_quote.symbol, alpaca_quote.timestamp))

        async def on_trade(trade: AlpacaTrade) -> None:
            book = books.setdefault(trade.symbol, _Book())
            book.last = decimal_from_wire(trade.price)
            if book.bid is not None:
                pending.put_nowait(book.quote(trade.symbol, trade.timestamp, last_size=decimal_from_wire(trade.size)))

        streams = self._data_streams(symbols)
        for data_stream, stream_symbols in streams:
            # The handlers get models: alpaca-py passes raw dicts (its annotation's other case) only to
            # streams built with raw_data=True, which ours never are.
            data_stream.subscribe_quotes(on_quote, *stream_symbols)  # type: ignore[arg-type]
            data_stream.subscribe_trades(on_trade, *stream_symbols)  # type: ignore[arg-type]
        # `_run_forever` is the coroutine behind alpaca-py's blocking `run()`, which
        # would start its own event loop; we need the streams inside ours.
        runners = [asyncio.create_task(data_stream._run_forever()) for data_stream, _ in streams]
        next_quote: asyncio.Task | None = None
        try:
            while True:
                next_quote = asyncio.create_task(pending.get())
                done, _ = await asyncio.wait({next_quote, *runners}, return_when=asyncio.FIRST_COMPLETED)
                if next_quote not in done:
                    raise AlpacaStreamEnded("An Alpaca data stream stopped; see the alpaca-py log above.")
                batch = [next_quote.result()]
                while not pending.empty():
                    batch.append(pending.get_nowait())
                yield batch
        finally:
            await cancel_and_wait([*runners, next_quote] if next_quote else runners)
            for data_stream, _ in streams:
                await data_stream.close()

    # --- historical -------------------------------------------------------------
    async def bars(
        self, symbol: str, *, timeframe: str, start: datetime, end: datetime | None = None, limit: int | None = None
    ) -> list[BarRecord]:
        """Historical bars of one symbol, oldest first (alpaca-py follows the pages)."""
        # alpaca-py's REST clients block (requests); keep the event loop free.
        return await asyncio.to_thread(self._bars, symbol, timeframe=timeframe, start=start, end=end, limit=limit)

    def _bars(
        self, symbol: str, *, timeframe: str, start: datetime, end: datetime | None, limit: int | None
    ) -> list[BarRecord]:
        alpaca_timeframe = ALPACA_TIMEFRAMES[timeframe]
        keys = (self._api_key, self._secret_key)
        if is_crypto_symbol(symbol):
            crypto_client = alpaca.historical_client(*keys, crypto=True, data_url=self.data_url)
            bars = crypto_client.get_crypto_bars(
                CryptoBarsRequest(
                    symbol_or_symbols=symbol, timeframe=alpaca_timeframe, start=start, end=end, limit=limit
                )
            )
        else:
            stock_client = alpaca.historical_client(*keys, crypto=False, data_url=self.data_url)
            bars = stock_client.get_stock_bars(
                StockBarsRequest(
                    symbol_or_symbols=symbol,
                    timeframe=alpaca_timeframe,
                    start=start,
                    end=end,
                    limit=limit,
                    feed=self.stock_feed,
                )
            )
        # A BarSet: the client returns raw dicts only when built with raw_data=True, which ours never are.
        bar_set = cast(BarSet, bars)
        return [bar_record(bar) for bar in bar_set.data.get(symbol, [])]


def bar_record(bar: AlpacaBar) -> BarRecord:
    return BarRecord(
        timestamp=bar.timestamp.astimezone(UTC),
        open=decimal_from_wire(bar.open),
        high=decimal_from_wire(bar.high),
        low=decimal_from_wire(bar.low),
        close=decimal_from_wire(bar.close),
        volume=decimal_from_wire(bar.volume),
        trade_count=int(bar.trade_count) if bar.trade_count is not None else None,
        vwap=decimal_from_wire(bar.vwap) if bar.vwap is not None else None,
    )


def build_feed(settings) -> AlpacaFeed:
    """Registry factory for provider "alpaca"."""
    api_key, secret_key = alpaca.credentials(settings)
    return AlpacaFeed(
        api_key=api_key,
        secret_key=secret_key,
        stock_feed=DataFeed(settings.ALPACA_DATA_FEED),
        stream_url=settings.ALPACA_DATA_STREAM_URL or None,
        data_url=settings.ALPACA_DATA_URL or None,
    )


# --- asset universe (sync_assets) -----------------------------------------------------
def asset_rows(settings) -> list[dict]:
    """Alpaca's active assets (both classes) as `assets_sync` rows, priced by their latest trade.

    Only tradable assets are priced (one latest-trades request per 200 symbols); the
    others still update assets we already have, e.g. to mark them untradable.
    """
    api_key, secret_key = alpaca.credentials(settings)
    trading = alpaca.assets_client(settings)
    data_url = settings.ALPACA_DATA_URL or None
    rows: list[dict] = []
    for asset_class, latest_trades in (
        (AssetClass.US_EQUITY, _stock_latest_trades(api_key, secret_key, data_url)),
        (AssetClass.CRYPTO, _crypto_latest_trades(api_key, secret_key, data_url)),
    ):
        # Models, not raw dicts: the client is not built with raw_data=True.
        assets = cast(
            list[AlpacaAsset],
            trading.get_all_assets(GetAssetsRequest(status=AssetStatus.ACTIVE, asset_class=asset_class)),
        )
        prices = latest_trades([asset.symbol for asset in assets if asset.tradable])
        rows.extend(asset_row(asset, prices.get(asset.symbol)) for asset in assets)
    return rows


def _chunked_prices(fetch):
    def prices(symbols: list[str]) -> dict[str, Decimal]:
        found = {}
        for index in range(0, len(symbols), LATEST_TRADES_CHUNK):
            trades = fetch(symbols[index : index + LATEST_TRADES_CHUNK])
            found.update({symbol: decimal_from_wire(trade.price) for symbol, trade in trades.items()})
        return found

    return prices


def _stock_latest_trades(api_key: str, secret_key: str, data_url: str | None):
    client = alpaca.historical_client(api_key, secret_key, crypto=False, data_url=data_url)
    return _chunked_prices(
        lambda chunk: client.get_stock_latest_trade(StockLatestTradeRequest(symbol_or_symbols=chunk))
    )


def _crypto_latest_trades(api_key: str, secret_key: str, data_url: str | None):
    client = alpaca.historical_client(api_key, secret_key, crypto=True, data_url=data_url)
    return _chunked_prices(
        lambda chunk: client.get_crypto_latest_trade(CryptoLatestTradeRequest(symbol_or_symbols=chunk))
    )


def asset_row(asset: AlpacaAsset, price: Decimal | None) -> dict:
    steps = {
        name: to_stored_increment(decimal_from_wire(getattr(asset, name)))
        for name in ("min_order_size", "min_trade_increment", "price_increment")
        if getattr(asset, name) is not None
    }
    return {
        "symbol": asset.symbol,
        "name": (asset.name or asset.symbol)[:200],
        "asset_class": Asset.AssetClass(asset.asset_class.value),
        "exchange": asset.exchange.value[:16],
        "status": Asset.Status(asset.status.value),
        "tradable": asset.tradable,
        "fractionable": asset.fractionable,
        "shortable": asset.shortable,
        "marginable": asset.marginable,
        "easy_to_borrow": asset.easy_to_borrow,
        **steps,
        "reference_price": to_stored(price) if price else None,
    }
