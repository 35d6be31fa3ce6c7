"""Sockets end with what authenticated them, and every socket has limits (issue 16, item 14).

A logout closes the sockets of that session (cookie or access token); revoking an API key closes
the streams it opened; a password change or reset or an MFA change closes all of the user's
sockets. A user holds at most WS_MAX_SOCKETS_PER_USER sockets (per process); frames above
WS_MAX_FRAME_BYTES and more than WS_MAX_MESSAGES_PER_SECOND frames a second close the socket.
"""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from accounts import services
from accounts.models import ApiKey
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from speedtrade.asgi import application
from speedtrade.consumers import (
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_POLICY_VIOLATION,
    CLOSE_TOO_MANY_SOCKETS,
    CLOSE_UNAUTHENTICATED,
)

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
BROWSER = (b"origin", b"http://testserver")


@database_sync_to_async
def alice_logged_in() -> tuple:
    alice = UserFactory(email="alice@example.com")
    browser = Client()
    browser.force_login(alice)
    return alice, browser


def cookie_of(browser: Client) -> tuple:
    return (b"cookie", f"sessionid={browser.cookies['sessionid'].value}".encode())


async def open_trades_socket(*headers):
    socket = WebsocketCommunicator(application, "/ws/trades", headers=list(headers))
    connected, code = await socket.connect()
    assert connected, code
    assert (await socket.receive_json_from(timeout=2))["type"] == "subscribed"
    return socket


async def closed_with(socket) -> int:
    output = await socket.receive_output(timeout=3)
    while output["type"] != "websocket.close":
        output = await socket.receive_output(timeout=3)
    return output["code"]


async def test_logging_out_closes_that_sessions_sockets_and_no_other():
    alice, laptop = await alice_logged_in()
    phone = Client()
    await database_sync_to_async(phone.force_login)(alice)
    laptop_socket = await open_trades_socket(BROWSER, cookie_of(laptop))
    phone_socket = await open_trades_socket(BROWSER, cookie_of(phone))

    await database_sync_to_async(laptop.logout)()

    assert await closed_with(laptop_socket) == CLOSE_UNAUTHENTICATED
    await phone_socket.send_json_to({"action": "ping"})
    assert await phone_socket.receive_json_from(timeout=2) == {"type": "pong"}
    await phone_socket.disconnect()


async def test_logging_out_a_mobile_token_closes_its_socket():
    await database_sync_to_async(UserFactory)(email="alice@example.com")

    @database_sync_to_async
    def log_in_then_out_later():
        from rest_framework.test import APIClient

        app = APIClient()
        login = app.post(
            "/_allauth/app/v1/auth/login", {"email": "alice@example.com", "password": DEFAULT_PASSWORD}, format="json"
        )
        return app, login.json()["meta"]["access_token"]

    app, token = await log_in_then_out_later()
    socket = await open_trades_socket((b"authorization", f"Bearer {token}".encode()))

    logout = await database_sync_to_async(app.delete)(
        "/_allauth/app/v1/auth/session", HTTP_AUTHORIZATION=f"Bearer {token}"
    )

    assert logout.status_code == 401  # allauth's answer to a successful logout
    assert await closed_with(socket) == CLOSE_UNAUTHENTICATED


async def test_revoking_a_key_closes_the_data_stream_it_opened():
    alice, _ = await alice_logged_in()
    key, secret = await database_sync_to_async(services.api_key_create)(user=alice, scope=ApiKey.Scope.READ_ONLY)
    stream = WebsocketCommunicator(application, "/v2/iex")
    assert (await stream.connect())[0]
    await stream.receive_from(timeout=2)  # connected
    await stream.send_json_to({"action": "auth", "key": key.key_id, "secret": secret})
    assert "authenticated" in await stream.receive_from(timeout=2)

    await database_sync_to_async(services.api_key_revoke)(user=alice, key_id=key.key_id)

    assert await closed_with(stream) == CLOSE_UNAUTHENTICATED


async def test_a_password_change_closes_every_socket_of_the_user():
    alice, browser = await alice_logged_in()
    socket = await open_trades_socket(BROWSER, cookie_of(browser))

    changed = await database_sync_to_async(browser.post)(
        "/accounts/password/change/",
        {
            "oldpassword": DEFAULT_PASSWORD,
            "password1": "a-brand-new-passphrase-42",
            "password2": "a-brand-new-passphrase-42",
        },
    )

    assert changed.status_code == 302
    assert await closed_with(socket) == CLOSE_UNAUTHENTICATED


async def test_a_user_holds_a_limited_number_of_sockets(settings):
    settings.WS_MAX_SOCKETS_PER_USER = 2
    _, browser = await alice_logged_in()
    first = await open_trades_socket(BROWSER, cookie_of(browser))
    second = await open_trades_socket(BROWSER, cookie_of(browser))

    third = WebsocketCommunicator(application, "/ws/quotes", headers=[BROWSER, cookie_of(browser)])
    await third.connect()
    assert await closed_with(third) == CLOSE_TOO_MANY_SOCKETS

    await first.disconnect()
    fourth = await open_trades_socket(BROWSER, cookie_of(browser))  # a place was freed
    await second.disconnect()
    await fourth.disconnect()


async def test_an_oversized_frame_closes_the_socket(settings):
    settings.WS_MAX_FRAME_BYTES = 1024
    _, browser = await alice_logged_in()
    socket = await open_trades_socket(BROWSER, cookie_of(browser))

    await socket.send_to(text_data='{"action": "ping", "padding": "' + "x" * 2000 + '"}')

    assert await closed_with(socket) == CLOSE_MESSAGE_TOO_BIG


async def test_a_client_flooding_frames_is_closed(settings):
    settings.WS_MAX_MESSAGES_PER_SECOND = 5
    _, browser = await alice_logged_in()
    socket = await open_trades_socket(BROWSER, cookie_of(browser))

    for _ in range(5):
        await socket.send_json_to({"action": "ping"})
        assert await socket.receive_json_from(timeout=2) == {"type": "pong"}
    await socket.send_json_to({"action": "ping"})

    assert await closed_with(socket) == CLOSE_POLICY_VIOLATION
