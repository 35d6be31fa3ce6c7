"""The owner's `/ws/trades` socket receives trade updates after commit, through the real channel layer (Redis)."""

from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.tests.factories import UserFactory, approved_customer
from portfolios.services import deposit_settled_post
from portfolios.tests.factories import AssetFactory
from speedtrade import realtime
from speedtrade.asgi import application
from trading import engine
from trading.risk import OrderRequest
from trading.serialization import decimal_string
from trading.services import order_place
from trading.tests.conftest import quote

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@database_sync_to_async
def trader_with_cash(email):
    user = UserFactory(email=email)
    account = approved_customer(user)
    deposit_settled_post(account=account, amount=Decimal("100.00"))
    return user, account


@database_sync_to_async
def session_cookie_for(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@database_sync_to_async
def buy_one_bitcoin_cent(account):
    AssetFactory(crypto=True, reference_price=Decimal("50.00"))  # crypto trades around the clock
    quote(symbol="BTC/USD", bid="49.00", ask="50.00", bid_size="10", ask_size="10")
    request = OrderRequest(symbol="BTC/USD", side="buy", type="market", time_in_force="gtc", qty=Decimal("1"))
    order, _ = order_place(account=account, request=request)  # autocommit: submit runs after this commit
    return order


async def listen(user):
    cookie = await session_cookie_for(user)
    headers = [(b"cookie", f"sessionid={cookie}".encode()), (b"origin", b"http://testserver")]
    communicator = WebsocketCommunicator(application, "/ws/trades", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def message_types(communicator) -> list[str]:
    """Types of every message already waiting on the socket (e.g. its greeting)."""
    types = []
    while not await communicator.receive_nothing(timeout=0.3):
        types.append((await communicator.receive_json_from())["type"])
    return types


async def test_a_market_fill_reaches_the_owner_and_nobody_else():
    alice, account = await trader_with_cash("alice@example.com")
    bob, _ = await trader_with_cash("bob@example.com")
    alice_socket, bob_socket = await listen(alice), await listen(bob)

    order = await buy_one_bitcoin_cent(account)

    events = []
    while not events or events[-1]["event"] != "fill":
        message = await alice_socket.receive_json_from(timeout=5)
        if message["type"] == "trade_updates":
            events.append(message)
    assert [m["event"] for m in events] == ["new", "pending_new", "accepted", "fill"]
    fill = events[-1]
    assert fill["order"]["id"] == str(order.id) and fill["order"]["status"] == "filled"
    assert (fill["price"], fill["qty"], fill["position_qty"]) == ("50", "1", "1")
    assert "trade_updates" not in await message_types(bob_socket)
    await alice_socket.disconnect()
    await bob_socket.disconnect()


@database_sync_to_async
def place_without_engine(account, qty: str):
    """Placed and committed where an engine process would take it (so nothing fills yet)."""
    request = OrderRequest(symbol="BTC/USD", side="buy", type="market", time_in_force="gtc", qty=Decimal(qty))
    return order_place(account=account, request=request)[0]


async def trade_events_until_fill(communicator) -> tuple[list[dict], list[dict]]:
    trades, accounts = [], []
    while not trades or trades[-1]["event"] != "fill":
        message = await communicator.receive_json_from(timeout=5)
        if message["type"] == "trade_updates":
            trades.append(message)
        elif message["type"] == "account_updates":
            accounts.append(message)
    return trades, accounts


async def test_an_engine_batch_reaches_each_owner_in_one_send(settings, monkeypatch):
    settings.TRADING_ENGINE_INLINE = False
    alice, alice_account = await trader_with_cash("alice@example.com")
    bob, bob_account = await trader_with_cash("bob@example.com")
    await database_sync_to_async(AssetFactory)(crypto=True, reference_price=Decimal("50.00"))
    await database_sync_to_async(quote)(symbol="BTC/USD", bid="49.00", ask="50.00", bid_size="10", ask_size="10")
    sockets = {alice.pk: await listen(alice), bob.pk: await listen(bob)}
    orders = {
        alice.pk: await place_without_engine(alice_account, "1"),
        bob.pk: await place_without_engine(bob_account, "0.5"),
    }
    sends = []
    real_send = realtime.sender.group_send_many
    monkeypatch.setattr(
        realtime.sender, "group_send_many", lambda messages: sends.append(messages) or real_send(messages)
    )

    assert await database_sync_to_async(engine.paper_batch_run)() == 2

    assert len(sends) == 1  # the whole batch: one hop to the channel layer, after its one commit
    assert len(sends[0]) == 2  # one channel-layer message per owner, carrying that owner's events in order
    for user_id, socket in sockets.items():
        trades, accounts = await trade_events_until_fill(socket)
        assert [m["event"] for m in trades] == ["new", "pending_new", "accepted", "fill"]
        assert {m["order"]["id"] for m in trades} == {str(orders[user_id].id)}  # each owner only their own
        assert trades[-1]["qty"] == decimal_string(orders[user_id].qty)
        assert [m["event"] for m in accounts if m["event"] == "fill"] == ["fill"]
        await socket.disconnect()


async def test_a_trade_update_reaches_the_socket_while_the_processs_sync_thread_is_busy():
    """Frames do not queue behind the process's one thread-sensitive thread (where the account stream loads its
    figures, and which a slow load can hold for seconds): the update arrives while that thread is still held."""
    import asyncio
    import threading

    from asgiref.sync import sync_to_async

    alice, _ = await trader_with_cash("alice@example.com")
    socket = await listen(alice)
    await message_types(socket)  # greeting and first figures
    release = threading.Event()
    held = asyncio.ensure_future(sync_to_async(release.wait, thread_sensitive=True)(10))
    try:
        await asyncio.to_thread(realtime.send_to_user_now, alice.pk, "trade_updates", {"event": "fill"})
        assert await socket.receive_json_from(timeout=5) == {"type": "trade_updates", "event": "fill"}
        assert not held.done()  # still holding the thread when the frame came
    finally:
        release.set()
        await held
    await socket.disconnect()
