"""The Alpaca streams driven by alpaca-py's TradingStream, StockDataStream and CryptoDataStream.

A real uvicorn serves SpeedTrade in a thread; trade updates and quotes travel through the
real Redis channel layer, exactly as in production.
"""

import threading
import time
from datetime import timedelta
from decimal import Decimal

import msgpack
import orjson
import pytest
import redis
from alpaca.data.live import CryptoDataStream, StockDataStream
from alpaca.data.models import Bar as AlpacaBar
from alpaca.data.models import Quote as AlpacaQuote
from alpaca.data.models import Trade as AlpacaTrade
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.models import TradeUpdate
from alpaca.trading.requests import MarketOrderRequest
from alpaca.trading.stream import TradingStream
from django.conf import settings
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from accounts.tests.factories import approved_customer
from alpaca_compat.tests.conftest import (
    MINUTE_ZERO,
    FeedThread,
    SessionClockFeed,
    simulated_assets,
    ws_url,
)
from marketdata.feeds.simulated import SimulatedFeed
from marketdata.models import Bar, Timeframe
from portfolios.services import deposit_settled_post
from speedtrade.realtime import user_group
from trading.brokers.paper import paper_book_reset

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
WAIT_SECONDS = 30  # an upper bound for "it arrives", never a timing assertion


@pytest.fixture(autouse=True)
def _fresh_paper_book():
    paper_book_reset()
    yield
    paper_book_reset()


def run_in_thread(stream) -> threading.Thread:
    thread = threading.Thread(target=stream.run, daemon=True)
    thread.start()
    return thread


def stop(stream, thread) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while stream._loop is None and time.monotonic() < deadline:  # run() has not started its loop yet
        time.sleep(0.01)
    stream.stop()
    thread.join(timeout=WAIT_SECONDS)


def wait_for_trade_updates_listener(user) -> None:
    """Until the server has put the stream's socket in the user's group, i.e. processed `listen`."""
    group_key = f"{settings.CHANNEL_LAYERS['default']['CONFIG']['prefix']}:group:{user_group(user.pk)}"
    client = redis.Redis.from_url(settings.REDIS_URL)
    deadline = time.monotonic() + WAIT_SECONDS
    while not client.zcard(group_key):
        assert time.monotonic() < deadline, "the trading stream never listened"
        time.sleep(0.02)


def test_trading_stream_receives_the_fill_of_the_order_its_bot_placed(asgi_server, market, alice, alice_key):
    account = approved_customer(alice)
    deposit_settled_post(account=account, amount=Decimal("1000.00"))
    updates, filled = [], threading.Event()

    async def on_update(update):
        updates.append(update)
        if update.event == "fill":
            filled.set()

    stream = TradingStream(*alice_key, url_override=ws_url(asgi_server, "/stream"))
    stream.subscribe_trade_updates(on_update)
    thread = run_in_thread(stream)
    try:
        wait_for_trade_updates_listener(alice)
        trading = TradingClient(*alice_key, url_override=asgi_server)
        order = trading.submit_order(
            MarketOrderRequest(symbol="BTC/USD", qty=0.01, side=OrderSide.BUY, time_in_force=TimeInForce.GTC)
        )
        assert filled.wait(WAIT_SECONDS)
    finally:
        stop(stream, thread)
    assert all(isinstance(update, TradeUpdate) for update in updates)
    assert [update.event for update in updates][0] == "new"
    fill = updates[-1]
    assert fill.order.id == order.id
    assert (fill.order.status, fill.order.symbol, fill.order.filled_qty) == ("filled", "BTC/USD", "0.01")
    assert (fill.price, fill.qty, fill.position_qty) == (65010, 0.01, 0.01)  # bought at the ask
    assert fill.execution_id is not None


def test_crypto_data_stream_receives_live_quotes_and_trades_from_the_simulated_feed(asgi_server, market, alice_key):
    quotes, trades, enough = [], [], threading.Event()

    async def on_quote(quote):
        quotes.append(quote)
        if len(quotes) >= 3 and trades:
            enough.set()

    async def on_trade(trade):
        trades.append(trade)

    stream = CryptoDataStream(*alice_key, url_override=ws_url(asgi_server, "/v1beta3/crypto/us"))
    stream.subscribe_quotes(on_quote, "BTC/USD")
    stream.subscribe_trades(on_trade, "BTC/USD")
    feed = SimulatedFeed(simulated_assets([market["BTC/USD"]]), seed=7, ticks_per_second=40, batch_interval=0.05)
    thread = run_in_thread(stream)
    try:
        with FeedThread(feed, ["BTC/USD"]):
            assert enough.wait(WAIT_SECONDS)
    finally:
        stop(stream, thread)
    assert all(isinstance(quote, AlpacaQuote) and quote.symbol == "BTC/USD" for quote in quotes)
    assert all(0 < quote.bid_price < quote.ask_price for quote in quotes)
    assert all(isinstance(trade, AlpacaTrade) and trade.size > 0 for trade in trades)
    assert quotes[-1].timestamp > quotes[0].timestamp


def test_stock_data_stream_receives_live_quotes(asgi_server, market, alice_key):
    quotes, enough = [], threading.Event()

    async def on_quote(quote):
        quotes.append(quote)
        if len(quotes) >= 3:
            enough.set()

    stream = StockDataStream(*alice_key, url_override=ws_url(asgi_server, "/v2/iex"))
    stream.subscribe_quotes(on_quote, "AAPL")
    # A session minute, so the equity walk ticks whatever the hour of the test run.
    feed = SessionClockFeed(
        simulated_assets([market["AAPL"], market["F"]]),
        session_time=MINUTE_ZERO,
        seed=7,
        ticks_per_second=40,
        batch_interval=0.05,
    )
    thread = run_in_thread(stream)
    try:
        with FeedThread(feed, ["AAPL", "F"]):
            assert enough.wait(WAIT_SECONDS)
    finally:
        stop(stream, thread)
    assert {quote.symbol for quote in quotes} == {"AAPL"}  # F ticks too, but was not subscribed
    assert all(
        quote.bid_exchange == "Q" and quote.tape == "C" and quote.bid_price < quote.ask_price for quote in quotes
    )


def test_stock_data_stream_receives_each_minute_bar_when_its_minute_ends(asgi_server, market, alice_key):
    bars, enough = [], threading.Event()

    async def on_bar(bar):
        bars.append(bar)
        if len(bars) >= 2:
            enough.set()

    stream = StockDataStream(*alice_key, url_override=ws_url(asgi_server, "/v2/iex"))
    stream.subscribe_bars(on_bar, "AAPL")
    # A fast session clock (a market minute every 0.3 s) so minutes end during the test.
    start = MINUTE_ZERO + timedelta(hours=2)
    feed = SessionClockFeed(
        simulated_assets([market["AAPL"]]),
        session_time=start,
        clock_speed=200,
        seed=7,
        ticks_per_second=40,
        batch_interval=0.05,
    )
    thread = run_in_thread(stream)
    try:
        with FeedThread(feed, ["AAPL"]):
            assert enough.wait(WAIT_SECONDS)
    finally:
        stop(stream, thread)
    assert all(isinstance(bar, AlpacaBar) and bar.symbol == "AAPL" for bar in bars)
    minutes = [bar.timestamp for bar in bars]
    assert minutes == sorted(set(minutes)) and all(t.second == 0 and t >= start for t in minutes)
    stored = Bar.objects.get(asset=market["AAPL"], timeframe=Timeframe.MINUTE, timestamp=minutes[0])
    assert (bars[0].open, bars[0].close) == (float(stored.open), float(stored.close))
    assert bars[0].volume == float(stored.volume)


def raw_data_socket(asgi_server, path="/v2/iex", msgpack_frames=True):
    headers = {"Content-Type": "application/msgpack"} if msgpack_frames else {}
    return connect(ws_url(asgi_server, path), additional_headers=headers, open_timeout=WAIT_SECONDS)


def test_bad_keys_on_a_data_stream_get_alpacas_auth_failed_and_the_socket_closes(asgi_server, market, alice_key):
    with raw_data_socket(asgi_server) as socket:
        assert msgpack.unpackb(socket.recv(WAIT_SECONDS)) == [{"T": "success", "msg": "connected"}]
        socket.send(msgpack.packb({"action": "subscribe", "quotes": ["AAPL"]}))
        assert msgpack.unpackb(socket.recv(WAIT_SECONDS)) == [{"T": "error", "code": 401, "msg": "not authenticated"}]
        socket.send(msgpack.packb({"action": "auth", "key": alice_key[0], "secret": "not-the-secret"}))
        assert msgpack.unpackb(socket.recv(WAIT_SECONDS)) == [{"T": "error", "code": 402, "msg": "auth failed"}]
        with pytest.raises(ConnectionClosed):
            socket.recv(WAIT_SECONDS)


def test_data_stream_speaks_json_to_clients_that_do_not_ask_for_msgpack(asgi_server, market, alice_key):
    with raw_data_socket(asgi_server, "/v1beta3/crypto/us", msgpack_frames=False) as socket:
        assert orjson.loads(socket.recv(WAIT_SECONDS)) == [{"T": "success", "msg": "connected"}]
        socket.send(orjson.dumps({"action": "auth", "key": alice_key[0], "secret": alice_key[1]}).decode())
        assert orjson.loads(socket.recv(WAIT_SECONDS)) == [{"T": "success", "msg": "authenticated"}]
        socket.send(
            orjson.dumps(
                {
                    "action": "subscribe",
                    "quotes": ["BTCUSD", "NOPE", "AAPL"],
                    "trades": ["*"],
                    "orderbooks": ["BTC/USD"],
                }
            )
        )
        assert orjson.loads(socket.recv(WAIT_SECONDS)) == [
            {"T": "error", "code": 410, "msg": "invalid subscribe action for this feed"}
        ]
        acknowledgement = orjson.loads(socket.recv(WAIT_SECONDS))[0]
        assert acknowledgement["T"] == "subscription"
        assert (acknowledgement["quotes"], acknowledgement["trades"], acknowledgement["bars"]) == (
            ["BTC/USD"],
            ["BTC/USD"],  # "*": every crypto pair (the test has one)
            [],
        )  # AAPL is not crypto
        socket.send(orjson.dumps({"action": "unsubscribe", "quotes": ["BTC/USD"], "trades": ["*"]}))
        acknowledgement = orjson.loads(socket.recv(WAIT_SECONDS))[0]
        assert (acknowledgement["quotes"], acknowledgement["trades"]) == ([], [])


def test_bad_keys_on_the_trading_stream_are_unauthorized_and_the_socket_closes(asgi_server, alice, alice_key):
    with connect(ws_url(asgi_server, "/stream"), open_timeout=WAIT_SECONDS) as socket:
        socket.send(orjson.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
        assert orjson.loads(socket.recv(WAIT_SECONDS)) == {
            "stream": "authorization",
            "data": {"status": "unauthorized", "action": "listen"},
        }
        socket.send(orjson.dumps({"action": "authenticate", "data": {"key_id": alice_key[0], "secret_key": "wrong"}}))
        reply = socket.recv(WAIT_SECONDS)
        assert isinstance(reply, bytes)  # Alpaca's trading stream uses binary frames
        assert orjson.loads(reply) == {
            "stream": "authorization",
            "data": {"status": "unauthorized", "action": "authenticate"},
        }
        with pytest.raises(ConnectionClosed):
            socket.recv(WAIT_SECONDS)


def test_trading_stream_accepts_an_oauth_token(asgi_server, alice, alice_token):
    with connect(ws_url(asgi_server, "/stream"), open_timeout=WAIT_SECONDS) as socket:
        socket.send(orjson.dumps({"action": "authenticate", "data": {"oauth_token": alice_token}}))
        assert orjson.loads(socket.recv(WAIT_SECONDS))["data"]["status"] == "authorized"
        socket.send(orjson.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
        assert orjson.loads(socket.recv(WAIT_SECONDS)) == {
            "stream": "listening",
            "data": {"streams": ["trade_updates"]},
        }
