"""A new notification reaches the owner's /ws/trades socket after commit, with the unread count — and only hers."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.tests.factories import UserFactory
from notifications.services import notification_record
from speedtrade.asgi import application

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
def deposit_settled(user):
    notification_record(user_id=user.pk, kind="deposit_settled", event_key="t:1", context={"amount": "$50.00"})


async def listen(user):
    cookie = await session_cookie_for(user)
    communicator = WebsocketCommunicator(
        application,
        "/ws/trades",
        headers=[(b"origin", b"http://testserver"), (b"cookie", f"sessionid={cookie}".encode())],
    )
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def first_of_type(communicator, wanted):
    while True:
        message = await communicator.receive_json_from(timeout=3)
        if message["type"] == wanted:
            return message


async def test_the_notification_is_pushed_live_with_the_unread_count():
    alice, bob = await make_user("alice@example.com"), await make_user("bob@example.com")
    alice_socket, bob_socket = await listen(alice), await listen(bob)
    subscribed = await first_of_type(alice_socket, "subscribed")
    assert "notifications" in subscribed["streams"]

    await deposit_settled(alice)

    message = await first_of_type(alice_socket, "notifications")
    assert message["event"] == "created" and message["unread_count"] == 1
    assert message["notification"]["title"] == "Deposit settled"
    assert message["notification"]["body"] == "Your deposit of $50.00 has arrived."
    bob_types = []
    while not await bob_socket.receive_nothing(timeout=0.5):
        bob_types.append((await bob_socket.receive_json_from())["type"])
    assert "notifications" not in bob_types
    await alice_socket.disconnect()
    await bob_socket.disconnect()
