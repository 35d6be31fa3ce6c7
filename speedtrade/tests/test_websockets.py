"""Authenticated WebSockets on the real channel layer (Redis in tests)."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction

from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from speedtrade.asgi import application
from speedtrade.consumers import CLOSE_UNAUTHENTICATED
from speedtrade.realtime import publish_to_user

# serialized_rollback restores the rows migrations created (staff groups) after the flush.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@database_sync_to_async
def make_user(email):
    return UserFactory(email=email)


@database_sync_to_async
def session_cookie_for(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@database_sync_to_async
def access_token_for(user):
    from rest_framework.test import APIClient

    response = APIClient().post(
        "/_allauth/app/v1/auth/login", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json"
    )
    return response.json()["meta"]["access_token"]


@database_sync_to_async
def publish_in_transaction(user, data):
    with transaction.atomic():
        publish_to_user(user.pk, "trade_updates", data)


async def connect(headers):
    communicator = WebsocketCommunicator(application, "/ws/trades", headers=headers)
    connected, code = await communicator.connect()
    return communicator, connected, code


async def test_anonymous_sockets_are_refused():
    communicator, connected, code = await connect([(b"origin", b"http://testserver")])
    assert not connected
    assert code == CLOSE_UNAUTHENTICATED


async def test_foreign_origins_are_refused():
    alice = await make_user("alice@example.com")
    cookie = await session_cookie_for(alice)
    communicator, connected, _ = await connect(
        [(b"origin", b"https://evil.example"), (b"cookie", f"sessionid={cookie}".encode())]
    )
    assert not connected


async def test_browser_session_cookie_authenticates_and_events_arrive_after_commit():
    alice = await make_user("alice@example.com")
    cookie = await session_cookie_for(alice)
    communicator, connected, _ = await connect(
        [(b"origin", b"http://testserver"), (b"cookie", f"sessionid={cookie}".encode())]
    )
    assert connected
    assert (await communicator.receive_json_from())["type"] == "subscribed"

    await publish_in_transaction(alice, {"event": "fill", "qty": "0.5"})
    assert await communicator.receive_json_from(timeout=2) == {"type": "trade_updates", "event": "fill", "qty": "0.5"}
    await communicator.disconnect()


async def test_bearer_token_authenticates_mobile_clients_and_users_only_see_their_own_events():
    alice, bob = await make_user("alice@example.com"), await make_user("bob@example.com")
    alice_ws, connected, _ = await connect([(b"authorization", f"Bearer {await access_token_for(alice)}".encode())])
    assert connected
    bob_ws, connected, _ = await connect([(b"authorization", f"Bearer {await access_token_for(bob)}".encode())])
    assert connected
    await alice_ws.receive_json_from()
    await bob_ws.receive_json_from()

    await publish_in_transaction(alice, {"event": "fill"})
    assert (await alice_ws.receive_json_from(timeout=2))["event"] == "fill"
    assert await bob_ws.receive_nothing(timeout=0.3)
    await alice_ws.disconnect()
    await bob_ws.disconnect()


async def test_rolled_back_changes_announce_nothing():
    alice = await make_user("alice@example.com")
    alice_ws, connected, _ = await connect([(b"authorization", f"Bearer {await access_token_for(alice)}".encode())])
    await alice_ws.receive_json_from()

    @database_sync_to_async
    def publish_then_roll_back():
        with pytest.raises(RuntimeError), transaction.atomic():
            publish_to_user(alice.pk, "trade_updates", {"event": "fill"})
            raise RuntimeError("order insert failed")

    await publish_then_roll_back()
    assert await alice_ws.receive_nothing(timeout=0.3)
    await alice_ws.disconnect()


async def test_invalid_token_is_refused():
    communicator, connected, code = await connect([(b"authorization", b"Bearer not-a-jwt")])
    assert not connected


async def test_bad_frames_get_an_error_and_the_socket_stays_open():
    alice = await make_user("alice@example.com")
    ws, _, _ = await connect([(b"authorization", f"Bearer {await access_token_for(alice)}".encode())])
    await ws.receive_json_from()
    await ws.send_to(text_data="{not json")
    assert (await ws.receive_json_from())["code"] == "bad_frame"
    await ws.send_to(text_data="[1, 2]")
    assert (await ws.receive_json_from())["code"] == "bad_frame"
    await ws.send_json_to({"action": "launch_rockets"})
    assert (await ws.receive_json_from())["code"] == "unknown_action"
    await ws.send_json_to({"action": "ping"})
    assert await ws.receive_json_from() == {"type": "pong"}
    await ws.disconnect()
