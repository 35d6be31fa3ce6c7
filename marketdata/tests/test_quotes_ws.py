"""`/ws/quotes` over the real channel layer (Redis): subscribe, snapshot, conflated updates, refusals."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.tests.factories import UserFactory
from marketdata.publishing import publish_quotes
from marketdata.quotes import Quote, store_quotes
from marketdata.tests.factories import AssetFactory, CryptoAssetFactory
from speedtrade.asgi import application
from speedtrade.consumers import CLOSE_UNAUTHENTICATED

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
D = Decimal


def quote(symbol, last):
    return Quote(
        symbol=symbol,
        bid=D(last) - 1,
        ask=D(last) + 1,
        bid_size=D(1),
        ask_size=D(2),
        last=D(last),
        timestamp=datetime.now(UTC),
    )


@database_sync_to_async
def universe():
    AssetFactory(symbol="F", reference_price=D("10.52"))
    CryptoAssetFactory()
    user = UserFactory(email="alice@example.com")
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def connect(cookie=None):
    headers = [(b"origin", b"http://testserver")]
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    communicator = WebsocketCommunicator(application, "/ws/quotes", headers=headers)
    connected, code = await communicator.connect()
    return communicator, connected, code


@pytest.fixture
async def alice_socket():
    cookie = await universe()
    communicator, connected, _ = await connect(cookie)
    assert connected
    yield communicator
    await communicator.disconnect()


async def test_anonymous_clients_are_refused():
    _, connected, code = await connect()
    assert not connected
    assert code == CLOSE_UNAUTHENTICATED


async def test_subscribe_sends_a_snapshot_then_conflated_updates_as_arrays(alice_socket, settings):
    settings.QUOTES_WS_FLUSH_SECONDS = 0.5  # the window the ticks below fall into, however slow the machine
    store_quotes([quote("F", "10.50")])
    await alice_socket.send_json_to({"action": "subscribe", "symbols": ["F", "BTCUSD"]})
    assert await alice_socket.receive_json_from() == {"type": "subscribed", "symbols": ["BTC/USD", "F"]}
    snapshots = await alice_socket.receive_json_from()
    assert [(s["type"], s["symbol"], s["last"]) for s in snapshots] == [
        ("snapshot", "BTC/USD", None),
        ("snapshot", "F", "10.50"),
    ]

    # The first tick after a quiet window goes out at once; the ticks after it within the window (two more of F
    # and one of BTC) arrive as ONE frame with the newest of each.
    await publish_quotes([quote("F", "10.51")])
    assert [message["last"] for message in await alice_socket.receive_json_from(timeout=2)] == ["10.51"]
    await publish_quotes([quote("F", "10.52"), quote("BTC/USD", "65001")])
    await publish_quotes([quote("F", "10.53")])
    frame = await alice_socket.receive_json_from(timeout=2)
    assert isinstance(frame, list)
    assert sorted((message["type"], message["symbol"], message["last"]) for message in frame) == [
        ("quote", "BTC/USD", "65001"),
        ("quote", "F", "10.53"),
    ]
    assert frame[0]["stale"] is False
    assert await alice_socket.receive_nothing(timeout=0.2)


async def test_unsubscribed_symbols_stop_updating(alice_socket):
    await alice_socket.send_json_to({"action": "subscribe", "symbols": ["F", "BTC/USD"]})
    await alice_socket.receive_json_from()
    await alice_socket.receive_json_from()
    await alice_socket.send_json_to({"action": "unsubscribe", "symbols": ["F"]})
    assert await alice_socket.receive_json_from() == {"type": "subscribed", "symbols": ["BTC/USD"]}
    await publish_quotes([quote("F", "10.60"), quote("BTC/USD", "65002")])
    frame = await alice_socket.receive_json_from(timeout=2)
    assert [message["symbol"] for message in frame] == ["BTC/USD"]


async def test_unknown_symbols_get_an_error_and_the_known_ones_still_subscribe(alice_socket):
    await alice_socket.send_json_to({"action": "subscribe", "symbols": ["F", "NOPE"]})
    error = await alice_socket.receive_json_from()
    assert error["type"] == "error" and error["code"] == "unknown_symbol" and "NOPE" in error["message"]
    assert await alice_socket.receive_json_from() == {"type": "subscribed", "symbols": ["F"]}


async def test_the_per_connection_symbol_limit_is_enforced(alice_socket, settings):
    settings.QUOTES_WS_MAX_SYMBOLS = 1
    await alice_socket.send_json_to({"action": "subscribe", "symbols": ["F"]})
    await alice_socket.receive_json_from()
    await alice_socket.receive_json_from()
    await alice_socket.send_json_to({"action": "subscribe", "symbols": ["BTC/USD"]})
    error = await alice_socket.receive_json_from()
    assert (error["type"], error["code"]) == ("error", "symbol_limit")
    await alice_socket.send_json_to({"action": "subscribe", "symbols": ["F", "BTC/USD"]})
    assert (await alice_socket.receive_json_from())["code"] == "symbol_limit"
    # Still open, still subscribed to F only.
    await alice_socket.send_json_to({"action": "ping"})
    assert await alice_socket.receive_json_from() == {"type": "pong"}


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "bad_frame"),
        ('["subscribe"]', "bad_frame"),
        ('{"action": "subscribe"}', "bad_frame"),
        ('{"action": "subscribe", "symbols": "F"}', "bad_frame"),
        ('{"action": "subscribe", "symbols": [1, 2]}', "bad_frame"),
        ('{"action": "subscribe", "symbols": []}', "bad_frame"),
        ('{"action": "teleport"}', "unknown_action"),
    ],
)
async def test_bad_frames_get_an_error_and_the_connection_stays_open(alice_socket, frame, code):
    await alice_socket.send_to(text_data=frame)
    error = await alice_socket.receive_json_from()
    assert (error["type"], error["code"]) == ("error", code)
    await alice_socket.send_json_to({"action": "ping"})
    assert await alice_socket.receive_json_from() == {"type": "pong"}
