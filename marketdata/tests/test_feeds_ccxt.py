"""The ccxt adapter against ccxt itself, offline.

ccxt's binanceus client (its real request signing, parsing and market loading) talks
to a local aiohttp server that answers with recorded Binance.US REST responses;
`CCXT_API_URLS` points the exchange's "public" API at it.
"""

import asyncio
import json
import logging
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web

from marketdata.feeds.base import BarRecord
from marketdata.feeds.ccxt_feed import build_feed
from marketdata.models import Timeframe
from venues.ccxt import SymbolMap, exchange_symbol_for

RECORDINGS = Path(__file__).parent / "recordings"


def recording(name: str):
    return json.loads((RECORDINGS / name).read_text())


class BinanceUsServer:
    """Binance.US's public REST API from recordings; `ticker_failures` first answers 503."""

    def __init__(self, *, ticker_failures: int = 0):
        self.ticker_failures = ticker_failures
        self.requests: list[str] = []
        self.ticker_pages = [recording("binanceus_ticker_24hr.json"), recording("binanceus_ticker_24hr_later.json")]

    async def exchange_info(self, request):
        self.requests.append(request.path)
        return web.json_response(recording("binanceus_exchange_info.json"))

    async def ticker_24hr(self, request):
        self.requests.append(request.path)
        if self.ticker_failures:
            self.ticker_failures -= 1
            return web.Response(status=503, text="Service Unavailable")
        page = self.ticker_pages[0] if len(self.ticker_pages) == 1 else self.ticker_pages.pop(0)
        return web.json_response(page)

    async def klines(self, request):
        self.requests.append(f"{request.path}?{request.query_string}")
        return web.json_response(recording("binanceus_klines_btcusd_1h.json"))


@pytest.fixture
async def binanceus(settings):
    """Start a recorded Binance.US; settings point ccxt at it (polling, USD then USDT)."""
    servers = []

    async def start(**options) -> BinanceUsServer:
        server = BinanceUsServer(**options)
        app = web.Application()
        app.router.add_get("/api/v3/exchangeInfo", server.exchange_info)
        app.router.add_get("/api/v3/ticker/24hr", server.ticker_24hr)
        app.router.add_get("/api/v3/klines", server.klines)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        servers.append(runner)
        host, port = runner.addresses[0][:2]
        settings.CCXT_API_URLS = {"public": f"http://{host}:{port}/api/v3"}
        return server

    settings.CCXT_STREAMING = False
    settings.CCXT_USD_QUOTE_CURRENCIES = ["USD", "USDT"]
    settings.CCXT_POLL_SECONDS = 0.01
    yield start
    for runner in servers:
        await runner.cleanup()


async def collect(feed, symbols: list[str], batches: int) -> list[list]:
    collected = []
    stream = feed.stream(symbols)
    try:
        async with asyncio.timeout(20):
            async for batch in stream:
                collected.append(batch)
                if len(collected) == batches:
                    break
    finally:
        await stream.aclose()
    return collected


MARKETS = {
    "BTC/USD": {"spot": True, "active": True},
    "BTC/USDT": {"spot": True, "active": True},
    "ETH/USDT": {"spot": True, "active": True},
    "XTZ/USD": {"spot": True, "active": False},
    "LTC/BTC": {"spot": True, "active": True},
}


def test_usd_maps_to_the_first_listed_quote_currency_in_order_of_preference():
    assert exchange_symbol_for("BTC/USD", MARKETS, ["USD", "USDT"]) == "BTC/USD"
    assert exchange_symbol_for("BTC/USD", MARKETS, ["USDT", "USD"]) == "BTC/USDT"
    assert exchange_symbol_for("ETH/USD", MARKETS, ["USD", "USDT"]) == "ETH/USDT"
    assert exchange_symbol_for("ETH/USD", MARKETS, ["USD"]) is None  # USDT only when configured
    assert exchange_symbol_for("XTZ/USD", MARKETS, ["USD"]) is None  # inactive market
    assert exchange_symbol_for("LTC/BTC", MARKETS, ["USD"]) == "LTC/BTC"


def test_symbol_map_reports_unlisted_symbols_and_maps_back():
    symbol_map = SymbolMap.build(["BTC/USD", "ETH/USD", "FOO/USD"], MARKETS, ["USD", "USDT"])

    assert symbol_map.to_exchange == {"BTC/USD": "BTC/USD", "ETH/USD": "ETH/USDT"}
    assert symbol_map.to_speedtrade == {"BTC/USD": "BTC/USD", "ETH/USDT": "ETH/USD"}
    assert symbol_map.unlisted == ["FOO/USD"]


async def test_polled_tickers_become_decimal_quotes_under_speedtrade_symbols(binanceus, settings):
    server = await binanceus()
    feed = build_feed(settings, "binanceus")
    assert not feed.watches_tickers  # CCXT_STREAMING off: the polling fallback

    first, second = await collect(feed, ["BTC/USD", "ETH/USD", "DOGE/USD", "XTZ/USD"], 2)

    by_symbol = {quote.symbol: quote for quote in first}
    assert set(by_symbol) == {"BTC/USD", "ETH/USD", "DOGE/USD"}  # XTZUSD is halted (status BREAK)
    btc = by_symbol["BTC/USD"]
    assert (btc.bid, btc.ask, btc.bid_size, btc.ask_size, btc.last) == (
        Decimal("66120.1"),
        Decimal("66131.95"),
        Decimal("0.215"),
        Decimal("0.5439"),
        Decimal("66123.45"),
    )
    assert btc.timestamp == datetime(2024, 3, 6, 15, 0, 0, 456000, tzinfo=UTC)
    assert by_symbol["ETH/USD"].last == Decimal("3812.55")  # from ETHUSDT
    assert by_symbol["DOGE/USD"].bid == Decimal("0.165201")
    # The next poll sends only what changed.
    assert [(quote.symbol, quote.last) for quote in second] == [("BTC/USD", Decimal("66150"))]
    assert server.requests[0] == "/api/v3/exchangeInfo"


async def test_a_network_failure_is_retried_with_backoff_and_logged_as_a_gap(binanceus, settings, caplog):
    server = await binanceus(ticker_failures=1)
    feed = build_feed(settings, "binanceus")

    with caplog.at_level(logging.WARNING, logger="marketdata.feeds.ccxt_feed"):
        (batch,) = await collect(feed, ["BTC/USD"], 1)

    assert [quote.symbol for quote in batch] == ["BTC/USD"]
    assert server.requests.count("/api/v3/ticker/24hr") == 2
    messages = [record.getMessage() for record in caplog.records]
    assert any("network error (ExchangeNotAvailable)" in message for message in messages)
    assert any("gap in data since start" in message for message in messages)


async def test_backfill_reads_ohlcv_as_decimal_bar_records(binanceus, settings):
    server = await binanceus()
    feed = build_feed(settings, "binanceus")

    try:
        bars = await feed.bars("BTC/USD", timeframe=Timeframe.HOUR, start=datetime(2024, 3, 6, 14, tzinfo=UTC))
    finally:
        await feed.close()

    assert "symbol=BTCUSD" in server.requests[-1] and "interval=1h" in server.requests[-1]
    assert bars == [
        BarRecord(
            timestamp=datetime(2024, 3, 6, 14, tzinfo=UTC),
            open=Decimal("66010.12"),
            high=Decimal("66250"),
            low=Decimal("65980.5"),
            close=Decimal("66123.45"),
            volume=Decimal("3.4187"),
        ),
        BarRecord(
            timestamp=datetime(2024, 3, 6, 15, tzinfo=UTC),
            open=Decimal("66123.45"),
            high=Decimal("66200"),
            low=Decimal("66100.01"),
            close=Decimal("66150"),
            volume=Decimal("0.874"),
        ),
    ]
