"""Fixtures for driving SpeedTrade with the real alpaca-py: credentials and market data."""

import asyncio
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import uvicorn
from django.db import connections
from rest_framework.test import APIClient

from marketdata.feeds.runner import FeedRunner
from marketdata.feeds.simulated import SimulatedAsset, SimulatedFeed, SimulatedMarket
from marketdata.models import Bar, Timeframe
from marketdata.quotes import Quote, store_quotes
from marketdata.selectors import today_start
from marketdata.tests.factories import AssetFactory, CryptoAssetFactory
from speedtrade.tests.test_app_tokens import app_login

D = Decimal
# A fixed minute in the past, so bars and quotes are independent of when the test runs.
MINUTE_ZERO = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
SERVER_PORTS = range(8171, 8180)  # this worktree's port range is 8170-8179


def free_port() -> int:
    """The first port of the range nothing listens on (a previous test's server may still be closing)."""
    for port in SERVER_PORTS:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"No free port in {SERVER_PORTS}.")


@pytest.fixture
def alice_token(alice):
    """Alice's JWT access token: what `oauth_token=` sends as `Authorization: Bearer`."""
    return app_login(APIClient(), alice)["access_token"]


def make_bars(asset, timeframe, start, closes, step):
    return [
        Bar.objects.create(
            asset=asset,
            timeframe=timeframe,
            timestamp=start + index * step,
            open=D(close),
            high=D(close) + 1,
            low=D(close) - 1,
            close=D(close),
            volume=D(100 + index),
            trade_count=3,
            vwap=D(close),
        )
        for index, close in enumerate(closes)
    ]


def make_quote(symbol, bid, ask, last, last_size="5", at=None):
    return Quote(
        symbol=symbol,
        bid=D(bid),
        ask=D(ask),
        bid_size=D(3),
        ask_size=D(4),
        last=D(last),
        last_size=D(last_size),
        timestamp=at or datetime.now(UTC),
    )


@pytest.fixture
def market(transactional_db):
    """AAPL, F and BTC/USD with 1-minute bars, daily bars and a latest quote each."""
    aapl = AssetFactory(symbol="AAPL", name="Apple Inc.", exchange="NASDAQ", reference_price=D("228.50"))
    ford = AssetFactory(symbol="F", name="Ford Motor Company", reference_price=D("10.52"))
    btc = CryptoAssetFactory()
    minute = timedelta(minutes=1)
    make_bars(aapl, Timeframe.MINUTE, MINUTE_ZERO, ["228.10", "228.20", "228.30", "228.40", "228.50"], minute)
    make_bars(ford, Timeframe.MINUTE, MINUTE_ZERO, ["10.50", "10.60", "10.70"], minute)
    make_bars(btc, Timeframe.MINUTE, MINUTE_ZERO, ["65000", "65010"], minute)
    today = today_start()
    make_bars(aapl, Timeframe.DAY, today - timedelta(days=1), ["227.00", "228.50"], timedelta(days=1))
    store_quotes(
        [
            make_quote("AAPL", "228.49", "228.51", "228.50"),
            make_quote("F", "10.69", "10.71", "10.70", last_size="0"),
            make_quote("BTC/USD", "64990", "65010", "65000", last_size="0.0125"),
        ]
    )
    return {"AAPL": aapl, "F": ford, "BTC/USD": btc}


@pytest.fixture
def asgi_server(transactional_db):
    """SpeedTrade's ASGI app (HTTP and WebSockets) served by uvicorn in a thread, as `manage.py serve` does.

    Its database is the test database; its channel layer the test Redis. Yields the base URL.
    The server's threads close their database connections after each request (CONN_MAX_AGE 0),
    so none is left open on the test database when the run drops it.
    """
    database = connections["default"].settings_dict  # the dict every thread's connection is made from
    conn_max_age, database["CONN_MAX_AGE"] = database["CONN_MAX_AGE"], 0
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            "speedtrade.asgi:application",
            host="127.0.0.1",
            port=port,
            lifespan="off",
            log_level="warning",
            timeout_graceful_shutdown=5,
        )
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)
    database["CONN_MAX_AGE"] = conn_max_age


def ws_url(base_url: str, path: str) -> str:
    return base_url.replace("http://", "ws://") + path


class FeedThread:
    """A market-data feed run by the real FeedRunner (store, publish, bars) in its own thread and loop."""

    def __init__(self, feed, symbols):
        self.runner = FeedRunner(feed, symbols)
        self.loop = asyncio.new_event_loop()
        self.stop_event = None
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._run(),), daemon=True)

    async def _run(self):
        self.stop_event = asyncio.Event()
        await self.runner.run(self.stop_event)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        while self.stop_event is None:
            time.sleep(0.01)
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(timeout=10)
        self.loop.close()


class SessionClockFeed(SimulatedFeed):
    """The simulated feed on a clock that starts inside a regular session, so equities tick at any hour.

    `clock_speed` market seconds pass per real second (a fast clock ends minutes quickly).
    """

    def __init__(self, assets, *, session_time: datetime, clock_speed: float = 1.0, **kwargs):
        super().__init__(assets, **kwargs)
        self.session_time = session_time
        self.clock_speed = clock_speed

    async def stream(self, symbols):
        market = SimulatedMarket(
            (asset for asset in self.assets if asset.symbol in symbols),
            seed=self.seed,
            ticks_per_second=self.ticks_per_second,
        )
        at = self.session_time
        while True:
            at += self.batch_interval * self.clock_speed
            quotes = market.tick(at, self.batch_interval)
            if quotes:
                yield quotes
            await asyncio.sleep(self.batch_interval.total_seconds())


def simulated_assets(assets):
    return [SimulatedAsset.from_asset(asset, asset.reference_price) for asset in assets]


@pytest.fixture
def alice_key(alice):
    """A trading-scope API key pair of Alice's: (key_id, secret)."""
    from accounts.services import api_key_create

    key, secret = api_key_create(user=alice, label="bot")
    return key.key_id, secret


@pytest.fixture(autouse=True)
def _serialized_rollback(django_db_serialized_rollback):
    """Transactional tests here restore the serialized database afterwards, as the project's others do.

    Their flush would otherwise re-create content types, which the next `serialized_rollback`
    test (e.g. marketdata's WebSocket tests) then fails to load twice.
    """
