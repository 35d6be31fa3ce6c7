"""The Alpaca adapter against alpaca-py itself, offline.

Streams: alpaca-py's StockDataStream/CryptoDataStream connect (via url_override) to a
local websocket server that speaks Alpaca's data-stream protocol the way alpaca-py
expects it: msgpack frames, "connected" greeting, auth, subscribe, then the recorded
`q`/`t` messages. Historical bars: alpaca-py's HTTP client is answered at the
transport by requests-mock with recorded responses in Alpaca's JSON format.
"""

import asyncio
import json
import logging
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import msgpack
import pytest
from django.core.exceptions import ImproperlyConfigured
from websockets.asyncio.server import serve

from marketdata.feeds.alpaca import AlpacaFeed, build_feed
from marketdata.feeds.base import BarRecord
from marketdata.models import Timeframe

RECORDINGS = Path(__file__).parent / "recordings"
API_KEY, SECRET_KEY = "PKTEST1234", "secret-never-logged"
DATA_URL = "https://data.alpaca.test"


def recording(name: str):
    return json.loads((RECORDINGS / name).read_text())


def as_msgpack(messages: list[dict]) -> bytes:
    """Alpaca's msgpack encoding: the same maps as its JSON, timestamps as msgpack Timestamps."""
    encoded = []
    for message in messages:
        message = dict(message)
        if "t" in message:
            message["t"] = msgpack.Timestamp.from_datetime(datetime.fromisoformat(message["t"]))
        encoded.append(message)
    return msgpack.packb(encoded)


class AlpacaStreamServer:
    """A local Alpaca market-data stream: one recorded message list per endpoint path.

    `drop_after_first_connection` closes the first connection of each path right after
    sending its messages, the way a network drop looks to the client.
    """

    def __init__(self, messages_by_path: dict[str, list[dict]], *, drop_after_first_connection: bool = False):
        self.messages_by_path = messages_by_path
        self.drop_after_first_connection = drop_after_first_connection
        self.subscriptions: list[dict] = []
        self.connections: dict[str, int] = {}

    async def handle(self, websocket):
        path = websocket.request.path
        self.connections[path] = self.connections.get(path, 0) + 1
        await websocket.send(msgpack.packb([{"T": "success", "msg": "connected"}]))
        auth = msgpack.unpackb(await websocket.recv())
        if (auth.get("action"), auth.get("key"), auth.get("secret")) != ("auth", API_KEY, SECRET_KEY):
            await websocket.send(msgpack.packb([{"T": "error", "code": 402, "msg": "auth failed"}]))
            return
        await websocket.send(msgpack.packb([{"T": "success", "msg": "authenticated"}]))
        subscribe = msgpack.unpackb(await websocket.recv())
        self.subscriptions.append({"path": path, **subscribe})
        await websocket.send(
            msgpack.packb(
                [{"T": "subscription", **{key: subscribe.get(key, []) for key in ("trades", "quotes", "bars")}}]
            )
        )
        await websocket.send(as_msgpack(self.messages_by_path[path]))
        if self.drop_after_first_connection and self.connections[path] == 1:
            return  # closing the socket here is the "drop"
        await websocket.wait_closed()


@pytest.fixture
async def stream_server():
    servers = []

    async def start(server: AlpacaStreamServer) -> str:
        running = await serve(server.handle, "127.0.0.1", 0)
        servers.append(running)
        host, port = running.sockets[0].getsockname()[:2]
        return f"ws://{host}:{port}"

    yield start
    for running in servers:
        running.close()
        await running.wait_closed()


async def collect(feed: AlpacaFeed, symbols: list[str], count: int) -> list:
    quotes = []
    stream = feed.stream(symbols)
    try:
        async with asyncio.timeout(20):
            async for batch in stream:
                quotes.extend(batch)
                if len(quotes) >= count:
                    return quotes
    finally:
        await stream.aclose()
    return quotes


async def test_stock_quote_and_trade_become_decimal_quotes(stream_server):
    server = AlpacaStreamServer({"/v2/iex": recording("alpaca_stream_stocks.json")})
    feed = AlpacaFeed(api_key=API_KEY, secret_key=SECRET_KEY, stream_url=await stream_server(server))

    quote, trade = await collect(feed, ["AAPL"], 2)

    assert server.subscriptions[0]["quotes"] == ["AAPL"] and server.subscriptions[0]["trades"] == ["AAPL"]
    assert (quote.symbol, quote.bid, quote.ask, quote.bid_size, quote.ask_size) == (
        "AAPL",
        Decimal("169.11"),
        Decimal("169.14"),
        Decimal("3"),
        Decimal("2"),
    )
    assert quote.last == Decimal("169.125")  # mid until the first trade
    assert quote.last_size == 0
    assert quote.timestamp == datetime(2024, 3, 6, 15, 30, 0, 104512, tzinfo=UTC)
    assert (trade.last, trade.last_size, trade.bid, trade.ask) == (
        Decimal("169.13"),
        Decimal("40"),
        Decimal("169.11"),
        Decimal("169.14"),
    )
    assert trade.timestamp.utcoffset().total_seconds() == 0


async def test_crypto_symbols_use_the_crypto_stream_and_a_trade_before_any_quote_is_held(stream_server):
    server = AlpacaStreamServer(
        {
            "/v2/iex": recording("alpaca_stream_stocks.json"),
            "/v1beta3/crypto/us": recording("alpaca_stream_crypto.json"),
        }
    )
    feed = AlpacaFeed(api_key=API_KEY, secret_key=SECRET_KEY, stream_url=await stream_server(server))

    quotes = await collect(feed, ["AAPL", "BTC/USD"], 4)

    crypto = [quote for quote in quotes if quote.symbol == "BTC/USD"]
    assert {sub["path"]: sub["quotes"] for sub in server.subscriptions} == {
        "/v2/iex": ["AAPL"],
        "/v1beta3/crypto/us": ["BTC/USD"],
    }
    # The first trade came before any quote: it set `last` but produced no tick.
    assert [(quote.last, quote.last_size) for quote in crypto] == [
        (Decimal("66120.1"), Decimal("0")),
        (Decimal("66125.4"), Decimal("0.0123")),
    ]
    assert (crypto[0].bid, crypto[0].ask, crypto[0].ask_size) == (
        Decimal("66118.3"),
        Decimal("66131.95"),
        Decimal("0.5439"),
    )


async def test_a_dropped_stream_reconnects_resubscribes_and_logs_a_gap(stream_server, caplog):
    server = AlpacaStreamServer({"/v2/iex": recording("alpaca_stream_stocks.json")}, drop_after_first_connection=True)
    feed = AlpacaFeed(api_key=API_KEY, secret_key=SECRET_KEY, stream_url=await stream_server(server))

    with caplog.at_level(logging.WARNING, logger="venues.alpaca"):
        quotes = await collect(feed, ["AAPL"], 4)

    assert server.connections["/v2/iex"] == 2
    assert [sub["quotes"] for sub in server.subscriptions] == [["AAPL"], ["AAPL"]]
    # The book survives the reconnect: after it, `last` is the trade seen before the drop.
    assert [quote.last for quote in quotes] == [Decimal("169.125")] + [Decimal("169.13")] * 3
    gap_logs = [record.getMessage() for record in caplog.records if "gap" in record.getMessage()]
    assert len(gap_logs) == 1 and "stream reconnected" in gap_logs[0]
    assert SECRET_KEY not in caplog.text


async def test_historical_stock_bars_follow_pages_and_are_decimal(requests_mock):
    first = requests_mock.get(f"{DATA_URL}/v2/stocks/bars", json=recording("alpaca_stock_bars_aapl_1day_page1.json"))
    feed = AlpacaFeed(api_key=API_KEY, secret_key=SECRET_KEY, data_url=DATA_URL)
    first_page = recording("alpaca_stock_bars_aapl_1day_page1.json")
    requests_mock.get(
        f"{DATA_URL}/v2/stocks/bars?page_token={first_page['next_page_token']}",
        json=recording("alpaca_stock_bars_aapl_1day_page2.json"),
    )

    bars = await feed.bars("AAPL", timeframe=Timeframe.DAY, start=datetime(2024, 3, 4, tzinfo=UTC))

    assert first.call_count == 1
    query = requests_mock.request_history[0].qs
    assert query["symbols"] == ["aapl"] and query["timeframe"] == ["1day"] and query["feed"] == ["iex"]
    assert requests_mock.request_history[0].headers["APCA-API-KEY-ID"] == API_KEY
    assert [bar.timestamp for bar in bars] == [
        datetime(2024, 3, 4, 5, tzinfo=UTC),
        datetime(2024, 3, 5, 5, tzinfo=UTC),
        datetime(2024, 3, 6, 5, tzinfo=UTC),
    ]
    assert bars[0] == BarRecord(
        timestamp=datetime(2024, 3, 4, 5, tzinfo=UTC),
        open=Decimal("176.15"),
        high=Decimal("176.9"),
        low=Decimal("173.79"),
        close=Decimal("175.1"),
        volume=Decimal("81510101"),
        trade_count=1032767,
        vwap=Decimal("175.195381"),
    )


async def test_historical_crypto_bars_use_the_crypto_endpoint(requests_mock):
    requests_mock.get(f"{DATA_URL}/v1beta3/crypto/us/bars", json=recording("alpaca_crypto_bars_btcusd_1hour.json"))
    feed = AlpacaFeed(api_key=API_KEY, secret_key=SECRET_KEY, data_url=DATA_URL)

    bars = await feed.bars("BTC/USD", timeframe=Timeframe.HOUR, start=datetime(2024, 3, 4, 14, tzinfo=UTC), limit=2)

    assert requests_mock.request_history[0].qs["timeframe"] == ["1hour"]
    assert [(bar.low, bar.volume, bar.vwap) for bar in bars] == [
        (Decimal("64301.002"), Decimal("1.894236612"), Decimal("64603.3148527716")),
        (Decimal("64620.1"), Decimal("2.00105"), Decimal("64872.9012")),
    ]


def test_build_feed_names_the_missing_key(settings):
    settings.ALPACA_API_KEY = "PKTEST1234"
    settings.ALPACA_SECRET_KEY = ""

    with pytest.raises(ImproperlyConfigured, match="ALPACA_SECRET_KEY"):
        build_feed(settings)


def test_build_feed_reads_the_overrides_and_never_shows_the_secret(settings):
    settings.ALPACA_API_KEY, settings.ALPACA_SECRET_KEY = API_KEY, SECRET_KEY
    settings.ALPACA_DATA_STREAM_URL = "wss://proxy.example/"
    settings.ALPACA_DATA_URL = DATA_URL
    settings.ALPACA_DATA_FEED = "sip"

    feed = build_feed(settings)

    assert (feed.stream_url, feed.data_url, feed.stock_feed.value) == ("wss://proxy.example", DATA_URL, "sip")
    assert SECRET_KEY not in repr(feed)
