"""Alpaca trade updates into our books: alpaca-py's TradeUpdate parsing and TradingStream run for real.

The recorded messages (recordings/alpaca_trade_updates.json) are Alpaca's trade_updates
frames; the stream test serves them from a local websocket server that speaks Alpaca's
trading-stream protocol (authenticate → authorized, listen → listening, then updates).
"""

import asyncio
import json
from decimal import Decimal

import pytest
from alpaca.trading.models import TradeUpdate
from channels.db import database_sync_to_async
from django.test import TestCase

from accounts.tests.factories import UserFactory, approved_customer
from marketdata.tests.test_feeds_alpaca import stream_server  # noqa: F401  (the local websocket server fixture)
from portfolios.models import LedgerAccount, Position
from portfolios.services import deposit_settled_post
from portfolios.tests.factories import AssetFactory
from trading import services
from trading.models import Execution, Order
from trading.risk import OrderRequest
from trading.streams import run_streams, trade_update_apply
from trading.tests.test_broker_alpaca import ALPACA_ID, ORDERS, recording
from venues.alpaca import TradeUpdateReport, trade_update_report

API_KEY, SECRET_KEY = "PKTEST1234", "secret-never-logged"


def frames(order_id: str) -> dict[str, dict]:
    """The recorded trade_updates frames for our order, by event."""
    orders = {
        name: json.dumps(recording(f"alpaca_order_{name}.json", client_order_id=order_id))
        for name in ("accepted", "partially_filled", "filled")
    }
    text = (recording.__globals__["RECORDINGS"] / "alpaca_trade_updates.json").read_text()
    for name, body in orders.items():
        text = text.replace(f'"{{{name}}}"', body)
    return {frame["data"]["event"]: frame for frame in json.loads(text)}


def update(frame: dict) -> TradeUpdateReport:
    """A recorded frame as alpaca-py reads it, then as the stream hands it on."""
    return trade_update_report(TradeUpdate(**frame["data"]))


def place_via_alpaca(account, requests_mock, symbol="ACME") -> Order:
    requests_mock.post(
        ORDERS,
        json=lambda request, context: recording(
            "alpaca_order_accepted.json", client_order_id=request.json()["client_order_id"]
        ),
    )
    request = OrderRequest(
        symbol=symbol,
        side="buy",
        type="limit",
        time_in_force="gtc" if "/" in symbol else "day",
        qty=Decimal("4"),
        limit_price=Decimal("10.00"),
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        order, _ = services.order_place(account=account, request=request)
    order.refresh_from_db()
    assert order.status == "accepted"
    return order


@pytest.fixture
def alpaca_venue(settings, requests_mock):
    settings.ALPACA_API_KEY, settings.ALPACA_SECRET_KEY = API_KEY, SECRET_KEY
    settings.ALPACA_BASE_URL = "https://alpaca.test"
    settings.BROKER_US_EQUITY = settings.BROKER_CRYPTO = "alpaca"
    return requests_mock


@pytest.mark.django_db
def test_fills_in_order_become_executions_at_their_own_prices(alpaca_venue, alice_account, acme, market_open):
    order = place_via_alpaca(alice_account, alpaca_venue)
    recorded = frames(str(order.id))
    for event in ("new", "partial_fill", "fill"):
        trade_update_apply(update(recorded[event]))
    order.refresh_from_db()
    assert order.status == "filled" and order.filled_avg_price == Decimal("9.925")
    assert list(Execution.objects.order_by("qty").values_list("broker_exec_id", "qty", "price")) == [
        (f"alpaca:{ALPACA_ID}:4", Decimal("1"), Decimal("10.000000000")),
        (f"alpaca:{ALPACA_ID}:3", Decimal("3"), Decimal("9.900000000")),
    ]


@pytest.mark.django_db
def test_fills_out_of_order_and_twice_are_booked_once(alpaca_venue, alice_account, acme, market_open):
    order = place_via_alpaca(alice_account, alpaca_venue)
    recorded = frames(str(order.id))
    for event in ("fill", "partial_fill", "fill", "partial_fill"):
        trade_update_apply(update(recorded[event]))
    order.refresh_from_db()
    assert order.status == "filled" and order.filled_qty == 4 and order.filled_avg_price == Decimal("9.925")
    assert Execution.objects.count() == 1
    assert Position.objects.get(account=alice_account, asset=acme).qty == 4
    cash = LedgerAccount.objects.get(account=alice_account, kind=LedgerAccount.Kind.CASH)
    assert cash.balance == Decimal("960.30") and cash.reserved == 0


@pytest.mark.django_db
def test_a_fill_racing_a_cancel_is_booked_on_the_canceled_order(alpaca_venue, alice_account, acme, market_open):
    order = place_via_alpaca(alice_account, alpaca_venue)
    recorded = frames(str(order.id))
    canceled = {**recorded["new"], "data": {**recorded["new"]["data"], "event": "canceled"}}
    trade_update_apply(update(canceled))
    trade_update_apply(update(recorded["partial_fill"]))
    order.refresh_from_db()
    assert order.status == "canceled" and order.filled_qty == 3
    assert list(order.events.values_list("event", flat=True))[-2:] == ["canceled", "fill_after_end"]
    assert Position.objects.get(account=alice_account, asset=acme).qty == 3


class AlpacaTradingStreamServer:
    """Alpaca's trading stream: JSON frames; per connection, the frames of one script entry, then a drop."""

    def __init__(self, per_connection: list[list[dict]]):
        self.per_connection = per_connection
        self.connections = 0
        self.listened: list[dict] = []

    async def handle(self, websocket):
        self.connections += 1
        auth = json.loads(await websocket.recv())
        if auth != {"action": "authenticate", "data": {"key_id": API_KEY, "secret_key": SECRET_KEY}}:
            await websocket.send(json.dumps({"stream": "authorization", "data": {"status": "unauthorized"}}))
            return
        await websocket.send(
            json.dumps({"stream": "authorization", "data": {"status": "authorized", "action": "authenticate"}})
        )
        self.listened.append(json.loads(await websocket.recv()))
        await websocket.send(json.dumps({"stream": "listening", "data": {"streams": ["trade_updates"]}}))
        script = self.per_connection[self.connections - 1] if self.connections <= len(self.per_connection) else []
        for frame in script:
            await websocket.send(json.dumps(frame))
        if self.connections < len(self.per_connection):
            return  # the drop: the socket closes mid-fill
        await websocket.wait_closed()


@database_sync_to_async
def crypto_order_at_alpaca(requests_mock) -> Order:
    user = UserFactory(email="dora@example.com")
    account = approved_customer(user)
    deposit_settled_post(account=account, amount=Decimal("1000.00"))
    AssetFactory(crypto=True, reference_price=Decimal("10.00"))
    return place_via_alpaca(account, requests_mock, symbol="BTC/USD")


@database_sync_to_async
def order_now(order_id) -> Order:
    return Order.objects.get(pk=order_id)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_the_stream_reconnects_after_a_drop_mid_fill_and_stops_on_sigterm(alpaca_venue, stream_server, settings):  # noqa: F811
    order = await crypto_order_at_alpaca(alpaca_venue)
    recorded = {
        event: {**frame, "data": {**frame["data"], "order": {**frame["data"]["order"], "symbol": "BTC/USD"}}}
        for event, frame in frames(str(order.id)).items()
    }
    server = AlpacaTradingStreamServer([[recorded["new"], recorded["partial_fill"]], [recorded["fill"]]])
    settings.ALPACA_STREAM_URL = await stream_server(server)
    stop = asyncio.Event()
    streams = asyncio.create_task(run_streams({"alpaca"}, stop))
    async with asyncio.timeout(30):
        while (await order_now(order.id)).status != "filled":
            await asyncio.sleep(0.1)
    stop.set()  # what SIGTERM does in run_broker_streams
    await asyncio.wait_for(streams, 15)
    assert server.connections == 2 and server.listened[0] == {
        "action": "listen",
        "data": {"streams": ["trade_updates"]},
    }
    filled = await order_now(order.id)
    assert filled.filled_qty == 4 and filled.filled_avg_price == Decimal("9.925")
