"""The owner's `/ws/trades` socket receives trade updates after commit, through the real channel layer (Redis)."""

from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.tests.factories import UserFactory, approved_customer
from portfolios.services import deposit_settled_post
from portfolios.tests.factories import AssetFactory
from speedtrade.asgi import application
from trading.risk import OrderRequest
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
