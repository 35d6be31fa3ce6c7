"""A ccxt venue's pushed order updates (ccxt.pro `watch_orders`) into our books, offline, with ccxt.pro's own code.

Binance.US the way the installed ccxt.pro reaches it: orders over the REST API, executions
over the WebSocket API's user data stream (`userDataStream.subscribe.signature`, signed
like a REST request), as `executionReport` events recorded in Binance's documented shape
(recordings/binanceus_execution_reports.json). The socket tests run `run_streams` — what
`run_broker_streams` runs — against a local aiohttp server playing both APIs; the others put
the recorded frames through ccxt.pro's own message handling and apply the orders it makes
of them, one report at a time.
"""

import asyncio
import contextlib
import copy
import hashlib
import hmac
import json
import logging
from decimal import Decimal

import ccxt.pro
import pytest
from aiohttp import web
from channels.db import database_sync_to_async

from accounts.tests.factories import UserFactory, approved_customer
from marketdata.tests.test_feeds_ccxt import RECORDINGS as MARKETDATA_RECORDINGS
from portfolios.models import LedgerAccount, Position
from portfolios.services import deposit_settled_post
from portfolios.tests.factories import AssetFactory
from trading.brokers.base import broker_by_name
from trading.models import Execution, Order, ReconciliationCase
from trading.streams import CcxtOrderUpdates, pushed_order_apply, run_streams
from trading.tasks import reconcile_orders
from trading.tests.test_broker_ccxt import API, VENUE, binanceus, bitcoin, order_answer, place, recording  # noqa: F401

API_KEY, SECRET = "binance-key", "binance-secret-never-logged"
BOOKED = [  # the order's three trades, each at its own price and fee, under its running total
    (f"{VENUE}:2818834:0.001", Decimal("0.001"), Decimal("59990"), Decimal("0.06")),
    (f"{VENUE}:2818834:0.004", Decimal("0.003"), Decimal("59996.66666667"), Decimal("0.18")),
    (f"{VENUE}:2818834:0.01", Decimal("0.006"), Decimal("60000"), Decimal("0.36")),
]
# Cash left: 1000 − 59.99 − 180.00 (0.003 × 59996.66666667 = 179.99000000001, a buy rounds up) − 360.00 − fees 0.60.
CASH_LEFT = Decimal("399.41")


def reports(order: Order, *names: str) -> list[dict]:
    """Recorded executionReports, ours carrying our order's id as client order id."""
    recorded = recording("binanceus_execution_reports.json", client_order_id=str(order.id))
    return [recorded[name] for name in names]


def frame(event: dict, subscription_id: int = 0) -> dict:
    """A user data stream event as the WebSocket API sends it."""
    return {"subscriptionId": subscription_id, "event": event}


def books(order_id) -> tuple[list, Decimal, Decimal, Decimal]:
    """The order's executions, the account's BTC position and its cash (balance, reserved)."""
    order = Order.objects.get(pk=order_id)
    executions = list(
        Execution.objects.filter(order=order)
        .order_by("executed_at")
        .values_list("broker_exec_id", "qty", "price", "fee")
    )
    position = Position.objects.filter(account=order.account, asset=order.asset).first()
    cash = LedgerAccount.objects.get(account=order.account, kind=LedgerAccount.Kind.CASH)
    return executions, position.qty if position else Decimal(0), cash.balance, cash.reserved


# --- ccxt.pro's parsing, one report at a time ---------------------------------------------
def as_ccxt_pro_sees_them(events: list[dict]) -> list[dict]:
    """Each event through ccxt.pro binanceus's message handling; after each, the unified order it holds."""

    async def handle() -> list[dict]:
        exchange = ccxt.pro.binanceus()
        exchange.set_markets(broker_by_name(VENUE).exchange.load_markets())
        client = exchange.client("wss://ws-api.binance.us/ws-api/v3")
        seen = []
        try:
            for event in events:
                exchange.handle_message(client, frame(event))
                seen.append(copy.deepcopy(next(o for o in exchange.orders if o["id"] == str(event["i"]))))
        finally:
            await exchange.close()
        return seen

    return asyncio.run(handle())


@pytest.mark.django_db
def test_duplicate_and_out_of_order_reports_book_nothing_twice(binanceus, alice_account, bitcoin):  # noqa: F811
    binanceus.post(f"{API}/order", json=order_answer("binanceus_order_new.json"))
    order = place(alice_account)
    # Asked for the order's trades, the exchange lists both that have happened by then.
    binanceus.get(f"{API}/myTrades", json=recording("binanceus_my_trades.json"))
    pushed = as_ccxt_pro_sees_them(reports(order, "new", "trade_2", "trade_1", "trade_2", "trade_3", "trade_3"))

    booked = [pushed_order_apply(VENUE, update) for update in pushed]

    # trade_2 is the first trade the socket shows: the exchange's trade list fills in trade_1.
    assert booked == [0, 2, 0, 0, 1, 0]
    assert books(order.id) == (BOOKED, Decimal("0.01"), CASH_LEFT, Decimal("0"))
    order.refresh_from_db()
    assert order.status == "filled" and order.filled_avg_price == Decimal("59998.000000001")


@pytest.mark.django_db
def test_a_report_for_an_order_that_is_not_ours_changes_nothing(binanceus, alice_account, bitcoin, caplog):  # noqa: F811
    binanceus.post(f"{API}/order", json=order_answer("binanceus_order_new.json"))
    order = place(alice_account)
    before = books(order.id)
    pushed = as_ccxt_pro_sees_them(reports(order, "not_ours_new", "not_ours_filled"))

    with caplog.at_level(logging.WARNING, logger="trading.streams"):
        assert [pushed_order_apply(VENUE, update) for update in pushed] == [0, 0]

    assert books(order.id) == before and Order.objects.count() == 1
    assert not ReconciliationCase.objects.exists()  # reconciliation decides about orders only at the venue
    assert "'web_6f3a1c0d8e2b4f57') is not ours; left to reconciliation" in caplog.text


def test_exchanges_that_push_no_order_updates_are_polled(settings):
    assert CcxtOrderUpdates("ccxt:binanceus").pushes == "orders"  # watch_orders
    assert CcxtOrderUpdates("ccxt:bitopro").pushes == "trades"  # watch_my_trades: the trade's order is polled
    assert CcxtOrderUpdates("ccxt:bitbns").pushes is None  # no ccxt.pro class: BROKER_STREAMS_POLL_SECONDS


# --- the socket: run_streams against a local Binance.US ------------------------------------
def signed(params: dict) -> bool:
    """Binance's signature: HMAC-SHA256 with the secret over the other parameters, sorted, as a query string."""
    payload = "&".join(f"{key}={params[key]}" for key in sorted(params) if key != "signature")
    expected = hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return params.get("apiKey") == API_KEY and hmac.compare_digest(expected, str(params.get("signature")))


class BinanceUs:
    """Binance.US's REST API and WebSocket API user data stream, from recordings, on one local server.

    REST answers with the recorded order (`rest_order`) and trades (`rest_trades`); the test
    pushes executionReports on the latest subscribed socket and can drop it while the
    exchange goes on filling.
    """

    def __init__(self) -> None:
        self.client_order_id = ""
        self.rest_order = "binanceus_order_new.json"
        self.rest_trades: list[dict] = []
        self.requests: list[str] = []
        self.subscriptions: list[dict] = []
        self.sockets: list[web.WebSocketResponse] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/v3/exchangeInfo", self.exchange_info)
        app.router.add_route("*", "/api/v3/order", self.order)
        app.router.add_get("/api/v3/myTrades", self.my_trades)
        app.router.add_get("/api/v3/openOrders", self.open_orders)
        app.router.add_get("/ws-api/v3", self.websocket_api)
        return app

    async def exchange_info(self, request):
        return web.json_response(json.loads((MARKETDATA_RECORDINGS / "binanceus_exchange_info.json").read_text()))

    async def order(self, request):
        self.requests.append(f"{request.method} {request.path}")
        if request.method == "POST":
            self.client_order_id = (await request.post())["newClientOrderId"]
            return web.json_response(recording("binanceus_order_new.json", client_order_id=self.client_order_id))
        return web.json_response(recording(self.rest_order, client_order_id=request.query["origClientOrderId"]))

    async def my_trades(self, request):
        self.requests.append(f"{request.method} {request.path}")
        return web.json_response(self.rest_trades)

    async def open_orders(self, request):
        order = recording(self.rest_order, client_order_id=self.client_order_id)
        return web.json_response([order] if order["status"] in ("NEW", "PARTIALLY_FILLED") else [])

    async def websocket_api(self, request):
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        subscribe = await socket.receive_json()
        if subscribe["method"] != "userDataStream.subscribe.signature" or not signed(subscribe["params"]):
            error = {"code": -1022, "msg": "Signature for this request is not valid."}
            await socket.send_json({"id": subscribe["id"], "status": 400, "error": error})
            await socket.close()
            return socket
        self.subscriptions.append(subscribe["params"])
        result = {"subscriptionId": len(self.sockets)}
        rate_limits = [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000}]
        await socket.send_json({"id": subscribe["id"], "status": 200, "result": result, "rateLimits": rate_limits})
        self.sockets.append(socket)
        async for _ in socket:  # until either side closes it
            pass
        return socket

    async def push(self, events: list[dict]) -> None:
        for event in events:
            await self.sockets[-1].send_json(frame(event, len(self.sockets) - 1))

    async def drop(self, *, rest_order: str, rest_trades: list[dict]) -> None:
        """The socket fails while the exchange goes on filling: only the REST API knows."""
        self.rest_order, self.rest_trades = rest_order, rest_trades
        await self.sockets[-1].close()


@pytest.fixture
async def binanceus_server(settings):
    server = BinanceUs()
    runner = web.AppRunner(server.app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    rest, ws = f"http://{host}:{port}/api/v3", f"ws://{host}:{port}"
    settings.BROKER_CRYPTO = VENUE
    settings.CCXT_API_KEY, settings.CCXT_SECRET = API_KEY, SECRET
    settings.CCXT_USD_QUOTE_CURRENCIES = ["USD", "USDT"]
    settings.CCXT_API_URLS = {
        "public": rest,
        "private": rest,
        "v3": rest,
        "ws": {"spot": f"{ws}/ws", "ws-api": {"spot": f"{ws}/ws-api/v3"}},
    }
    settings.BROKER_STREAMS_SAFETY_POLL_SECONDS = 3600  # here only a reconnect makes it poll again
    yield server
    await runner.cleanup()


@database_sync_to_async
def order_at_binanceus() -> Order:
    account = approved_customer(UserFactory(email="erin@example.com"))
    deposit_settled_post(account=account, amount=Decimal("1000.00"))
    AssetFactory(crypto=True, reference_price=Decimal("60000.00"))
    order = place(account)
    assert order.status == "accepted" and order.broker_order_id == "2818834"
    return order


async def until(condition) -> None:
    async with asyncio.timeout(30):
        while not await condition():
            await asyncio.sleep(0.05)


def filled(order_id, qty: str):
    async def condition() -> bool:
        order = await database_sync_to_async(Order.objects.get)(pk=order_id)
        return order.filled_qty == Decimal(qty)

    return condition


async def push_until(server: BinanceUs, events: list[dict], condition) -> None:
    """Push until our books show the reports: a report that lands before ccxt.pro watches waits
    in its cache for the next one, and a repeated report books nothing."""
    async with asyncio.timeout(30):
        while not await condition():
            await server.push(events)
            await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def streams_running():
    """`run_streams` for the venue, as `run_broker_streams` runs it; stopped on the way out as SIGTERM stops it."""
    stop = asyncio.Event()
    streams = asyncio.create_task(run_streams({VENUE}, stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(streams, 15)


async def subscribed(server: BinanceUs, count: int) -> None:
    async def condition() -> bool:
        return len(server.sockets) >= count

    await until(condition)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_pushed_reports_book_each_fill_as_it_happens_and_sigterm_closes_the_socket(binanceus_server):
    server = binanceus_server
    order = await order_at_binanceus()
    new, trade_1, trade_2, trade_3, *not_ours = reports(
        order, "new", "trade_1", "trade_2", "trade_3", "not_ours_new", "not_ours_filled"
    )
    async with streams_running():
        await subscribed(server, 1)
        await push_until(server, [new, *not_ours, trade_1], filled(order.id, "0.001"))
        await push_until(server, [trade_2], filled(order.id, "0.004"))
        await push_until(server, [trade_3], filled(order.id, "0.01"))

    assert await database_sync_to_async(books)(order.id) == (BOOKED, Decimal("0.01"), CASH_LEFT, 0)
    assert "GET /api/v3/myTrades" not in server.requests  # every trade came with its report
    assert server.subscriptions[0]["apiKey"] == API_KEY and len(server.sockets) == 1

    async def socket_closed() -> bool:
        return server.sockets[0].closed

    await until(socket_closed)  # the exchange was closed on the way out


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_the_socket_dropping_mid_fill_is_caught_up_by_the_poll_and_reconciliation(binanceus_server):
    server = binanceus_server
    order = await order_at_binanceus()
    new, trade_1 = reports(order, "new", "trade_1")
    async with streams_running():
        await subscribed(server, 1)
        await push_until(server, [new, trade_1], filled(order.id, "0.001"))

        await server.drop(
            rest_order="binanceus_order_filled.json", rest_trades=recording("binanceus_my_trades_filled.json")
        )
        await until(filled(order.id, "0.01"))  # the poll right after the reconnect
        await subscribed(server, 2)
        await database_sync_to_async(reconcile_orders)()

    assert await database_sync_to_async(books)(order.id) == (BOOKED, Decimal("0.01"), CASH_LEFT, 0)
    refreshed = await database_sync_to_async(Order.objects.get)(pk=order.id)
    assert refreshed.status == "filled"
    assert not await database_sync_to_async(ReconciliationCase.objects.exists)()
