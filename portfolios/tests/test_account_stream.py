"""Live account figures on `/ws/trades`, through the real channel layer (Redis): pushed on the ticks of
held symbols (at most once per ACCOUNT_STREAM_MIN_INTERVAL_SECONDS, no query per tick) and after fills."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from accounts.tests.factories import UserFactory, approved_customer
from marketdata.publishing import publish_quotes
from marketdata.quotes import Quote, store_quotes
from portfolios import selectors
from portfolios.services import deposit_settled_post, fill_apply
from portfolios.tests.factories import AssetFactory
from speedtrade.asgi import application
from trading.risk import OrderRequest
from trading.services import order_place

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
D = Decimal


def tick(symbol, last) -> Quote:
    return Quote(
        symbol=symbol,
        bid=D(last),
        ask=D(last),
        bid_size=D(100),
        ask_size=D(100),
        last=D(last),
        timestamp=datetime.now(UTC),
    )


@database_sync_to_async
def trader(email, *, acme_shares=0):
    """A customer with $1,000, and `acme_shares` ACME bought at $10 (ACME quoted at $10)."""
    user = UserFactory(email=email)
    account = approved_customer(user)
    deposit_settled_post(account=account, amount=D("1000.00"))
    acme = AssetFactory(symbol="ACME", reference_price=D("10.00"))
    store_quotes([tick("ACME", "10.00")])
    if acme_shares:
        fill_apply(
            account=account,
            asset=acme,
            side="buy",
            qty=D(acme_shares),
            price=D("10.00"),
            fee=D(0),
            executed_at=timezone.now(),
            cause=None,
        )
    from django.test import Client

    client = Client()
    client.force_login(user)
    return account, client.cookies["sessionid"].value


async def connect(cookie):
    headers = [(b"cookie", f"sessionid={cookie}".encode()), (b"origin", b"http://testserver")]
    communicator = WebsocketCommunicator(application, "/ws/trades", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from())["type"] == "subscribed"
    return communicator


async def next_account(communicator, timeout=5) -> dict:
    while True:
        message = await communicator.receive_json_from(timeout=timeout)
        if message["type"] == "account":
            return message


def figures(message) -> tuple:
    return message["equity"], message["cash"], message["long_market_value"], message["buying_power"]


@pytest.fixture
def load_counter(monkeypatch):
    """Counts how often a socket loads its valuation inputs from the database (the real function runs)."""
    calls = []
    real = selectors.valuation_inputs

    def counted(**kwargs):
        calls.append(kwargs["account"].pk)
        return real(**kwargs)

    monkeypatch.setattr(selectors, "valuation_inputs", counted)
    return calls


async def test_ticks_of_held_symbols_revalue_the_account_without_a_query_per_tick(load_counter, settings):
    settings.ACCOUNT_STREAM_MIN_INTERVAL_SECONDS = 3  # wide enough that the burst below lands in one window
    account, cookie = await trader("alice@example.com", acme_shares=10)
    socket = await connect(cookie)
    first = await next_account(socket)
    assert figures(first) == ("1000.00", "900.00", "100.00", "900.00")
    assert first["id"] == str(account.pk) and first["daily_pl"] == "0.00"
    assert load_counter == [account.pk]

    # A burst of ticks inside one throttle window: one message, priced at the newest tick.
    await publish_quotes([tick("ACME", "11.00")])
    await publish_quotes([tick("ACME", "11.50")])
    await publish_quotes([tick("ACME", "12.00")])
    update = await next_account(socket)
    assert figures(update) == ("1020.00", "900.00", "120.00", "900.00")
    assert update["daily_pl"] == "20.00" and update["unrealized_pl"] == "20.00"
    assert await socket.receive_nothing(timeout=0.5)
    assert load_counter == [account.pk]  # the ticks were priced from memory
    await socket.disconnect()


async def test_ticks_reach_only_users_holding_the_symbol(load_counter):
    _, alice_cookie = await trader("alice@example.com", acme_shares=10)
    _, bob_cookie = await trader("bob@example.com")
    alice, bob = await connect(alice_cookie), await connect(bob_cookie)
    await next_account(alice)
    assert figures(await next_account(bob)) == ("1000.00", "1000.00", "0", "1000.00")

    await publish_quotes([tick("ACME", "9.00")])
    assert figures(await next_account(alice)) == ("990.00", "900.00", "90.00", "900.00")
    assert await bob.receive_nothing(timeout=0.5)
    await alice.disconnect()
    await bob.disconnect()


@database_sync_to_async
def buy_one_bitcoin(account):
    AssetFactory(crypto=True, reference_price=D("50.00"))
    store_quotes([tick("BTC/USD", "50.00")])
    order_place(  # autocommit: the paper venue fills it right after this commit
        account=account,
        request=OrderRequest(symbol="BTC/USD", side="buy", type="market", time_in_force="gtc", qty=D("1")),
    )


async def test_a_fill_pushes_the_new_figures_and_its_symbol_is_followed(load_counter):
    account, cookie = await trader("alice@example.com")
    socket = await connect(cookie)
    assert figures(await next_account(socket)) == ("1000.00", "1000.00", "0", "1000.00")

    await buy_one_bitcoin(account)
    message = await next_account(socket)
    while message["long_market_value"] != "50.00":  # the reservation may show before the fill
        message = await next_account(socket)
    assert figures(message) == ("1000.00", "950.00", "50.00", "950.00")

    await publish_quotes([tick("BTC/USD", "60.00")])
    assert figures(await next_account(socket)) == ("1010.00", "950.00", "60.00", "950.00")
    await socket.disconnect()
