"""Crypto quotes from one exchange through ccxt's async API (provider "ccxt:<exchange id>").

Live: `watch_tickers` (ccxt.pro) when the exchange supports it and CCXT_STREAMING is
on, otherwise `fetch_tickers` polled every CCXT_POLL_SECONDS (a polled ticker that
did not change is not sent again). A unified ticker becomes a Quote: bid, ask,
bidVolume, askVolume, last (the mid when the exchange reports no last price) and its
timestamp (ms; the time of receipt when the exchange sends none). Tickers carry no
size for the last trade, so these quotes have `last_size` 0 and add no volume to bars.

Network failures are retried here with exponential backoff and full jitter, and the
time without data is logged as a gap; other errors end the stream (`run_feed` reopens
it with its own backoff).

The exchange (keys, sandbox, urls), the market each symbol maps to (CCXT_USD_QUOTE_CURRENCIES:
"BTC/USD" may be BTC/USDT there) and the reconnect backoff come from `venues.ccxt`, shared
with trading's ccxt venue.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal

import ccxt
import ccxt.async_support

from marketdata.feeds.base import BarRecord
from marketdata.models import Asset, Timeframe
from marketdata.quotes import Quote
from speedtrade.money import to_stored, to_stored_increment
from venues.ccxt import USD, SymbolMap, build_exchange, reconnect_delay
from venues.wire import decimal_from_wire

logger = logging.getLogger(__name__)

CCXT_TIMEFRAMES: dict[str, str] = {
    Timeframe.MINUTE: "1m",
    Timeframe.FIVE_MINUTES: "5m",
    Timeframe.HOUR: "1h",
    Timeframe.DAY: "1d",
}
OHLCV_PAGE_SIZE = 500


def _decimal_or_zero(value) -> Decimal:
    return decimal_from_wire(value) if value is not None else Decimal("0")


def quote_from_ticker(symbol: str, ticker: Mapping, *, received_at: datetime) -> Quote | None:
    """A Quote from ccxt's unified ticker; None without both a bid and an ask."""
    if ticker.get("bid") is None or ticker.get("ask") is None:
        return None
    bid, ask = decimal_from_wire(ticker["bid"]), decimal_from_wire(ticker["ask"])
    timestamp = ticker.get("timestamp")
    return Quote(
        symbol=symbol,
        bid=bid,
        ask=ask,
        bid_size=_decimal_or_zero(ticker.get("bidVolume")),
        ask_size=_decimal_or_zero(ticker.get("askVolume")),
        last=decimal_from_wire(ticker["last"]) if ticker.get("last") is not None else (bid + ask) / 2,
        timestamp=datetime.fromtimestamp(timestamp / 1000, tz=UTC) if timestamp is not None else received_at,
    )


class CcxtFeed:
    def __init__(
        self,
        exchange: ccxt.async_support.Exchange,
        *,
        usd_quote_currencies: list[str],
        streaming: bool = True,
        poll_seconds: float = 2.0,
    ) -> None:
        self.exchange = exchange
        self.name = f"ccxt:{exchange.id}"
        self.usd_quote_currencies = usd_quote_currencies
        self.streaming = streaming
        self.poll_seconds = poll_seconds

    @property
    def watches_tickers(self) -> bool:
        return self.streaming and bool(self.exchange.has.get("watchTickers"))

    async def symbol_map(self, symbols: Iterable[str]) -> SymbolMap:
        markets = await self.exchange.load_markets()
        symbol_map = SymbolMap.build(symbols, markets, self.usd_quote_currencies)
        if symbol_map.unlisted:
            logger.warning(
                "%s lists no market for %d symbols (skipped): %s",
                self.name,
                len(symbol_map.unlisted),
                ", ".join(symbol_map.unlisted[:20]),
            )
        return symbol_map

    async def stream(self, symbols: list[str]) -> AsyncIterator[list[Quote]]:
        failures = 0
        last_data_at: datetime | None = None
        try:
            while True:
                try:
                    symbol_map = await self.symbol_map(symbols)
                    if failures:
                        logger.warning(
                            "%s reconnected after %d failures: gap in data since %s.",
                            self.name,
                            failures,
                            last_data_at.isoformat() if last_data_at else "start",
                        )
                        failures = 0
                    async for batch in self._quotes(symbol_map):
                        last_data_at = datetime.now(UTC)
                        yield batch
                except ccxt.NetworkError as error:
                    failures += 1
                    delay = reconnect_delay(failures)
                    logger.warning("%s network error (%s); retrying in %.1fs.", self.name, type(error).__name__, delay)
                    await asyncio.sleep(delay)
        finally:
            await self.close()

    def _quotes(self, symbol_map: SymbolMap) -> AsyncIterator[list[Quote]]:
        return self._watched(symbol_map) if self.watches_tickers else self._polled(symbol_map)

    async def _watched(self, symbol_map: SymbolMap) -> AsyncIterator[list[Quote]]:
        to_speedtrade = symbol_map.to_speedtrade
        while to_speedtrade:
            batch = self._convert(await self.exchange.watch_tickers(list(to_speedtrade)), to_speedtrade)
            if batch:
                yield batch

    async def _polled(self, symbol_map: SymbolMap) -> AsyncIterator[list[Quote]]:
        to_speedtrade = symbol_map.to_speedtrade
        sent: dict[str, Quote] = {}
        while to_speedtrade:
            tickers = await self.exchange.fetch_tickers(list(to_speedtrade))
            batch = [quote for quote in self._convert(tickers, to_speedtrade) if sent.get(quote.symbol) != quote]
            sent.update((quote.symbol, quote) for quote in batch)
            if batch:
                yield batch
            await asyncio.sleep(self.poll_seconds)

    async def close(self) -> None:
        await self.exchange.close()

    @staticmethod
    def _convert(tickers: Mapping[str, Mapping], to_speedtrade: Mapping[str, str]) -> list[Quote]:
        received_at = datetime.now(UTC)
        quotes = (
            quote_from_ticker(to_speedtrade[market], ticker, received_at=received_at)
            for market, ticker in tickers.items()
            if market in to_speedtrade
        )
        return [quote for quote in quotes if quote is not None]

    async def bars(
        self, symbol: str, *, timeframe: str, start: datetime, end: datetime | None = None, limit: int | None = None
    ) -> list[BarRecord]:
        """Historical OHLCV of one symbol via `fetch_ohlcv`, oldest first, paging forward from `start`.

        ccxt's OHLCV has neither VWAP nor trade count, and exchanges start daily
        candles at 00:00 UTC.
        """
        market = (await self.symbol_map([symbol])).to_exchange.get(symbol)
        if market is None:
            return []
        since = int(start.timestamp() * 1000)
        end_ms = int(end.timestamp() * 1000) if end else None
        params = {"until": end_ms} if end_ms else {}
        records: list[BarRecord] = []
        while limit is None or len(records) < limit:
            page = await self.exchange.fetch_ohlcv(
                market, CCXT_TIMEFRAMES[timeframe], since=since, limit=OHLCV_PAGE_SIZE, params=params
            )
            rows = [row for row in page if row[0] >= since and (end_ms is None or row[0] < end_ms)]
            records.extend(bar_record(row) for row in rows)
            if not rows or len(page) < OHLCV_PAGE_SIZE:
                break
            since = rows[-1][0] + 1
        return records[:limit] if limit else records


def bar_record(row: list) -> BarRecord:
    timestamp, open_, high, low, close, volume = row[:6]
    return BarRecord(
        timestamp=datetime.fromtimestamp(timestamp / 1000, tz=UTC),
        open=decimal_from_wire(open_),
        high=decimal_from_wire(high),
        low=decimal_from_wire(low),
        close=decimal_from_wire(close),
        volume=_decimal_or_zero(volume),
    )


def build_feed(settings, exchange_id: str) -> CcxtFeed:
    """Registry factory for provider "ccxt:<exchange id>"."""
    return CcxtFeed(
        build_exchange(settings, exchange_id),
        usd_quote_currencies=settings.CCXT_USD_QUOTE_CURRENCIES,
        streaming=settings.CCXT_STREAMING,
        poll_seconds=settings.CCXT_POLL_SECONDS,
    )


# --- asset universe (sync_assets) -----------------------------------------------------
def _step(exchange: ccxt.async_support.Exchange, precision) -> Decimal | None:
    """ccxt precision as a step: TICK_SIZE exchanges report the step, others a number of decimals."""
    if precision is None:
        return None
    if exchange.precisionMode == ccxt.TICK_SIZE:
        return to_stored_increment(decimal_from_wire(precision))
    return to_stored_increment(Decimal(1).scaleb(-int(precision)))


async def asset_rows(settings, exchange_id: str) -> list[dict]:
    """The exchange's USD-priced spot markets as `assets_sync` rows ("BTC/USD" even if listed as BTC/USDT).

    Per base currency the preferred quote currency of CCXT_USD_QUOTE_CURRENCIES wins;
    precision and limits give price_increment, min_trade_increment and min_order_size;
    the ticker's last price (or mid) is the reference price.
    """
    usd_quotes = settings.CCXT_USD_QUOTE_CURRENCIES
    exchange = build_exchange(settings, exchange_id, streaming=False)
    try:
        markets = await exchange.load_markets()
        bases = sorted(
            {market["base"] for market in markets.values() if market.get("spot") and market["quote"] in usd_quotes}
        )
        symbol_map = SymbolMap.build([f"{base}/{USD}" for base in bases], markets, usd_quotes)
        tickers = await exchange.fetch_tickers(list(symbol_map.to_exchange.values()))
    finally:
        await exchange.close()
    received_at = datetime.now(UTC)
    rows = []
    for symbol, market_symbol in symbol_map.to_exchange.items():
        market = markets[market_symbol]
        quote = quote_from_ticker(symbol, tickers.get(market_symbol, {}), received_at=received_at)
        steps = {
            "price_increment": _step(exchange, market["precision"].get("price")),
            "min_trade_increment": _step(exchange, market["precision"].get("amount")),
        }
        min_amount = (market.get("limits", {}).get("amount") or {}).get("min")
        if min_amount:
            steps["min_order_size"] = to_stored_increment(decimal_from_wire(min_amount))
        rows.append(
            {
                "symbol": symbol,
                "name": f"{market['base']} / US Dollar ({market_symbol} on {exchange.name})"[:200],
                "asset_class": Asset.AssetClass.CRYPTO,
                "exchange": exchange_id.upper()[:16],
                "status": Asset.Status.ACTIVE,
                "tradable": True,
                "fractionable": True,
                "shortable": False,
                "marginable": False,
                "easy_to_borrow": False,
                **{name: step for name, step in steps.items() if step is not None},
                "reference_price": to_stored(quote.last) if quote else None,
            }
        )
    return rows
