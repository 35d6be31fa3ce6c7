"""Live account figures on `/ws/trades`, through the real channel layer (Redis): pushed on the ticks of
held symbols (at most once per ACCOUNT_STREAM_MIN_INTERVAL_SECONDS, no query per tick) and after fills.
Ticks arrive through the process's quote hub, the one `/ws/quotes` uses; the feed sends no per-symbol messages."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from accounts.tests.factories import UserFactory, approved_customer
from marketdata.fanout import quote_hub
from marketdata.models import Asset
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


def trade_acme(account, side, shares):
    """A fill of `shares` ACME at $10, no fee."""
    fill_apply(
        account=account,
        asset=Asset.objects.get(symbol="ACME"),
        side=side,
        qty=D(shares),
        price=D("10.00"),
        fee=D(0),
        executed_at=timezone.now(),
        cause=None,
    )


@database_sync_to_async
def trader(email, *, acme_shares=0):
    """A customer with $1,000, and `acme_shares` ACME bought at $10 (ACME quoted at $10)."""
    user = UserFactory(email=email)
    account = approved_customer(user)
    deposit_settled_post(account=account, amount=D("1000.00"))
    AssetFactory(symbol="ACME", reference_price=D("10.00"))
    store_quotes([tick("ACME", "10.00")])
    if acme_shares:
        trade_acme(account, "buy", acme_shares)
    from django.test import Client

    client = Client()
    client.force_login(user)
    return account, client.cookies["sessionid"].value


def session_headers(cookie) -> list[tuple[bytes, bytes]]:
    return [(b"cookie", f"sessionid={cookie}".encode()), (b"origin", b"http://testserver")]


async def connect(cookie):
    communicator = WebsocketCommunicator(application, "/ws/trades", headers=session_headers(cookie))
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


async def test_a_closed_position_stops_following_its_symbol():
    account, cookie = await trader("alice@example.com", acme_shares=10)
    socket = await connect(cookie)
    await next_account(socket)

    await database_sync_to_async(trade_acme)(account, "sell", 10)  # all of it
    assert figures(await next_account(socket)) == ("1000.00", "1000.00", "0", "1000.00")
    assert "ACME" not in quote_hub().subscribers  # dropped from this process's hub, no group round trip

    await publish_quotes([tick("ACME", "20.00")])
    assert await socket.receive_nothing(timeout=0.5)
    await socket.disconnect()


async def test_the_feed_sends_no_per_symbol_quote_messages_yet_the_figures_follow_ticks():
    _, cookie = await trader("alice@example.com", acme_shares=10)
    socket = await connect(cookie)
    await next_account(socket)
    layer = get_channel_layer()
    eavesdropper = await layer.new_channel()
    await layer.group_add("quotes.ACME", eavesdropper)  # the per-symbol group the feed used to send each tick to

    await publish_quotes([tick("ACME", "11.00")])
    assert figures(await next_account(socket)) == ("1010.00", "900.00", "110.00", "900.00")

    # Sent after the feed's batch: had the feed sent anything to the group, that would come out first.
    await layer.group_send("quotes.ACME", {"type": "marker"})
    assert await layer.receive(eavesdropper) == {"type": "marker"}
    await layer.group_discard("quotes.ACME", eavesdropper)
    await socket.disconnect()


async def test_one_hub_tick_reaches_a_quotes_socket_and_an_account_socket_of_the_same_process():
    _, cookie = await trader("alice@example.com", acme_shares=10)
    account_socket = await connect(cookie)
    await next_account(account_socket)
    quotes_socket = WebsocketCommunicator(application, "/ws/quotes", headers=session_headers(cookie))
    assert (await quotes_socket.connect())[0]
    await quotes_socket.send_json_to({"action": "subscribe", "symbols": ["ACME"]})
    assert await quotes_socket.receive_json_from() == {"type": "subscribed", "symbols": ["ACME"]}
    await quotes_socket.receive_json_from()  # the snapshot
    hub = quote_hub()
    assert len(hub.subscribers["ACME"]) == 2  # both sockets follow ACME through this process's one hub

    await publish_quotes([tick("ACME", "12.00")])  # one broadcast message for the batch
    [quote] = await quotes_socket.receive_json_from(timeout=2)
    assert (quote["type"], quote["symbol"], quote["last"]) == ("quote", "ACME", "12.00")
    assert figures(await next_account(account_socket)) == ("1020.00", "900.00", "120.00", "900.00")

    await quotes_socket.disconnect()
    await account_socket.disconnect()
    assert "ACME" not in hub.subscribers  # closed sockets leave nothing behind in the hub
